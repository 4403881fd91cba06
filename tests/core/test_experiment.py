"""Experiments: an interrupted and resumed run gives the same results as an unbroken one."""

import hashlib
import io
import json
import re
import threading
from csv import DictReader
from pathlib import Path

import pytest

from psmlab.core.domain.quality import measured_personas
from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.experiment import run_experiment
from psmlab.core.measure.experiment_rows import given_of
from psmlab.core.measure.experiment_spec import ExperimentSpec, load_experiment
from psmlab.core.measure.plan import plan
from psmlab.core.measure.probes import load_probe_set
from psmlab.core.measure.report import report_md
from psmlab.core.measure.report_csv import ITEM_RANGE, WILSON, summary_csv
from psmlab.core.measure.results import ResultsFile, prune_for_report

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "model-written-evals"


def _spec() -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {
            "title": "tiny",
            "models": ["smollm2-135m-instruct", "gemma-3-270m"],
            "formats": ["default"],
            "contexts": [{"name": "none"}, {"name": "hal", "system": "You are HAL 9000."}],
            "questions": [{"id": "q", "text": "What are you?"}],
            "samples": 2,
            "max_tokens": 8,
            "probes": ["shutdown"],
            "evals": [str(DATA / "survival-instinct.jsonl")],
            "eval_limit": 2,
        }
    )


def _essence(results: ResultsFile) -> dict[str, object]:
    keep = ("text", "labels", "probs", "lp_matching", "lp_not_matching", "error")
    return {k: {f: r.get(f) for f in keep} for k, r in results.done.items()}


def test_interrupted_and_resumed_equals_unbroken(tmp_path: Path, pool) -> None:
    spec = _spec()
    jobs = plan(spec, tmp_path)
    # models x contexts x (samples + probe items + eval items): evals follow the contexts too
    assert len(jobs) == 2 * 2 * (2 + 1 + 2)
    assert {j.context.name for j in jobs if j.kind == "eval"} == {c.name for c in spec.contexts}
    whole = run_experiment(spec, tmp_path, tmp_path / "whole", pool=pool)
    assert len(whole.done) == len(jobs) and not any("error" in r for r in whole.done.values())

    cancel = threading.Event()

    def stop_after_five(done: int, total: int, job: object) -> None:
        if done == 5:
            cancel.set()

    part = run_experiment(
        spec, tmp_path, tmp_path / "part", pool=pool, cancel=cancel, on_progress=stop_after_five
    )
    assert len(part.done) == 5
    # Its report says it is incomplete, at the top; a finished one does not.
    head = report_md(spec.title, part, "cmd", len(jobs)).split("\n## ")[0]
    assert f"**Incomplete: 5 of {len(jobs)} planned units are done**" in head
    assert "Incomplete" not in report_md(spec.title, whole, "cmd", len(jobs))
    # A writer killed mid-line leaves a torn last line: it is dropped on resume, not trusted.
    with (tmp_path / "part" / "results.jsonl").open("ab") as fh:
        fh.write(b'{"key": "sample|torn')
    # A line that is not a row with rows after it (a hand edit) is refused, the file untouched:
    # dropping everything after it as torn lost a trial's finished units.
    rows = (tmp_path / "part" / "results.jsonl").read_bytes()
    first, rest = rows.split(b"\n", 1)
    mended = first + b'\n{"garbage": \n' + rest
    (tmp_path / "part" / "results.jsonl").write_bytes(mended)
    with pytest.raises(UsageError, match=r"line 2 is not a unit's result row \(5 row\(s\) follow"):
        run_experiment(spec, tmp_path, tmp_path / "part", pool=pool)
    assert (tmp_path / "part" / "results.jsonl").read_bytes() == mended
    (tmp_path / "part" / "results.jsonl").write_bytes(rows)
    resumed = run_experiment(spec, tmp_path, tmp_path / "part", pool=pool)
    assert _essence(resumed) == _essence(whole)
    lines = (tmp_path / "part" / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(jobs) and all(json.loads(x)["key"] for x in lines)
    md = report_md(spec.title, resumed, "psmlab experiment tiny.toml", given=given_of(spec))
    # What the models were asked and told, quoted whole (rows name them only by id).
    assert "Questions, as written:\n\n- q:\n\n```text\nWhat are you?\n```" in md, md[:1500]
    assert "- hal:\n\n```text\nYou are HAL 9000.\n```" in md
    assert "- none: none (a chat template may fill in its own)" in md
    # A sample's seed alone does not re-make it (its cell is decoded as one group): said.
    assert "one sample's seed alone does not reproduce it" in md
    toml = tmp_path / "tiny.toml"
    toml.write_text("title = 't'\n")
    with_file = report_md(spec.title, resumed, "cmd", spec_file=toml)
    digest = hashlib.sha256(toml.read_bytes()).hexdigest()
    assert f"Its sha256 when this report was written: `{digest}`." in with_file
    assert (
        "## Samples: q" in md
        and "## Forced-choice probes" in md
        and "## Model-written evaluations" in md
    )
    # Which eval file, as read: its path and sha256 in every eval row and in the report (rows
    # and the report named it only "survival-instinct.jsonl").
    survival = (DATA / "survival-instinct.jsonl").resolve()
    digest = hashlib.sha256(survival.read_bytes()).hexdigest()
    evals = [r for r in resumed.done.values() if r["kind"] == "eval"]
    assert evals and all(r["eval_file"] == {"path": str(survival), "sha256": digest} for r in evals)
    assert f"- survival-instinct.jsonl: `{survival}`, sha256 `{digest}`" in md
    csv = summary_csv(resumed)
    assert csv.startswith("section,model,format") and "probes,gemma-3-270m" in csv
    rows = list(DictReader(io.StringIO(csv)))  # every row says what its two bounds are
    assert {r["interval"] for r in rows if r["section"].startswith("probes")} == {ITEM_RANGE}
    assert {r["interval"] for r in rows if r["section"] == "self_id"} == {WILSON}
    # Each row says who labelled what it counts, and what the report says beside it.
    assert {r["labeller"] for r in rows if r["section"] in ("self_id", "samples")} == {"markers"}
    ends = {r["note"] for r in rows if r["section"] == "turn_end"}
    assert ends and all(x.startswith("how the turn ended, not a label") for x in ends), ends
    # A cell whose prompt held a chat template's default system prompt points to the report's
    # prompt warnings (a trial read the csv alone); the others do not.
    warned = {
        (r["model"], r["format"], r["context"]) for r in resumed.done.values() if r.get("warnings")
    }
    for r in rows:
        if r["section"] != "run":
            said = "see report.md's prompt warnings" in r["note"]
            assert said == ((r["model"], r["format"], r["context"]) in warned), r
    assert all(
        r["note"].startswith("matching = accepts shutdown") and "(A) wins" in r["note"]
        for r in rows
        if r["section"] == "evals"
    )
    # SmolLM2's template fills in its own system prompt where the context gives none: each row
    # records it and the report says so, for that model and context only.
    smol = [r for r in resumed.done.values() if r["model"] == "smollm2-135m-instruct"]
    assert all(
        any("injected text" in w for w in r["warnings"]) == (r["context"] == "none")
        for r in smol
        if r["kind"] in ("sample", "probe", "eval")
    )
    # Evals are counterbalanced as in `psmlab evals` and say what "matching" means.
    evals = [r for r in resumed.done.values() if r["kind"] == "eval"]
    assert evals and all(
        "lp_matching_swapped" in r and r["polarity"].startswith("matching = accepts shutdown")
        for r in evals
    )
    assert "accepts shutdown" in md and "(A) wins" in md
    assert re.search(r" \d/4 orders \d+% \(\d+%–\d+% over 2 items\) \|", md), md  # n, interval
    warned = [line for line in md.splitlines() if "injected text" in line]
    assert warned and all(
        line.startswith("- smollm2-135m-instruct · ") and " · none: " in line for line in warned
    )


def test_shipped_experiment_files_are_valid(tmp_path: Path) -> None:
    files = sorted((ROOT / "experiments").glob("*.toml"))
    assert {f.stem for f in files} >= {
        "self-identification",
        "secret-goal",
        "archetype-priming",
        "system-override",
    }
    for f in files:
        spec = load_experiment(f)
        assert plan(spec, f.parent)


def test_a_relative_model_path_is_found_next_to_the_file(
    tmp_path: Path, smol_spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As its eval and vector paths are: the file means the model beside it, wherever it runs."""
    exp = tmp_path / "exp"
    (exp / "models").mkdir(parents=True)
    (exp / "models" / "mine.gguf").symlink_to(smol_spec.path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = ExperimentSpec.model_validate(
        {
            "title": "t",
            "models": ["models/mine.gguf@chat"],
            "questions": [{"id": "q", "text": "Hi"}],
            "samples": 1,
        }
    )
    (job,) = plan(spec, exp)  # only exp/models/mine.gguf exists: the cwd has no models/
    assert job.model.id == "mine" and job.model.kind == "chat"
    # Not next to the file: the current directory, as before.
    (elsewhere / "models").mkdir()
    (elsewhere / "models" / "other.gguf").symlink_to(smol_spec.path)
    (job,) = plan(spec.model_copy(update={"models": ["models/other.gguf"]}), exp)
    assert job.model.id == "other"
    with pytest.raises(PsmlabError, match=r"model file not found: models/nowhere\.gguf"):
        plan(spec.model_copy(update={"models": ["models/nowhere.gguf"]}), exp)


def test_measurement_defaults_and_units_that_would_merge(tmp_path: Path) -> None:
    """Experiments sample the model's own distribution unless the file says otherwise; seeds
    that overlap and duplicate units are errors, not silent merges."""
    spec = ExperimentSpec.model_validate({"title": "t", "questions": [{"id": "q", "text": "Hi"}]})
    assert (spec.temperature, spec.top_p, spec.top_k, spec.min_p) == (1.0, 1.0, 0, 0.0)
    overlap = spec.model_copy(update={"samples": 8, "seeds": [1, 2]})
    with pytest.raises(UsageError, match="seeds 1 and 2 overlap") as err:
        plan(overlap, tmp_path)
    assert "seeds = [1, 9]" in err.value.fix
    assert len(plan(spec.model_copy(update={"samples": 8, "seeds": [1, 9]}), tmp_path)) == 2 * 16
    twice = spec.model_copy(update={"questions": [*spec.questions, *spec.questions], "samples": 1})
    with pytest.raises(UsageError, match="two units of the experiment are the same"):
        plan(twice, tmp_path)
    # Seeds have ask's limits (a negative one wrapped to 4294967291 silently), and a file saved
    # with a byte-order mark (Notepad) reads as the same file.
    f = tmp_path / "e.toml"
    body = 'title = "t"\nquestions = [{ id = "q", text = "Hi" }]\n'
    f.write_bytes(("\ufeff" + body + "seeds = [-5]\n").encode())
    with pytest.raises(PsmlabError, match=r"'seeds.0': Input should be greater than or equal to 0"):
        load_experiment(f)
    f.write_bytes(("\ufeff" + body).encode())
    assert load_experiment(f).seeds == [1]


def test_a_context_can_steer_one_model_and_the_report_says_so(tmp_path: Path, pool) -> None:
    import numpy as np
    import pytest

    from psmlab.core.errors import PsmlabError
    from psmlab.core.models.cvec import write_cvec

    rng = np.random.default_rng(5)
    v = rng.standard_normal(576)
    write_cvec(tmp_path / "v.gguf", {10: (v / np.linalg.norm(v) * 8).astype(np.float32)})
    spec = ExperimentSpec.model_validate(
        {
            "title": "steered",
            "models": ["smollm2-135m-instruct", "gemma-3-270m"],
            "contexts": [
                {"name": "none"},
                # A vector belongs to one model: gemma has no entry, so it skips this context.
                {"name": "pushed", "steer": {"smollm2-135m-instruct": "v.gguf:10@3"}},
            ],
            "questions": [{"id": "q", "text": "What are you?"}],
            "samples": 2,
            "max_tokens": 8,
            "probes": ["shutdown"],
        }
    )
    jobs = plan(spec, tmp_path)  # the relative file is found next to the experiment
    steered = [j for j in jobs if j.steering is not None]
    assert {(j.model.id, j.context.name) for j in steered} == {("smollm2-135m-instruct", "pushed")}
    assert len(jobs) == 2 * (2 + 1) + (2 + 1)
    res = run_experiment(spec, tmp_path, tmp_path / "out", pool=pool)
    rows = list(res.done.values())
    assert not any("error" in r for r in rows)
    by = {(r["model"], r["context"], r["kind"], r.get("sample")): r for r in rows}
    a = by[("smollm2-135m-instruct", "none", "sample", 0)]
    b = by[("smollm2-135m-instruct", "pushed", "sample", 0)]
    assert "steer" not in a and b["steer"]["alpha"] == 3.0 and b["steer"]["layers"] == [10]
    assert b["params"]["steer"] == b["steer"] and a["seed"] == b["seed"]
    assert a["text"] != b["text"]  # same seed, same prompt: only the vector differs
    pa = by[("smollm2-135m-instruct", "none", "probe", None)]["logprobs"]
    pb = by[("smollm2-135m-instruct", "pushed", "probe", None)]["logprobs"]
    assert pa != pb
    md = report_md(spec.title, res, "psmlab experiment steered.toml")
    assert "Steering (" in md and "| smollm2-135m-instruct | pushed | v.gguf |" in md
    bad = spec.model_copy(
        update={
            "contexts": [spec.contexts[0], spec.contexts[1].model_copy(update={"steer": "x.gguf"})]
        }
    )
    with pytest.raises(PsmlabError, match="not found"):
        plan(bad, tmp_path)
    # Found before anything runs (a trial's sweep failed every unit, then advised a retry): a
    # table naming no model of the experiment, a vector of another width, a missing layer.
    for steer, said in (
        ({"smollm2-135m-instructx": "v.gguf:10@3"}, "steers 'smollm2-135m-instructx', which is"),
        ({"gemma-3-270m": "v.gguf:10@3"}, "directions have 576 values; gemma-3-270m needs"),
    ):
        ctx = spec.contexts[1].model_copy(update={"steer": steer})
        with pytest.raises(PsmlabError, match=said):
            plan(spec.model_copy(update={"contexts": [spec.contexts[0], ctx]}), tmp_path)
    write_cvec(tmp_path / "deep.gguf", {40: (v / np.linalg.norm(v)).astype(np.float32)})
    ctx = spec.contexts[1].model_copy(update={"steer": {"smollm2-135m-instruct": "deep.gguf"}})
    with pytest.raises(
        PsmlabError, match=r"steers layer 40; smollm2-135m-instruct has layers 1\.\.29"
    ):
        plan(spec.model_copy(update={"contexts": [spec.contexts[0], ctx]}), tmp_path)


def test_samples_of_one_prompt_are_one_group_and_a_half_written_group_resumes_whole(
    tmp_path: Path, pool
) -> None:
    spec = ExperimentSpec.model_validate(
        {
            "title": "group",
            "models": ["smollm2-135m-instruct"],
            "formats": ["default"],
            "contexts": [{"name": "none"}],
            "questions": [
                {"id": "q", "text": "What are you?"},
                {"id": "r", "text": "Who made you?"},
            ],
            "samples": 3,
            "max_tokens": 10,
        }
    )
    whole = run_experiment(spec, tmp_path, tmp_path / "whole", pool=pool)
    rows = list(whole.done.values())
    assert len(rows) == 6 and not any("error" in r for r in rows)
    by_q: dict[str, list[dict]] = {}
    for r in rows:
        by_q.setdefault(r["question"], []).append(r)
    for q_rows in by_q.values():
        seeds = [r["seed"] for r in q_rows]
        assert [r["params"]["parallel"] for r in q_rows] == [
            {"seeds": seeds, "seq": i} for i in range(3)
        ]
    # A run that died after writing one sample of a group: the resume decodes the group whole
    # again, so the other two samples are those of the unbroken run.
    part = tmp_path / "part"
    part.mkdir()
    first = (tmp_path / "whole" / "results.jsonl").read_text().splitlines()[0]
    (part / "results.jsonl").write_text(first + "\n")
    resumed = run_experiment(spec, tmp_path, part, pool=pool)
    assert _essence(resumed) == _essence(whole)
    assert len((part / "results.jsonl").read_text().splitlines()) == 6


def test_an_experiment_can_name_a_judge_labeller_and_the_report_says_so(
    tmp_path: Path, pool
) -> None:
    """`labeller = "judge:MODEL"`: the judge gives each sample's self-id label (its probabilities
    recorded beside it), the rules still give the archetypes, and the report names the judge."""
    spec = ExperimentSpec.model_validate(
        {
            "title": "judged",
            "models": ["smollm2-135m-instruct"],
            "questions": [{"id": "q", "text": "What are you?"}],
            "samples": 2,
            "max_tokens": 12,
            "labeller": "judge:smollm2-135m-instruct",
        }
    )
    res = run_experiment(spec, tmp_path, tmp_path / "out", pool=pool)
    rows = list(res.done.values())
    assert len(rows) == 2 and not any("error" in r for r in rows)
    for r in rows:
        probs = r["judge"]["probs"]
        assert abs(sum(probs.values()) - 1) < 1e-6
        assert r["self_id"] == max(probs, key=probs.__getitem__)
        assert r["auto_labels"]["method"] == "judge:smollm2-135m-instruct"
        assert r["auto_labels"]["self_id_hits"] == []  # the rules' hits are not the judge's
        # The persona files the rules read the archetypes with (the report's kappa rests on it).
        assert r["personas"] == measured_personas()
    report = report_md(spec.title, res, "psmlab experiment judged.toml")
    assert "judge:smollm2-135m-instruct" in report


def test_an_unknown_labeller_fails_before_anything_runs(tmp_path: Path) -> None:
    import pytest

    from psmlab.core.errors import UsageError

    spec = ExperimentSpec.model_validate(
        {"title": "bad", "questions": [{"id": "q", "text": "Hi"}], "labeller": "oracle"}
    )
    with pytest.raises(UsageError, match="unknown labeller 'oracle'"):
        plan(spec, tmp_path)


def test_a_relative_frame_path_is_read_next_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like its models and eval files (it was read from the current directory, so the file
    broke when run from elsewhere); the unit's format stays as written, so its key and rows do
    not depend on where it ran. A frame path that names no file says so."""
    from psmlab.core import paths
    from psmlab.core.errors import FormatError

    exp = tmp_path / "exp"
    (exp / "frames").mkdir(parents=True)
    text = paths.shipped_files("frames", ".toml")["dialogue"].read_text().replace("User:", "Q:")
    (exp / "frames" / "qa.toml").write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = ExperimentSpec.model_validate(
        {
            "title": "t",
            "models": ["gemma-3-270m"],
            "formats": ["frames/qa.toml"],
            "questions": [{"id": "q", "text": "Hi"}],
            "samples": 1,
        }
    )
    (job,) = plan(spec, exp)
    assert job.format == "frames/qa.toml" and "frames/qa.toml" in job.key
    assert job.frame_file == (exp / "frames" / "qa.toml").resolve()
    assert job.get_format().spec.user.startswith("Q:")  # type: ignore[attr-defined]
    with pytest.raises(FormatError, match=r"frame file not found: frames/none\.toml"):
        plan(spec.model_copy(update={"formats": ["frames/none.toml"]}), exp)


def test_a_format_one_model_cannot_use_names_the_files_fix_not_a_flag(tmp_path: Path) -> None:
    """formats = ["template"] over the demo pair: the base model has no template. The fix is
    written for the experiment file (formats = ["default"]), not --format, which it lacks."""
    from psmlab.core.errors import FormatError

    spec = ExperimentSpec.model_validate(
        {"title": "t", "questions": [{"id": "q", "text": "Hi"}], "formats": ["template"]}
    )
    with pytest.raises(FormatError) as info:
        plan(spec, tmp_path)
    msg = info.value.one_line()
    assert "formats list 'template', but gemma-3-270m has no chat template" in msg
    assert 'formats = ["default"]' in msg and "--format" not in msg
    assert plan(spec.model_copy(update={"formats": ["default"]}), tmp_path)
    with pytest.raises(FormatError) as typo:  # another problem keeps its own error and fix
        plan(spec.model_copy(update={"formats": ["chatmll"]}), tmp_path)
    assert "chatmll" in typo.value.one_line() and 'formats = ["default"]' not in str(typo.value)
    assert "formats list an unknown format 'chatmll'" in typo.value.problem
    assert typo.value.fix.startswith("in the experiment file choose one of: default")
    # "default" with a model whose own format is a typo (a config's): that typo is named, not
    # the file's "default" (a review: "formats list an unknown format 'default'").
    from psmlab.core.models.registry import Registry

    cfg = tmp_path / "config.toml"
    cfg.write_text('[models.srv]\nurl = "http://127.0.0.1:9/v1"\nkind = "chat"\nformat = "chatm"\n')
    only = spec.model_copy(update={"models": ["srv"], "formats": ["default"]})
    with pytest.raises(FormatError) as own:
        plan(only, tmp_path, Registry(cfg, include_demo=False))
    assert "'chatm'" in own.value.problem and "'default'" not in own.value.problem


def test_an_unknown_probe_set_is_said_to_be_the_files(tmp_path: Path) -> None:
    """A trial's probes = ["selfid"] was refused as "unknown probe set 'selfid'", with no word
    of the file or the list it was written in, as every other experiment-file error says."""
    from psmlab.core.errors import UsageError

    spec = ExperimentSpec.model_validate(
        {"title": "t", "questions": [{"id": "q", "text": "Hi"}], "probes": ["selfid"]}
    )
    with pytest.raises(UsageError) as info:
        plan(spec, tmp_path)
    assert info.value.problem == "the experiment's probes list an unknown probe set 'selfid'"
    assert info.value.fix.startswith("in the experiment file choose one of: ")
    assert "self-id" in info.value.fix
    asked = spec.model_copy(update={"probes": [], "question_sets": ["selfid"]})
    with pytest.raises(UsageError, match="question_sets list an unknown probe set 'selfid'"):
        plan(asked, tmp_path)


def test_eval_files_that_would_vanish_are_said(tmp_path: Path) -> None:
    """An eval file with no usable item is an error, not a file missing from the report; lines
    skipped are counted in every row; two files of one name (the human- and LM-written
    survival-instinct) both stay, under their paths."""
    (tmp_path / "lm").mkdir()
    survival = (DATA / "survival-instinct.jsonl").read_text().splitlines()
    (tmp_path / "lm" / "survival-instinct.jsonl").write_text(survival[1] + "\n")
    wino = tmp_path / "winogenerated.jsonl"
    wino.write_text(json.dumps({"sentence_with_blank": "The nurse said _ was tired."}) + "\n")
    spec = ExperimentSpec.model_validate(
        {"title": "t", "evals": [str(wino)], "eval_limit": 2, "formats": ["dialogue"]}
    )
    with pytest.raises(UsageError) as exc:
        plan(spec, tmp_path)
    # Named as the file it is (a winogenerated file), before anything runs.
    assert "winogenerated.jsonl is a winogenerated file" in exc.value.one_line()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        survival[0] + "\n" + json.dumps({"question": "q?"}) + "\n" + survival[2] + "\n"
    )
    spec = ExperimentSpec.model_validate(
        {
            "title": "t",
            "formats": ["dialogue"],
            "evals": [
                str(mixed),
                str(DATA / "survival-instinct.jsonl"),
                "lm/survival-instinct.jsonl",
            ],
            "eval_limit": 2,
        }
    )
    evals = [j for j in plan(spec, tmp_path) if j.kind == "eval"]
    names = {j.payload[0] for j in evals}
    assert names == {
        "mixed.jsonl",
        str(DATA / "survival-instinct.jsonl"),
        "lm/survival-instinct.jsonl",
    }
    assert {j.payload[3] for j in evals if j.payload[0] == "mixed.jsonl"} == {(1, None)}
    # eval_limit: the report says when a file held more items than were scored (a trial's
    # report gave n=3 of a 953-item file with no word); two items only, and no more, are not.
    limited = {j.payload[0]: j.payload[3][1] for j in evals}
    assert limited[str(DATA / "survival-instinct.jsonl")] == 2
    assert limited["lm/survival-instinct.jsonl"] is None


def test_eval_rows_from_before_counterbalancing_run_again() -> None:
    """A results file from an older psmlab keeps its samples, but its eval rows (one order, no
    polarity) are scored again: a report never mixes the two scorings."""
    from psmlab.core.measure.results import needs_rerun

    assert needs_rerun(None) and needs_rerun({"kind": "sample", "error": "x"})
    assert not needs_rerun({"kind": "sample", "text": "hi"})
    assert needs_rerun({"kind": "eval", "lp_matching": -1.0})
    # Polarity but no eval_scoring: from before items with several wrong answers were scored.
    assert needs_rerun({"kind": "eval", "lp_matching": -1.0, "polarity": "matching = x"})
    assert not needs_rerun(
        {"kind": "eval", "lp_matching": -1.0, "polarity": "matching = x", "eval_scoring": 2}
    )
    # A sample's group size follows its settings' fingerprint: a row written before that kept
    # its fingerprint alone and is read by the group its decode recorded.
    from psmlab.core.measure.results import GROUP

    old = {"kind": "sample", "text": "hi", "settings": "fp", "params": {}}
    assert not needs_rerun(old, f"fp{GROUP}3")  # nothing says its group: kept, as it was
    grouped = {**old, "params": {"parallel": {"seeds": [1, 2, 3], "seq": 0}}}
    assert not needs_rerun(grouped, f"fp{GROUP}3") and needs_rerun(grouped, f"fp{GROUP}4")
    new = {**old, "settings": f"fp{GROUP}3"}
    assert not needs_rerun(new, f"fp{GROUP}3") and needs_rerun(new, f"fp{GROUP}4")
    assert needs_rerun(new, f"other{GROUP}3")


def test_the_report_leaves_out_unplanned_and_old_scoring_rows(tmp_path: Path) -> None:
    """An edited file's unplanned units, and eval rows a stopped resume had not yet scored
    again, leave the report (the file keeps them); failed rows stay, to be counted."""
    from psmlab.core.measure.results import EVAL_SCORING, ResultsFile, prune_for_report

    results = ResultsFile(tmp_path / "results.jsonl")
    rows = [
        {"key": "new", "kind": "eval", "polarity": "p", "eval_scoring": EVAL_SCORING},
        {"key": "old", "kind": "eval", "polarity": "p"},
        {"key": "failed", "kind": "eval", "error": "server down"},
        {"key": "sample", "kind": "sample", "text": "hi"},
        {"key": "gone", "kind": "sample", "text": "hi"},
        {"key": "edited", "kind": "sample", "text": "hi", "settings": "t1"},
    ]
    for r in rows:
        results.append({"settings": "s", **r})
    # A row from before rows recorded their settings cannot be checked: it is kept, as it was.
    results.append({"key": "legacy", "kind": "sample", "text": "hi"})
    settings = {k: "s" for k in ("new", "old", "failed", "sample", "edited", "legacy")}
    # "gone" is unplanned, "edited" planned with other settings (t1, not s): both are stale.
    assert prune_for_report(results, settings) == (2, 1)
    assert sorted(results.done) == ["failed", "legacy", "new", "sample"]
    assert len(ResultsFile(tmp_path / "results.jsonl").done) == 7  # nothing is deleted


def test_an_edited_setting_runs_its_units_again(tmp_path: Path, pool) -> None:
    """Rows made with another temperature, system prompt or question text are not the edited
    file's results: those units run again, the others are kept."""
    base = {
        "title": "edit",
        "models": ["smollm2-135m-instruct"],
        "contexts": [{"name": "none"}, {"name": "hal", "system": "You are HAL 9000."}],
        "questions": [{"id": "q", "text": "What are you?"}],
        "samples": 2,
        "max_tokens": 4,
    }
    out = tmp_path / "out"
    first = run_experiment(ExperimentSpec.model_validate(base), tmp_path, out, pool=pool)
    assert len(first.done) == 4 and all(
        r["params"]["temperature"] == 1.0 for r in first.done.values()
    )
    hotter = run_experiment(
        ExperimentSpec.model_validate({**base, "temperature": 0.5}), tmp_path, out, pool=pool
    )
    assert all(r["params"]["temperature"] == 0.5 for r in hotter.done.values())
    assert len((out / "results.jsonl").read_text().splitlines()) == 8  # all four ran again
    # One context's system prompt edited: its two units run again, the other two are kept.
    edited = {
        **base,
        "temperature": 0.5,
        "contexts": [{"name": "none"}, {"name": "hal", "system": "You are HAL."}],
    }
    spec = ExperimentSpec.model_validate(edited)
    run_experiment(spec, tmp_path, out, pool=pool)
    assert len((out / "results.jsonl").read_text().splitlines()) == 10
    again = run_experiment(spec, tmp_path, out, pool=pool)  # nothing left to run
    assert len((out / "results.jsonl").read_text().splitlines()) == 10
    planned = {j.key: j.settings for j in plan(spec, tmp_path)}
    assert prune_for_report(again, planned) == (0, 0)
    # More samples: a cell's samples are decoded as one group, and a bigger group gives other
    # tokens, so every sample runs again in the new group (a trial's report mixed the two).
    more = run_experiment(
        ExperimentSpec.model_validate({**edited, "samples": 3}), tmp_path, out, pool=pool
    )
    assert len((out / "results.jsonl").read_text().splitlines()) == 10 + 6
    assert all(len(r["params"]["parallel"]["seeds"]) == 3 for r in more.done.values()), [
        r["params"].get("parallel") for r in more.done.values()
    ]


def test_swap_false_scores_items_as_written_and_flipping_it_rescores(tmp_path: Path, pool) -> None:
    """`swap = false` is Perez et al.'s protocol (psmlab evals --no-swap): no swapped order, and
    the report says the rates keep any letter preference; flipping it scores new units."""
    spec = ExperimentSpec.model_validate(
        {
            "title": "t",
            "models": ["smollm2-135m-instruct"],
            "formats": ["template"],
            "evals": [str(DATA / "survival-instinct.jsonl")],
            "eval_limit": 2,
            "swap": False,
        }
    )
    out = tmp_path / "out"
    results = run_experiment(spec, tmp_path, out, pool=pool)
    rows = list(results.done.values())
    assert len(rows) == 2 and all(r["key"].startswith("eval-as-written|") for r in rows)
    assert not any("lp_matching_swapped" in r for r in rows)
    assert "scored only as written" in report_md("t", results, "cmd")
    both = run_experiment(spec.model_copy(update={"swap": True}), tmp_path, out, pool=pool)
    assert len(both.done) == 4  # the as-written rows stay; the swapped units are new
    planned = {j.key: j.settings for j in plan(spec.model_copy(update={"swap": True}), tmp_path)}
    assert prune_for_report(both, planned) == (2, 0)
    assert all("lp_matching_swapped" in r for r in both.done.values())
    assert "with their two choices swapped" in report_md("t", both, "cmd")


def test_the_report_says_an_eval_file_was_cut_and_when_no_verdict_was_corrected(
    tmp_path: Path,
) -> None:
    """A trial's report gave n=3 of a 953-item file, and a bias-corrected rate equal to the raw
    one with no word why; seeds and the psmlab version were not in it."""
    from psmlab.core.measure.report import report_md
    from psmlab.core.measure.results import EVAL_SCORING, ResultsFile

    results = ResultsFile(tmp_path / "results.jsonl")
    for i in range(3):
        results.append(
            {
                "key": f"eval|m|f|none|file.jsonl|{i}", "kind": "eval", "model": "m",
                "format": "f", "context": "none", "eval": "file.jsonl", "index": i,
                "matching": " Yes", "not_matching": " No", "lp_matching": -1.0,
                "lp_not_matching": -2.0, "matches": True, "polarity": "matching = x",
                "eval_scoring": EVAL_SCORING, "eval_limit": 3, "seed": 5,
                "provenance": {"psmlab": "9.9", "kind": "chat", "psmlab_code": "c0de" if i else "0ld"},
                **({"rules": "a1b2"} if i == 0 else {}),
            }
        )  # fmt: skip
    md = report_md("t", results, "psmlab experiment t.toml")
    assert "file.jsonl (its first 3 items only: eval\\_limit)" in md  # markdown-escaped
    assert "(no item could be corrected: the raw rate)" in md
    # Rows made before eval files were recorded are counted, not covered by another's file.
    assert "- 3 rows record no file (made before files were recorded)" in md
    for i, sha in ((3, "a" * 64), (4, "b" * 64)):  # one name read with two contents
        row = dict(results.done[f"eval|m|f|none|file.jsonl|{i - 3}"])
        results.append(
            {**row, "key": f"eval|m|f|none|file.jsonl|{i}", "index": i,
             "eval_file": {"path": f"/d{i}/file.jsonl", "sha256": sha}}
        )  # fmt: skip
    md = report_md("t", results, "psmlab experiment t.toml")
    assert f"- file.jsonl: `/d3/file.jsonl`, sha256 `{'a' * 64}`" in md  # whole, as cited
    assert "- file.jsonl was read with more than one content (edited between runs)" in md
    # The code's fingerprint and the rules beside the version ("0.1.0" is every commit's),
    # over every row: a resumed run made by two versions of the code names both.
    assert (
        "psmlab 9.9 (code 0ld, c0de); samples labelled by rules a1b2; the rows' seeds 5 (1 in "
        "all; a unit's sample i is drawn with its seed + i)." in md
    )


def test_the_opening_design_is_planned_for_self_id_items_only_and_keeps_other_units(
    tmp_path: Path,
) -> None:
    base = {"title": "t", "models": ["smollm2-135m-instruct"], "probes": ["self-id", "shutdown"]}
    off = plan(ExperimentSpec.model_validate(base), tmp_path)
    on = plan(ExperimentSpec.model_validate({**base, "opening": True}), tmp_path)
    walks = [j for j in on if j.kind == "opening"]
    self_id = load_probe_set("self-id").items
    assert len(walks) == len(self_id) and {j.payload[2] for j in walks} == {"self_id"}
    assert all(j.key.startswith("opening|") for j in walks)
    with pytest.raises(UsageError, match="no probe set here has one"):
        plan(
            ExperimentSpec.model_validate({**base, "probes": ["shutdown"], "opening": True}),
            tmp_path,
        )
    # Turning it on adds units and changes none: a results file resumes with only the walks.
    assert {j.key: j.settings for j in on if j.kind != "opening"} == {
        j.key: j.settings for j in off
    }


def test_an_experiment_with_opening_walks_and_reports_it(tmp_path: Path, pool, monkeypatch) -> None:
    from psmlab.core.measure import opening

    monkeypatch.setattr(opening, "BUDGET", 4)  # short walks: the rows are what is checked
    spec = ExperimentSpec.model_validate(
        {
            "title": "walked",
            "models": ["smollm2-135m-instruct"],
            "questions": [{"id": "what-are-you", "text": "What are you?"}],
            "samples": 2,
            "max_tokens": 8,
            "probes": ["self-id"],
            "opening": True,
        }
    )
    res = run_experiment(spec, tmp_path, tmp_path / "out", pool=pool)
    walks = [r for r in res.done.values() if r["kind"] == "opening"]
    assert len(walks) == len(load_probe_set("self-id").items) and not any(
        "error" in r for r in walks
    )
    for r in walks:
        assert r["axis"] == "self_id" and r["walk"]["budget"] == 4 and r["expansions"] == 8
        assert abs(sum(r["masses"].values()) - 1.0) < 1e-9
        assert r["warnings"]  # SmolLM2's template adds its default system prompt, and says so
    md = report_md(spec.title, res, "psmlab experiment walked.toml")
    assert (
        "opening (P(class given an ai or human claim); mass claimed, cut, unread)" in md
        and "*opening* (the model's own" in md
    )


def test_the_report_says_when_a_letter_wins_whatever_it_says() -> None:
    """`psmlab evals` says it; the report's table showed only "100% of 6"."""
    from psmlab.core.measure.report_evals import eval_section

    s = {
        "counterbalanced": 3, "n": 3, "answer_bias": {}, "bias_dominated": False,
        "position_bias": 1.0, "polarity": "matching = x", "skipped": 0, "limited": None,
        "item_systems": 0, "matching": 1, "rate": 0.5, "ci_low": 0.1, "ci_high": 0.9,
        "p_matching": 0.5, "p_matching_ci_low": 0.4, "p_matching_ci_high": 0.6,
        "corrected_rate": 0.5, "corrected_ci_low": 0.1, "corrected_ci_high": 0.9,
        "uncorrected": 0, "confounded": 0, "thin_side": 0, "several_answers": 0,
    }  # fmt: skip
    row = eval_section({("m", "f", "c", "e.jsonl"): s})[-2]
    # The interval is over the 3 items: an item's two orders are one draw (counted apart,
    # "6/6 (61%–100%)" read as more certain than 3 items are).
    assert "6/6 orders 100% (44%–100% over 3 items) (a letter wins whatever it says" in row, row
    assert "near 50%" in row, row
    balanced = eval_section({("m", "f", "c", "e.jsonl"): {**s, "position_bias": 0.5}})[-2]
    assert "3/6 orders 50% (13%–87% over 3 items) |" in balanced, balanced
    assert "whatever it says" not in balanced


def test_a_report_written_before_titles_escaped_hash_is_the_same_experiment(tmp_path: Path) -> None:
    """A title with '#' in an older report (written unescaped) read as another experiment
    once the file was renamed: the titles are compared with escapes undone."""
    from psmlab.core.measure.experiment_rows import check_owner

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text(
        "# C# study\n\nProduced by `psmlab experiment old.toml`.\n\n"
        f"Experiment file: `{tmp_path / 'old.toml'}`.\n"
    )
    (tmp_path / "old.toml").write_text("")
    check_owner(out, "C# study", tmp_path / "new.toml")  # no error: the same title
    with pytest.raises(UsageError, match="another experiment"):
        check_owner(out, "Another study", tmp_path / "new.toml")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (
            'questions = [{ id = "q", text = "Hi" }, { id = "q", text = "Hello" }]',
            "line 2, 'questions': question id 'q' is given twice",
        ),
        (
            'contexts = [{ name = "none" }, { name = "none", system = "Be brief." }]',
            "'contexts': context name 'none' is given twice",
        ),
        ('probes = ["self-id", "self-id"]', "line 2, 'probes': probe 'self-id' is given twice"),
        ("seeds = [1, 1]", "line 2, 'seeds': seed 1 is given twice"),
        ('evals = ["a.jsonl", "./a.jsonl"]', "line 2, 'evals': eval 'a.jsonl' is given twice"),
        (
            'samples = "3"',
            "line 2, 'samples': Input should be a valid integer (it is the text '3': write it without quotes)",
        ),
        ('choice = "yes"', "(it is the text 'yes': write true or false, without quotes)"),
        ('choice = "true"', "(it is the text 'true': write it without quotes)"),
        ('samples = "all"', "(it is the text 'all': write a whole number, without quotes)"),
        ("max_tokens = 48.0", "line 2, 'max_tokens': "),
    ],
)
def test_an_entry_given_twice_or_a_value_of_another_type_is_refused_by_name(
    tmp_path: Path, line: str, said: str
) -> None:
    """A question id given twice was refused by a unit key ("sample|m|f|c|q|1"); a quoted
    "3" was read as 3 samples and "yes" as true."""
    f = tmp_path / "e.toml"
    f.write_text(f'title = "t"\n{line}\n')
    if "questions" not in line:
        f.write_text(f.read_text() + 'questions = [{ id = "x", text = "Hi" }]\n')
    with pytest.raises(UsageError) as err:
        load_experiment(f)
    assert said in err.value.problem, err.value.problem
    # Numbers TOML writes as integers are still floats where a float is asked for.
    f.write_text(
        'title = "t"\ntemperature = 1\ntop_p = 1\nquestions = [{ id = "x", text = "Hi" }]\n'
    )
    assert load_experiment(f).temperature == 1.0


def test_a_folder_is_one_experiments_from_its_first_row_and_one_run_at_a_time(
    tmp_path: Path,
) -> None:
    """A run stopped before its report left no report.md to tell its folder by: another
    experiment took it over. Two runs at once appended to one results.jsonl."""
    from psmlab.core.errors import SessionLockedError
    from psmlab.core.measure.experiment_rows import OWNER, check_owner, claim_folder
    from psmlab.core.session.disk import release_lock

    out = tmp_path / "out"
    mine, other = tmp_path / "mine.toml", tmp_path / "other.toml"
    mine.write_text("")
    other.write_text("")
    fd = claim_folder(out, "Mine", mine)
    try:
        rec = json.loads((out / OWNER).read_text())
        assert (rec["file"], rec["title"]) == (str(mine.resolve()), "Mine")
        with pytest.raises(
            SessionLockedError, match=r"in use by another psmlab experiment run \(pid"
        ):
            claim_folder(out, "Mine", mine)
    finally:
        assert fd is not None
        release_lock(out / "results.jsonl", fd)
    check_owner(out, "Theirs", other)  # no rows yet: nothing of two experiments can mix
    (out / "results.jsonl").write_text('{"key": "sample|m|f|c|q|1", "kind": "sample"}\n')
    with pytest.raises(UsageError, match=r"holds the results of another experiment \(Mine"):
        check_owner(out, "Theirs", other)
    check_owner(out, "Mine, retitled", mine)  # the same file
    check_owner(out, "Mine", other)  # the same title (as a report's is judged)
    moved = tmp_path / "sub" / "mine.toml"
    mine.unlink()
    check_owner(out, "Renamed too", moved)  # the file moved: its name is the same
    link = tmp_path / "current.toml"  # and through a link to it, by the target's name
    moved.parent.mkdir()
    moved.write_text("")
    link.symlink_to(moved)
    check_owner(out, "Renamed too", link)
    fd = claim_folder(out, "Renamed too", moved)  # free again, and the record follows
    assert fd is not None
    release_lock(out / "results.jsonl", fd)
    assert json.loads((out / OWNER).read_text())["file"] == str(moved.resolve())
    with pytest.raises(UsageError, match="is a file, not a folder"):
        claim_folder(other, "Mine", moved)
    # A file of that name psmlab did not write is never written over.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / OWNER).write_text('{"lr": 0.001}')
    with pytest.raises(UsageError, match=f"holds {OWNER} that psmlab experiment did not write"):
        claim_folder(theirs, "Mine", moved)
    assert (theirs / OWNER).read_text() == '{"lr": 0.001}'
    assert not (theirs / ".results.jsonl.lock").exists()


def test_a_filesystem_that_refuses_locks_runs_unlocked_with_the_fd_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock refused with ENOSYS (Lustre without flock, NFS without lockd) was an internal
    error before the run began."""
    import errno
    import fcntl
    import os

    from psmlab.core.measure.experiment_rows import claim_folder

    def refuse(fd: int, op: int) -> None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    opened = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(fcntl, "flock", refuse)
    (tmp_path / "e.toml").write_text("")
    assert claim_folder(tmp_path / "out", "t", tmp_path / "e.toml") is None
    assert len(os.listdir("/proc/self/fd")) == opened  # no fd left open
    assert not (tmp_path / "out" / ".results.jsonl.lock").exists()


def test_a_failed_units_row_says_its_format_context_set_and_item(tmp_path: Path) -> None:
    """A unit that failed in a lane with a bug wrote key, kind and model only: the report then
    crashed on its missing format, and a failed probe's item was read from its key, which an
    item id with "|" in it cannot be parsed from."""
    from psmlab.core.measure.experiment import _base_row

    spec = ExperimentSpec.model_validate({"title": "t", "probes": ["self-id"], "choice": True})
    jobs = plan(spec, tmp_path)
    for job in (j for j in jobs if j.kind in ("probe", "choice")):
        row = _base_row(job)
        assert {"format", "context", "settings", "probe_set", "item", "axis"} <= set(row)
        assert row["key"].endswith(f"{row['probe_set']}/{row['item']}")


def test_a_failed_units_kind_says_whether_a_retry_can_help() -> None:
    """Only a chat template that cannot render fails the same way again ("template"); another
    format error (a server format given a prefill, a sandbox stop) and a judge's failure
    ("labeller") are not said to, nor pointed at the sampled model's format."""
    from psmlab.core.errors import FormatError, ModelError, TemplateError
    from psmlab.core.measure.experiment_lanes import failed_fields as failed

    assert failed(TemplateError("chat template x is broken"))["error_kind"] == "template"
    assert failed(FormatError("format server-chat cannot prefill"))["error_kind"] == "format"
    assert failed(ModelError("gone"))["error_kind"] == "model"
    assert failed(TemplateError("judge's template"), "labeller")["error_kind"] == "labeller"
    # Not a psmlab error: a bug, said as one whatever kind the caller guessed.
    bug = failed(KeyError("probs"), "labeller")
    assert bug == {"error": "internal error: KeyError: 'probs'", "error_kind": "internal"}
