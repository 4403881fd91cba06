"""Property-based tests: the session loader, the transcript reader and export escaping never break."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import SessionError, TranscriptError
from psmlab.core.session import file as store
from psmlab.core.session.export import md_inline, to_markdown
from psmlab.core.session.md_text import md_plain
from psmlab.core.session.schema import Annotation, GenerationRecord, Session, TurnRecord
from tests.markdown_tools import outside_fences

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
SESSION_KEYS = [
    "schema_version",
    "title",
    "turns",
    "models",
    "generations",
    "annotations",
    "id",
    "created",
    "updated",
    "auto_labels",
    "nodes",
    "head",
    "forced",
    "column_orders",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_session_loader_on_arbitrary_bytes(raw: bytes) -> None:
    try:
        store.parse(raw, "fuzz.json")
    except SessionError as exc:
        assert "fuzz.json" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(SESSION_KEYS), json_values, max_size=8))
def test_session_loader_on_arbitrary_documents(doc: dict) -> None:
    try:
        s = store.parse(json.dumps(doc).encode(), "fuzz.json")
    except SessionError as exc:
        assert "fuzz.json" in str(exc)
    else:
        assert isinstance(s, Session)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_transcript_reader_on_arbitrary_json(data: object) -> None:
    try:
        tr = Transcript.from_messages(data)
    except TranscriptError:
        return
    assert all(t.role in ("system", "user", "assistant") for t in tr.turns)
    assert Transcript.from_messages(tr.to_messages()) == tr


# Pieces that break documents and terminals, glued together in any order.
PIECES = [*"ab #*_`|<>&[]()!-\n\r\t\x1b\x07\x9b~\\=", "```", "<script>", "\n# ", "\n---\n"]
nasty = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=nasty, note=nasty, label=nasty, title=nasty)
def test_export_escapes_any_model_text(text: str, note: str, label: str, title: str) -> None:
    s = Session(title=title or "t", turns=[TurnRecord(role="user", content=text)])
    s.generations.append(
        GenerationRecord(
            id="g-1",
            model="m",
            turn=1,
            node=s.head,
            sample=0,
            seed=1,
            format="dialogue",
            params={},
            text=text,
            n_tokens=1,
            finish_reason="eos",
            role_leak=False,
        )
    )
    s.annotations.append(
        Annotation(generation_id="g-1", labels=[label] if label else [], note=note or None)
    )
    md = to_markdown(s)
    assert "\x1b" not in md and "\x07" not in md and "\x9b" not in md
    visible = outside_fences(md)
    headings = [ln for ln in visible if ln.startswith("#")]
    # Exactly the document's own headings: title, Models, the branch, one turn, its run, one
    # generation, the summary.
    assert len(headings) == 7, headings
    assert not any("<script>" in ln for ln in visible)


@given(st.text())
def test_terminal_safe_leaves_no_control_characters(text: str) -> None:
    out = terminal_safe(text)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out)


@given(st.text())
def test_md_inline_is_one_line_without_raw_html(text: str) -> None:
    out = md_inline(text)
    assert "\n" not in out and "<" not in out and ">" not in out


@given(st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1))
def test_md_plain_reads_md_inline_back(text: str) -> None:
    """A report's title quoted in a terminal message reads as it was written, not escaped."""
    assert md_plain(md_inline(text)) == text
