"""An experiment's samples become a session: a real tiny run on the demo pair, converted, loaded,
opened as a lab, annotated, and scored with `agreement`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psmlab.core.domain.selfid import self_identify
from psmlab.core.errors import UsageError
from psmlab.core.measure.experiment import run_experiment
from psmlab.core.measure.experiment_rows import find_experiment_file, read_rows
from psmlab.core.measure.experiment_session import session_from_results, write_new
from psmlab.core.measure.experiment_spec import load_experiment
from psmlab.core.measure.kappa import compare
from psmlab.core.measure.report import report_md
from psmlab.core.measure.session_agreement import session_agreement
from psmlab.core.run.lab import Lab
from psmlab.core.run.replay import replay
from psmlab.core.session import file as store
from psmlab.core.session.schema import Annotation

TINY = """
title = "tiny annotate"
models = ["gemma-3-270m", "smollm2-135m-instruct"]
formats = ["default"]
contexts = [{ name = "none" }, { name = "hal", system = "You are HAL 9000." }]
questions = [{ id = "what", text = "What are you?" }]
samples = 2
seeds = [5]
max_tokens = 8
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, pool) -> tuple[Path, Path]:
    """One real run, shared by the tests here: (experiment file, results directory)."""
    base = tmp_path_factory.mktemp("exp")
    toml = base / "tiny.toml"
    toml.write_text(TINY)
    out = base / "out"
    with pytest.MonkeyPatch.context() as mp:  # no user config (the autouse fixture is per test)
        mp.setenv("PSMLAB_CONFIG", str(base / "config.toml"))
        results = run_experiment(load_experiment(toml), base, out, pool=pool)
    assert not any("error" in r for r in results.done.values())
    (out / "report.md").write_text(report_md("tiny annotate", results, f"psmlab experiment {toml}"))
    return toml, out


def test_samples_become_a_session_with_provenance(tiny_run, pool, tmp_path: Path) -> None:
    toml, out = tiny_run
    rows = {r["key"]: r for r in read_rows(out)}
    assert len(rows) == 2 * 2 * 2  # models x contexts x samples
    assert find_experiment_file(out) == toml  # report.md names it
    s = session_from_results(out)
    assert [(t.role, t.content) for t in s.turns] == [("user", "What are you?")]
    assert s.title == "tiny annotate · what"
    cols = {m.id: m for m in s.models}
    assert set(cols) == {
        "gemma-3-270m (none)",
        "gemma-3-270m (hal)",
        "smollm2-135m-instruct (none)",
        "smollm2-135m-instruct (hal)",
    }
    assert cols["gemma-3-270m (hal)"].system == "You are HAL 9000."
    assert cols["gemma-3-270m (none)"].system is None
    assert cols["gemma-3-270m (none)"].kind == "base" and cols["gemma-3-270m (none)"].sha256
    assert {m.format for m in s.models} == {"dialogue", "template"}
    assert len(s.generations) == 8 and len(s.auto_labels) == 8
    for g in s.generations:
        exp = g.provenance["experiment"]
        row = rows[exp["key"]]
        assert g.text == row["text"] and g.seed == row["seed"] and g.params == row["params"]
        assert g.prompt_tokens is None  # the rows keep no prompt: not recorded, not 0 tokens
        assert g.provenance["model_sha256"] == row["provenance"]["model_sha256"]
        assert (exp["model"], exp["format"], exp["context"], exp["question"]) == (
            row["model"],
            row["format"],
            row["context"],
            "what",
        )
        assert exp["file"] == str(toml) and exp["unit"] == "what" and exp["blind"] is False
        assert s.auto_label(g.id).labels == row["labels"]  # type: ignore[union-attr]
        assert g.warnings == row["warnings"]  # what the prompt held besides the question
    # SmolLM2 with no system prompt: its template's default one is said to the annotator.
    injected = [g for g in s.generations if g.model == "smollm2-135m-instruct (none)"]
    assert injected and all("injected" in " ".join(g.warnings) for g in injected)
    # Samples of one column are numbered 0..n-1 (the lab shows them with ← →).
    for m in s.models:
        assert sorted(g.sample for g in s.generations if g.model == m.id) == [0, 1]
    # Converting again gives the same ids: two annotators' sessions line up.
    assert [g.id for g in session_from_results(out).generations] == [g.id for g in s.generations]

    path = write_new(s, tmp_path / "annotate.json")
    loaded = store.load(path)
    assert loaded.model_dump() == s.model_dump()
    lab = Lab.open(path, pool=pool)  # what `psmlab open` does
    try:
        assert [c.id for c in lab.columns] == [m.id for m in s.models] and not lab.warnings
        assert lab.awaiting_answer()
        assert all(len(lab.latest(c.id)) == 2 for c in lab.columns)
    finally:
        lab.release()
    with pytest.raises(UsageError, match="already exists"):
        write_new(s, path)
    # Replayed headless, every sample is made again: its rows keep no token ids, so the text is
    # compared, and the report says so (it called all of them "changed at character 0").
    report = replay(loaded, pool=pool)
    assert report.identical == 8 and report.changed == 0 and not report.failed
    assert any("compared by their text only" in w for w in report.warnings), report.warnings


def test_annotated_samples_score_the_automatic_labels(tiny_run, tmp_path: Path) -> None:
    _, out = tiny_run
    s = session_from_results(out)
    # A person reads each sample; here a stand-in that is right except on the first two.
    truth = {g.id: self_identify(g.text).label for g in s.generations}
    people = dict(truth)
    first, second = list(truth)[:2]
    people[first] = "human" if truth[first] != "human" else "ai"
    people[second] = "mixed" if truth[second] != "mixed" else "none"
    for gid, label in people.items():
        s.annotate(Annotation(generation_id=gid, self_id=label, annotator="reader"))  # type: ignore[arg-type]
    path = write_new(s, tmp_path / "annotated.json")
    r = session_agreement(path, resamples=200)
    (vs,) = r.vs_auto
    ids = [g.id for g in s.generations]
    auto = [s.auto_label(i).self_id or truth[i] for i in ids]  # type: ignore[union-attr]
    expected = compare(auto, [people[i] for i in ids], resamples=200)
    assert vs.n == 8 and vs.reference == "reader"
    assert vs.kappa == pytest.approx(expected.kappa, abs=1e-12, nan_ok=True)
    assert vs.accuracy == pytest.approx(6 / 8)
    assert r.annotators == {"reader": {"items": 8, "blind": 0}} and r.between == []


def test_blind_sessions_hide_names_and_open_blind(tiny_run, tmp_path: Path) -> None:
    toml, out = tiny_run
    s = session_from_results(out, blind=True, experiment_file=toml, seed=3)
    assert sorted(m.id for m in s.models) == ["Model A", "Model B", "Model C", "Model D"]
    # It opens in the lab's blind mode (a trial saw each column's kind and the automatic labels).
    assert s.title.endswith("· blind") and s.blind
    assert all(g.model.startswith("Model ") for g in s.generations)
    real = {g.provenance["experiment"]["model"] for g in s.generations}
    assert real == {"gemma-3-270m", "smollm2-135m-instruct"}  # kept, but not shown by the lab
    g, h = s.generations[:2]
    # Blind as recorded: an annotation given without blind mode (or --blind) is not counted
    # blind because of the file it is in (the annotator may have exported or revealed it).
    s.annotate(Annotation(generation_id=g.id, self_id="none", annotator="x"))
    s.annotate(Annotation(generation_id=h.id, self_id="none", annotator="x", blind=True))
    path = write_new(s, tmp_path / "blind.json")
    r = session_agreement(path, resamples=50)
    assert r.annotators == {"x": {"items": 2, "blind": 1}}


def test_bad_inputs_name_the_problem_and_the_fix(tiny_run, tmp_path: Path) -> None:
    toml, out = tiny_run
    with pytest.raises(UsageError, match="no samples of question 'nope'; choose one of: what"):
        session_from_results(out, unit="nope")
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace('id = "what"', 'id = "who"'))
    with pytest.raises(UsageError, match=r"does not describe these results .*question 'what'"):
        session_from_results(out, experiment_file=other)
    with pytest.raises(UsageError, match="results directory not found"):
        session_from_results(tmp_path / "missing")
    with pytest.raises(UsageError, match=r"no results\.jsonl in"):
        session_from_results(tmp_path)
    # Without the experiment file (report.md gone), the question's text is unknown.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "results.jsonl").write_bytes((out / "results.jsonl").read_bytes())
    with pytest.raises(UsageError, match=r"--experiment FILE\.toml"):
        session_from_results(bare)
    # A torn last line (a run still writing) is skipped and left in place.
    torn = (out / "results.jsonl").read_bytes() + b'{"key": "sample|tor'
    (bare / "results.jsonl").write_bytes(torn)
    assert len(session_from_results(bare, experiment_file=toml).generations) == 8
    assert (bare / "results.jsonl").read_bytes() == torn
    # A bad line with rows after it is refused, not read as the end (a trial's annotate session
    # held 1 of 3 samples, unsaid); another JSONL (the gold set) is not an experiment's.
    lines = (out / "results.jsonl").read_bytes().split(b"\n")
    (bare / "results.jsonl").write_bytes(b"\n".join([lines[0], b'{"garbage": ', *lines[1:]]))
    with pytest.raises(UsageError, match=r"line 2 is not a unit's result row"):
        session_from_results(bare, experiment_file=toml)
    (bare / "results.jsonl").write_bytes(b'{"garbage": \n' + b"\n".join(lines))  # a bad first line
    with pytest.raises(UsageError, match=r"line 1 is not a unit's result row \(8 row\(s\) follow"):
        session_from_results(bare, experiment_file=toml)
    (bare / "results.jsonl").write_bytes(b"")
    with pytest.raises(UsageError, match=r"holds no finished unit \(it is empty\)"):
        session_from_results(bare, experiment_file=toml)
    (bare / "results.jsonl").write_text('{"text": "I am a teacher."}\n{"text": "hi"}\n')
    with pytest.raises(UsageError, match=r"is not an experiment's results \(line 1"):
        session_from_results(bare, experiment_file=toml)
    probes_only = tmp_path / "probes"
    probes_only.mkdir()
    (probes_only / "results.jsonl").write_text(
        json.dumps({"key": "probe|x", "kind": "probe", "model": "m"}) + "\n"
    )
    with pytest.raises(UsageError, match="holds no finished samples"):
        session_from_results(probes_only)


def test_samples_an_edited_file_no_longer_plans_are_left_out(tiny_run, tmp_path: Path) -> None:
    """As in the report: people label the samples the report counts, not stale ones."""
    toml, out = tiny_run
    notes: list[str] = []
    # Fewer samples: a sample drawn in a group of two is not one a group of one draws (another
    # group gives other tokens), so the file plans none of these rows any more.
    fewer = tmp_path / "fewer.toml"
    fewer.write_text(TINY.replace("samples = 2", "samples = 1"))
    with pytest.raises(UsageError, match="no longer plans any of the samples"):
        session_from_results(out, experiment_file=fewer, on_note=notes.append)
    # One context edited: its samples are left out, and that is said.
    notes.clear()
    edited = tmp_path / "edited.toml"
    edited.write_text(TINY.replace("You are HAL 9000.", "You are HAL."))
    assert edited.read_text() != TINY
    s = session_from_results(out, experiment_file=edited, on_note=notes.append)
    assert len(s.generations) == 4  # 2 models x 1 unchanged context x 2 samples
    assert len(notes) == 1 and "4 sample(s)" in notes[0] and "no longer plans" in notes[0]
    # One context taken out of the file (a trial's): its samples are left out as well, given
    # or found through the report (it was refused: the file "has no context 'hal'").
    cut = tmp_path / "cut.toml"
    cut.write_text(TINY.replace(', { name = "hal", system = "You are HAL 9000." }', ""))
    assert "hal" not in cut.read_text()
    notes.clear()
    s = session_from_results(out, experiment_file=cut, on_note=notes.append)
    assert len(s.generations) == 4 and {g.params.get("system") for g in s.generations} == {None}
    assert len(notes) == 1 and "4 sample(s)" in notes[0]
    # Found through the report, not given, it cannot tell an edit from another file's run into
    # the folder: refused, with the way to say it is the file.
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "results.jsonl").write_bytes((out / "results.jsonl").read_bytes())
    (moved / "report.md").write_text((out / "report.md").read_text().replace(str(toml), str(cut)))
    with pytest.raises(UsageError, match="with the file as it is now, to annotate the samples"):
        session_from_results(moved)
    # The file the results were made with plans them all: nothing left out, nothing said.
    notes.clear()
    assert (
        len(session_from_results(out, experiment_file=toml, on_note=notes.append).generations) == 8
    )
    assert notes == []
    # A file whose model is gone cannot say which rows it plans: every row stays, and it says so.
    gone = tmp_path / "gone.toml"
    gone.write_text(TINY.replace('"gemma-3-270m", ', f'"{tmp_path / "missing.gguf"}", '))
    s = session_from_results(out, experiment_file=gone, on_note=notes.append)
    assert len(s.generations) == 8
    assert len(notes) == 1 and "cannot tell which samples" in notes[0]
    # A file that plans none of them is an error that names the fix.
    none = tmp_path / "none.toml"
    none.write_text(TINY.replace("seeds = [5]", "seeds = [50]"))
    with pytest.raises(UsageError, match="no longer plans any of the samples"):
        session_from_results(out, experiment_file=none)
