"""Sample rows labelled by another version of the marker rules are labelled again (appended)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
    judge = SampleLabeller("judge:smollm2-135m-instruct", ModelPool(), load_personas()[0])
    assert relabel_stale(ResultsFile(path), judge) == 0
    assert json.loads(path.read_text())["self_id"] == "none"


def test_an_unknown_judge_is_refused_by_the_name_it_was_given_as() -> None:
    """`labeller = "judge:nosuch"` stopped a run at its first sample with "unknown model
    'nosuch'", not saying where the name came from."""
    from psmlab.core.errors import ModelError
    from psmlab.core.measure.experiment_spec import ExperimentSpec
    from psmlab.core.measure.plan import plan

    with pytest.raises(ModelError, match=r"^labeller 'judge:nosuch': unknown model") as got:
        SampleLabeller("judge:nosuch", ModelPool(), load_personas()[0])
    assert got.value.fix  # the registry's fix (psmlab models lists them) comes with it
    # And where `psmlab experiment` meets it first, planning the run (its class, so its exit
    # code, kept: an unknown model is a model error).
    spec = ExperimentSpec.model_validate(
        {"title": "t", "models": ["gemma-3-270m"], "labeller": "judge:nosuch"}
    )
    with pytest.raises(ModelError, match=r"^labeller 'judge:nosuch': unknown model"):
        plan(spec, Path("."))


def test_the_opening_walk_is_walked_again_under_other_rules() -> None:
    assert settings()["rules"] == rules_fingerprint()
    assert len(rules_fingerprint()) == 12


EXAMPLE = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"


def _stale_example() -> dict:
    """The shipped example as it was saved before labels recorded their rules (the fifth round
    read "I'm an assistant at a restaurant, not a food delivery company." as `none`)."""
    doc = json.loads(EXAMPLE.read_text())
    for a in doc["auto_labels"]:
        a.pop("rules", None)
        gen = next(g for g in doc["generations"] if g["id"] == a["generation_id"])
        if "assistant at a restaurant" in gen["text"]:
            a["self_id"], a["self_id_hits"] = "none", []
    return doc


def test_a_sessions_labels_of_other_rules_are_read_again_on_load(tmp_path: Path) -> None:
    """The shipped example as it was before labels recorded their rules: loading reads them
    again as a run today would, keeps a judge's, and saving keeps the new ones."""
    from psmlab.core.run.lab import Lab
    from psmlab.core.session import disk
    from psmlab.core.session import file as store
    from psmlab.core.session.relabel import relabel_note

    doc = _stale_example()
    labels = doc["auto_labels"]
    restaurant = next(
        g["id"] for g in doc["generations"] if "assistant at a restaurant" in g["text"]
    )
    judged = next(a for a in labels if a["generation_id"] != restaurant)
    judged.update(method="judge:somemodel", self_id="mixed")  # a judge's label is the judge's
    copy = tmp_path / "example.json"
    copy.write_text(json.dumps(doc))

    session = store.load(copy)
    assert session.relabelled == len(labels) - 1
    now = {a.generation_id: a for a in session.auto_labels}
    assert now[restaurant].self_id == "human"  # "I'm an assistant at a restaurant" (round 6)
    assert now[restaurant].rules == rules_fingerprint()
    assert any(h.start >= 0 for h in now[restaurant].self_id_hits)
    assert now[judged["generation_id"]].self_id == "mixed"
    assert now[judged["generation_id"]].rules is None
    note = relabel_note(session, saved=False)
    assert note is not None and f"{len(labels)} automatic labels" not in note
    assert f"{len(labels) - 1} automatic labels" in note and "the file is unchanged" in note

    # Saved, they are today's: loading again reads nothing again and says nothing.
    disk.atomic_write(copy, store.dumps(session))
    again = store.load(copy)
    assert again.relabelled == 0 and relabel_note(again, saved=True) is None
    assert {a.generation_id: a.self_id for a in again.auto_labels}[restaurant] == "human"

    # Other rules recorded in the file: read again, and the lab says so when it opens.
    doc = json.loads(copy.read_text())
    for a in doc["auto_labels"]:
        if a.get("rules"):
            a["rules"] = "000000000000"
    copy.write_text(json.dumps(doc))
    lab = Lab.open(copy)
    try:
        assert lab.session.relabelled == len(labels) - 1
        assert any("kept when the session is next saved" in w for w in lab.warnings)
    finally:
        lab.release()


def test_commands_say_when_they_read_labels_again(tmp_path: Path) -> None:
    """export and agreement only read (the file stays as it was); tree --go saves, and says so."""
    from psmlab.core.session import file as store
    from tests.conftest import run_cli

    copy = tmp_path / "example.json"
    copy.write_text(json.dumps(_stale_example()))
    before = copy.read_bytes()
    n = len(json.loads(before)["auto_labels"])
    export = run_cli("export", str(copy))
    assert export.returncode == 0, export.stderr
    assert f"{n} automatic labels made by other (or unrecorded)" in export.stderr
    assert "the file is unchanged" in export.stderr and copy.read_bytes() == before
    assert "self-id **human**" in export.stdout  # the restaurant assistant, read today
    annotated = run_cli("annotate", str(copy), "g-113e628f96ca", "--self-id", "human",
                        "--annotator", "ann")  # fmt: skip
    assert annotated.returncode == 0 and "the session keeps the new ones" in annotated.stderr
    doc = json.loads(copy.read_text())
    for a in doc["auto_labels"]:
        a["rules"] = "000000000000"
    copy.write_text(json.dumps(doc))
    agree = run_cli("agreement", str(copy), "--json")
    assert agree.returncode == 0, agree.stderr
    auto = json.loads(agree.stdout)["automatic"]
    assert (auto["relabelled"], auto["rules"]) == (n, rules_fingerprint())
    said = " ".join(run_cli("agreement", str(copy)).stdout.split())  # rich wraps lines
    assert f"({n} of those recorded had been made by other rules and were read again)" in said
    first = json.loads(run_cli("tree", str(copy), "--json").stdout)["turns"][0]["id"]
    moved = run_cli("tree", str(copy), "--go", first)
    assert moved.returncode == 0 and "the session keeps the new ones" in moved.stderr
    assert store.load(copy).relabelled == 0 and store.load(copy).head == first
