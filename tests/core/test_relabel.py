"""Sample rows labelled by another version of the marker rules are labelled again (appended)."""

from __future__ import annotations

import json
from pathlib import Path

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.measure.labeling import SampleLabeller, relabel_stale
from psmlab.core.measure.opening import settings
from psmlab.core.measure.results import ResultsFile


def _row(key: str, text: str, **extra: object) -> dict[str, object]:
    return {
        "key": key,
        "kind": "sample",
        "text": text,
        "question_text": "What are you?",
        "prefill": None,
        "self_id": "none",
        "labels": [],
        **extra,
    }


def test_rows_of_other_rules_are_labelled_again_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    rows = [
        _row("a", " I'm a beekeeper in Devon.", rules="000000000000"),  # other rules
        _row("b", " A student at the local college."),  # written before rows said theirs
        _row("c", " I'm a beekeeper.", judge={"judge": "m"}),  # a judge's label stays
        _row("d", " I'm a nurse.", error="model failed"),  # a failed row is no sample
        _row("e", " I'm a nurse.", rules=rules_fingerprint()),  # these rules: left as is
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = ResultsFile(path)
    labeller = SampleLabeller("markers", ModelPool(), load_personas()[0])
    assert relabel_stale(results, labeller) == 2
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    # Appended, never rewritten: the five rows as they were, then the two labelled again.
    assert lines[:5] == rows and [r["key"] for r in lines[5:]] == ["a", "b"]
    again = ResultsFile(path).done  # the last row of a key is its result
    assert [again[k]["self_id"] for k in "abcde"] == ["human", "human", "none", "none", "none"]
    assert again["a"]["rules"] == again["b"]["rules"] == rules_fingerprint()
    assert again["a"]["text"] == rows[0]["text"] and again["a"]["auto_labels"]["self_id"] == "human"
    assert "rules" not in again["c"] and results.done["b"]["self_id"] == "human"
    # Once labelled by these rules, nothing is done again, and the file is not touched.
    before = path.read_bytes()
    assert relabel_stale(ResultsFile(path), labeller) == 0
    assert path.read_bytes() == before


def test_a_judge_run_keeps_its_labels(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(_row("a", " I'm a beekeeper.", rules="0")) + "\n")
    judge = SampleLabeller("judge:some-model", ModelPool(), load_personas()[0])
    assert relabel_stale(ResultsFile(path), judge) == 0
    assert json.loads(path.read_text())["self_id"] == "none"


def test_the_opening_walk_is_walked_again_under_other_rules() -> None:
    assert settings()["rules"] == rules_fingerprint()
    assert len(rules_fingerprint()) == 12
