"""Exports: markdown checked against a golden file; model text can never break the document."""

import csv
import io
import json
from pathlib import Path

from psmlab.core.session import file as store
from psmlab.core.session.export import export, md_block, md_inline
from tests.markdown_tools import outside_fences

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _session():
    return store.load(GOLDEN / "session.json")


def test_markdown_matches_golden_file() -> None:
    # To update after an intended change: regenerate tests/golden/session.md and review the diff.
    assert export(_session(), "md") == (GOLDEN / "session.md").read_text()


def test_csv_matches_golden_file_and_defuses_formulas() -> None:
    text = export(_session(), "csv")
    assert text == (GOLDEN / "session.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and rows[2]["annotator"].startswith("'=")
    assert (
        rows[0]["evidence_text"] == "I am a human." and rows[1]["labels"] == "void;my *own* label"
    )


def test_jsonl_has_one_generation_per_line_with_its_annotations() -> None:
    lines = export(_session(), "jsonl").splitlines()
    gens = [json.loads(x) for x in lines]
    assert [g["id"] for g in gens] == ["g-000000000001", "g-000000000002"]
    assert [len(g["annotations"]) for g in gens] == [2, 1]


def test_model_text_cannot_add_headings_html_or_escapes() -> None:
    md = export(_session(), "md")
    visible = outside_fences(md)
    headings = [x for x in visible if x.startswith("#")]
    assert headings == [
        "# Golden \\| &lt;b&gt;export&lt;/b&gt; # test",
        "## Models",
        "## Turn 1: System",
        "## Turn 2: User",
        "### base-model · sample 0 · seed 7",
        "### chat\\|model · sample 0 · seed 7 · adopted",
        "## Turn 3: Assistant (adopted from chat\\|model, generation `g-000000000002`)",
        "## Labels per model",
    ]
    assert "<script>" not in "\n".join(visible) and "\x1b" not in md


def test_escaping_helpers() -> None:
    assert md_inline("a|b\n<x>") == "a\\|b ⏎ &lt;x&gt;"
    block = md_block("x\n````\ny")
    assert block.startswith("`````text\n") and block.endswith("\n`````")
