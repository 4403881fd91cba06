"""Transcripts read and write OpenAI-style messages and reject bad files clearly."""

import json
from pathlib import Path

import pytest

from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import TranscriptError


def test_messages_round_trip(tmp_path: Path) -> None:
    msgs = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What are you?"},
        {"role": "assistant", "content": "A program."},
    ]
    p = tmp_path / "t.json"
    p.write_text(json.dumps(msgs))
    tr = Transcript.load(p)
    assert tr.to_messages() == msgs and tr.system == "Be brief."
    tr.dump(tmp_path / "u.json")
    assert json.loads((tmp_path / "u.json").read_text()) == msgs


def test_accepts_openai_content_parts_and_messages_key() -> None:
    tr = Transcript.from_messages(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    )
    assert tr.to_messages() == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"role": "user"}', "not a list"),
        # Messages are counted from 1, as a person counts them (the first was "message 0").
        ('[{"role": "wizard", "content": "x"}]', "message 1 has role 'wizard'"),
        ('[{"role": "user", "content": "a"}, {"role": "user"}]', "message 2 has no text content"),
        ('["hello"]', "message 1 is not an object"),
    ],
)
def test_bad_transcripts_name_the_problem(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(TranscriptError, match=needle):
        Transcript.load(p)


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    p = tmp_path / "t.json"
    p.write_bytes(b'[{"role": "user", "content": "\xff"}]')
    with pytest.raises(TranscriptError, match="not UTF-8"):
        Transcript.load(p)
    with pytest.raises(TranscriptError, match="not found"):
        Transcript.load(tmp_path / "nope.json")


def test_with_system_replaces_or_removes() -> None:
    tr = Transcript.of(("system", "A"), ("user", "hi"))
    assert tr.with_system("B").system == "B"
    assert tr.with_system("").system is None
    assert tr.with_system(None) is tr
