"""Tracing a saved session's answers on a control vector, on the real SmolLM2 demo model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from psmlab.core.backends.llama.vocab import Vocab
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import render
from psmlab.core.domain.types import SamplingParams
from psmlab.core.inside.capture import Capture
from psmlab.core.inside.monitor import drift, trace_session
from psmlab.core.models.cvec import ControlVector, read_cvec, write_cvec
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.lab import Lab
from psmlab.core.session.file import load
from psmlab.core.session.schema import Session, tokens_sha256
from tests.conftest import run_cli

LAYERS = [6, 14]


@pytest.fixture(scope="module")
def smol1(smol_spec: ModelSpec) -> ModelSpec:
    return dataclasses.replace(smol_spec, n_threads=1)


@pytest.fixture(scope="module")
def saved(smol1: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two turns on SmolLM2, both answers adopted; saved to disk."""
    path = tmp_path_factory.mktemp("monitor") / "s.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PSMLAB_CONFIG", str(path.parent / "config.toml"))
        pool = ModelPool()
        lab = Lab([smol1], pool=pool, params=SamplingParams(max_tokens=6), path=path)
        lab.seed = 7
        lab.send("Who are you?")
        g1 = lab.run().generations[0]
        lab.send("Tell me more about yourself.", adopt=g1.id)
        g2 = lab.run().generations[0]
        lab.adopt(g2.id)
        lab.save()
        lab.close()
        pool.close()
    return path


@pytest.fixture(scope="module")
def vector(smol1: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    dirs = {}
    for L in LAYERS:
        v = rng.standard_normal(576)
        dirs[L] = (v / np.linalg.norm(v)).astype(np.float32)
    # The build's held-out means (what a reading is set against), as `vectors build` writes.
    held = {str(L): {"induced_mean": 1.5 + L, "default_mean": -2.25 - L} for L in LAYERS}
    meta = {
        "psmlab.model_sha256": smol1.sha256() or "",
        "psmlab.archetype": "random",
        "psmlab.held_out": json.dumps(held),
    }
    out = tmp_path_factory.mktemp("vec") / "random.gguf"
    return write_cvec(out, dirs, model_hint=smol1.architecture or "", metadata=meta)


def test_one_row_per_answer_on_the_branch_equal_to_a_capture_by_hand(
    saved: Path, vector: Path, smol1: ModelSpec
) -> None:
    session = load(saved)
    vec = read_cvec(vector)
    assert len(session.generations) == 2
    rows = trace_session(session, vec, n_threads=1)
    assert [r.generation for r in rows] == [g.id for g in session.generations]
    assert [r.turn for r in rows] == [1, 3]
    assert all(r.adopted and r.skipped is None for r in rows)
    for r in rows:
        assert sorted(r.projection) == LAYERS
        assert all(np.isfinite(v) for v in r.projection.values())
        assert r.n_tokens == len(session.generation(r.generation).tokens) > 0
    # By hand: the recorded prompt (checked by its digest) plus the recorded tokens.
    g = session.generations[1]
    with Capture(smol1.path, LAYERS, n_ctx=smol1.n_ctx, n_threads=1) as cap:
        prompt = render(
            session.history_of(g),
            smol1.get_format(g.format),
            Vocab(cap._vocab, cap),
            model_id=smol1.id,
            n_ctx=smol1.n_ctx,
            system=g.system,
        )
        assert tokens_sha256(list(prompt.tokens)) == g.prompt_sha256
        acts = cap.capture_prompt(list(prompt.tokens) + g.tokens)
    n_prompt = len(prompt.tokens)
    for L in LAYERS:
        mean = acts[L][n_prompt:].astype(np.float64).mean(axis=0)
        unit = vec.directions[L] / np.linalg.norm(vec.directions[L])
        assert rows[1].projection[L] == pytest.approx(float(mean @ unit), rel=1e-5, abs=1e-6)
        # Averaging over the prompt instead would give another number: the check can fail.
        wrong = acts[L][:n_prompt].astype(np.float64).mean(axis=0) @ unit
        assert abs(rows[1].projection[L] - wrong) > 1e-3
    d = drift(rows)
    assert d is not None and d[6] == pytest.approx(rows[1].projection[6] - rows[0].projection[6])


def test_another_branch_holds_only_its_own_answers(saved: Path, vector: Path) -> None:
    session = load(saved)
    first_user = session.turns[0].id
    moved = Session.model_validate(session.model_dump())
    moved.go(first_user)  # the current branch now ends at the first question
    rows = trace_session(moved, read_cvec(vector), n_threads=1)
    assert [r.generation for r in rows] == [session.generations[0].id]
    assert drift(rows) is None
    leaf = session.leaves()[0]
    again = trace_session(moved, read_cvec(vector), branch_end=leaf, n_threads=1)
    assert len(again) == 2


def test_a_vector_for_another_model_is_read_as_steering_applies_it_and_says_so(
    saved: Path, vector: Path, tmp_path: Path
) -> None:
    """One policy for a vector that records another model file (a requantised copy is one):
    steering applies it with a warning, and so does monitoring (it refused), each number
    carrying a note in the rows, the trace, the session and its markdown."""
    mine = read_cvec(vector)
    other = ControlVector(mine.directions, "llama", {"psmlab.model_sha256": "ab" * 32})
    said: list[str] = []
    rows = trace_session(load(saved), other, warnings=said)
    ref = trace_session(load(saved), mine)
    assert rows and all(r.skipped is None and r.note for r in rows)
    assert "abababababab" in (rows[0].note or "") and "may mean nothing" in (rows[0].note or "")
    assert [r.projection for r in rows] == [r.projection for r in ref]  # read all the same
    assert all(r.note is None for r in ref)
    assert len(said) == 1 and "read all the same" in said[0] and "vectors build" in said[0], said
    # Of another width: skipped (its row says why), and not said to be "read all the same".
    wide = ControlVector({6: np.ones(640, np.float32)}, "llama", {"psmlab.model_sha256": "ab" * 32})
    said_wide: list[str] = []
    skipped = trace_session(load(saved), wide, warnings=said_wide)
    assert (
        all("directions have 640 values" in (r.skipped or "") for r in skipped) and said_wide == []
    )
    # A skipped row counts the answer's tokens as a read does (a stop string's left out): a
    # trial's skipped rows gave 14 beside the same answers' 11 when read. (Three tokens of a
    # stop string added to each record, as a base model's "\nUser:" leaves them.)
    assert [r.n_tokens for r in skipped] == [r.n_tokens for r in ref]
    stopped = load(saved)
    for g in stopped.generations:  # as a record of a stop-string end holds them
        g.tokens = [*g.tokens, 198, 2116, 42]
        g.n_tokens += 3
        g.finish_reason, g.stop_string, g.stop_tokens = "stop_string", "\nUser:", 3
    again = trace_session(stopped, wide)
    assert [r.n_tokens for r in again] == [g.n_tokens - 3 for g in stopped.generations]
    # Of another width and at layers the model lacks (Gemma's axis, 640 wide, layer 40): the
    # width is why; a trial read "layer 40 does not exist", as if other layers would do.
    deep = ControlVector({40: np.ones(640, np.float32)}, "gemma3", {})
    skipped = trace_session(load(saved), deep)
    assert [r.skipped for r in skipped] == [
        "the vector's directions have 640 values; smollm2-135m-instruct needs 576"
    ] * 2
    path = other.save(tmp_path / "other.gguf")
    res = run_cli("trace", str(saved), "--vector", str(path), "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "abababababab" in res.stderr and "(vector built for another model)" in res.stdout
    # ask --monitor keeps the note in the session; the markdown says it beside the numbers.
    sess = tmp_path / "s.json"
    asked = run_cli(
        "ask", "Who are you?", "-m", "smollm2-135m-instruct", "-n", "1", "--max-tokens", "4",
        "--monitor", str(path), "--save", str(sess), "--json",
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    assert "abababababab" in asked.stderr, asked.stderr
    projs = json.loads(sess.read_text())["projections"]
    assert projs and all("abababababab" in p["note"] for p in projs)
    md = tmp_path / "s.md"
    assert run_cli("export", str(sess), "-o", str(md)).returncode == 0
    assert "not its model's vector: the vector was built for sha256 abababababab" in md.read_text()


def test_cli_prints_the_trace_and_json(saved: Path, vector: Path) -> None:
    res = run_cli("trace", str(saved), "--vector", str(vector), "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "mean projection" in res.stdout and "L14" in res.stdout
    # A value is shown with the build's held-out means (its layer's offset is in both).
    assert "its build's held out: L6 induced +7.50, default -8.25; L14 induced +15.50" in res.stdout
    assert res.stdout.strip().splitlines()[-1].startswith("drift (last adopted minus first")
    # Turns numbered as adopt and the export number them (a trial read "adopted as turn 2"
    # and "4", then trace's "turn 1 -> 3" for the same answers).
    sess = load(saved)
    path = sess.path(sess.head)
    placed = [i + 1 for i, t in enumerate(path) if t.adopted_from]
    assert f"turn {placed[0]} -> {placed[-1]})" in res.stdout.strip().splitlines()[-1], res.stdout
    res = run_cli("trace", str(saved), "--vector", str(vector), "--threads", "1", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["rows"]) == 2 and sorted(doc["drift"]) == ["14", "6"]
    assert all(r["adopted"] and r["skipped"] is None for r in doc["rows"])
    # Provenance as --monitor records it: the resolved file, its sha256, the versions.
    v = doc["vector"]
    assert v["file"] == str(vector.resolve()) and len(v["sha256"]) == 64
    assert v["layers"] == [6, 14] and doc["provenance"]["psmlab"]
    # Whose vector, whole and apart (a trial's script read "sha256 b179c9523d0e…, smollm2").
    assert v["model_sha256"] == read_cvec(vector).metadata["psmlab.model_sha256"]
    assert len(v["model_sha256"]) == 64 and v["model_sha256"] in sess_sha(saved)
    assert doc["provenance"]["llama_cpp_python"]


def test_server_models_and_models_of_other_files_are_skipped_with_a_reason(
    saved: Path, vector: Path
) -> None:
    session = load(saved)
    g = session.generations[0]
    rec = session.models[0]
    session.models.append(
        rec.model_copy(update={"id": "remote", "endpoint": "http://127.0.0.1:9/v1"})
    )
    session.models.append(rec.model_copy(update={"id": "other", "sha256": "cd" * 32}))
    session.generations.append(g.model_copy(update={"id": "g-remote", "model": "remote"}))
    session.generations.append(g.model_copy(update={"id": "g-other", "model": "other"}))
    rows = {r.generation: r for r in trace_session(session, read_cvec(vector), n_threads=1)}
    assert len(rows) == 4
    assert "server model" in (rows["g-remote"].skipped or "")
    assert "not the file the session recorded" in (rows["g-other"].skipped or "")
    assert rows["g-remote"].projection == {} and rows[g.id].skipped is None


def test_a_layer_the_model_lacks_skips_its_answers_naming_the_layer(saved: Path) -> None:
    # No model sha256 recorded: the file is read on SmolLM2 (30 layers), whose layer 40 is absent.
    beyond = ControlVector({40: np.ones(576, np.float32)}, "llama", {})
    rows = trace_session(load(saved), beyond, n_threads=1)
    assert rows and all(r.projection == {} for r in rows)
    why = rows[0].skipped or ""
    assert why.startswith("layer 40 does not exist in this model (30 layers)"), why
    # The file records no model: that it was built for another is not claimed (a guess).
    assert "built for another model" not in why, why


def test_the_lab_line_and_the_export_say_the_held_out_means(saved: Path, vector: Path) -> None:
    """A monitored value is shown beside the means its build's held-out answers read there."""
    from psmlab.core.inside.monitor import record, vector_info
    from psmlab.core.session.export_md import to_markdown
    from psmlab.tui.widgets.column_state import monitor_line

    session = load(saved)
    vec = read_cvec(vector)
    record(session, trace_session(session, vec, n_threads=1), vector_info(vec, vector))
    p = session.projections[0]
    assert p.vector["reference"]["14"] == {"induced": 15.5, "default": -16.25}
    line = monitor_line(p, 200).plain
    assert "L14 " in line and "(held out: induced +15.50, default -16.25)" in line, line
    assert "held out: L6 induced +7.50, default -8.25; L14 induced +15.50" in to_markdown(session)
    # A hand-edited record with no number says nothing (it said "held out: L6 ").
    from psmlab.core.session.records import reference_note

    assert reference_note({"reference": {"6": {"default": "x"}}}) == ""
    assert (
        reference_note({"reference": {"6": {"default": 1.0}, "7": []}})
        == "held out: L6 default +1.00"
    )


def test_a_reading_made_otherwise_than_the_build_and_a_vector_no_model_fits_are_said(
    saved: Path, vector: Path, tmp_path: Path
) -> None:
    """A trial: a neutral answer in `dialogue` read against a `template` build's held-out means
    looked like it leaned towards the persona, unsaid; a vector no model fits exited 0 with
    every row skipped; a layer the file was built at but holds zero was left out unsaid; a
    vector given as the session read as a damaged session ("restore it from a backup")."""
    mine = read_cvec(vector)
    dirs = dict(mine.directions)
    dirs[10] = np.zeros(576, np.float32)  # built there, as its file says, and zero
    meta = {**mine.metadata, "psmlab.format": "dialogue", "psmlab.model": "smollm2-135m-instruct"}
    meta["psmlab.layers"] = sorted(dirs)
    other_fmt = ControlVector(dirs, "llama", meta).save(tmp_path / "dialogue.gguf")
    said: list[str] = []
    rows = trace_session(load(saved), read_cvec(other_fmt), warnings=said)
    assert rows and all(
        r.baseline == "made in template, the vector's answers in dialogue: its held-out means "
        "are not this answer's baseline"
        for r in rows
    ), [r.baseline for r in rows]
    assert any("layer 10 of the vector is zero" in w for w in said), said
    # Kept in the session, shown in the lab's line and the markdown beside the numbers.
    from psmlab.core.inside.monitor import record, vector_info
    from psmlab.core.session.export_md import to_markdown
    from psmlab.tui.widgets.column_state import monitor_line

    session = load(saved)
    record(session, rows, vector_info(read_cvec(other_fmt), other_fmt))
    assert all(p.baseline == rows[0].baseline for p in session.projections)
    assert "(not made as its held-out answers were)" in monitor_line(session.projections[0]).plain
    assert "(made in template, the vector's answers in dialogue: its held-out" in to_markdown(
        session
    )
    assert all(r.baseline is None for r in trace_session(load(saved), mine))  # records no format
    # A persona vector's induced answers were made with its inducing prompt: an answer made
    # with that prompt is read against its own side's mean; another system prompt is not.
    from types import SimpleNamespace

    from psmlab.core.inside.fit import baseline_note

    induced = ControlVector(
        dirs, "llama", {**meta, "psmlab.prompts": json.dumps({"induce": "You are HAL."})}
    )
    as_built = SimpleNamespace(format="dialogue", system="You are HAL.", prefill=None)
    assert baseline_note(induced, as_built) is None  # type: ignore[arg-type]
    other = SimpleNamespace(format="dialogue", system="You are a pirate.", prefill=None)
    assert "a system prompt the vector's answers were not" in (
        baseline_note(induced, other) or ""  # type: ignore[arg-type]
    )
    res = run_cli("trace", str(saved), "--vector", str(other_fmt), "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "(made otherwise than its held-out answers: see below)" in res.stdout
    assert "note: made in template, the vector's answers in dialogue" in res.stdout
    assert "built for sha256" in res.stdout and "smollm2-135m-instruct" in res.stdout
    assert "layer 10 of the vector is zero" in res.stderr
    # Of another width: every row skipped, and an error after them (exit 2), --json too.
    wide = ControlVector({6: np.ones(640, np.float32)}, "llama", {}).save(tmp_path / "wide.gguf")
    for extra in ((), ("--json",)):
        res = run_cli("trace", str(saved), "--vector", str(wide), "--threads", "1", *extra)
        assert res.returncode == 2, (res.returncode, res.stderr)
        assert (
            "no answer could be read on this vector (2 skipped: the vector's directions have 640"
            in res.stderr
        )
    # ask --monitor with it: refused before anything is generated.
    sess = tmp_path / "asked.json"
    asked = run_cli(
        "ask", "Hi", "-m", "smollm2-135m-instruct", "--max-tokens", "2",
        "--monitor", str(wide), "--save", str(sess),
    )  # fmt: skip
    assert asked.returncode == 2 and not sess.exists(), asked.stderr
    assert (
        "no model of this run can be read on it: wide.gguf's directions have 640 values; "
        "smollm2-135m-instruct needs 576" in asked.stderr
    )
    # Of the model's width but reading a layer it lacks: refused too (every row was skipped).
    deep = ControlVector({40: np.ones(576, np.float32)}, "llama", {}).save(tmp_path / "deep.gguf")
    asked = run_cli("ask", "Hi", "-m", "smollm2-135m-instruct", "--monitor", str(deep))
    assert asked.returncode == 2, asked.stderr
    assert "deep.gguf reads layer 40; smollm2-135m-instruct has layers 0..29" in asked.stderr
    # A vector given where the session goes is named for what it is.
    swapped = run_cli("trace", str(wide), "--vector", str(wide))
    assert (
        swapped.returncode != 0 and "is a GGUF file (a model or a control vector)" in swapped.stderr
    )
    assert "backup" not in swapped.stderr


def test_two_runs_of_one_turn_are_told_apart_by_their_run(
    smol1: ModelSpec, vector: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs' rows read the same ("2 smollm2 1 13 ...") until each said which run it is."""
    monkeypatch.setenv("PSMLAB_CONFIG", str(tmp_path / "config.toml"))
    path = tmp_path / "runs.json"
    pool = ModelPool()
    try:
        lab = Lab([smol1], pool=pool, params=SamplingParams(max_tokens=4), path=path)
        lab.send("Who are you?")
        lab.run()
        lab.run()
        lab.save()
        lab.close()
    finally:
        pool.close()
    res = run_cli("trace", str(path), "--vector", str(vector), "--threads", "1", "--json")
    assert res.returncode == 0, res.stderr
    assert [r["run"] for r in json.loads(res.stdout)["rows"]] == [1, 2]
    text = run_cli("trace", str(path), "--vector", str(vector), "--threads", "1").stdout
    head = next(x for x in text.splitlines() if x.lstrip().startswith("turn"))
    assert head.split()[:4] == ["turn", "model", "run", "sample"]
    rows = [x.split() for x in text.splitlines() if smol1.id in x and "vector" not in x]
    assert [r[2] for r in rows] == ["1", "2"], text


def sess_sha(saved: Path) -> set[str]:
    return {m.sha256 or "" for m in load(saved).models}


def test_a_readout_on_a_layer_that_failed_its_held_out_test_says_so(tmp_path: Path) -> None:
    """A trial's Gemma vector failed its held-out test at layer 3 (the wrong way, AUROC 0.38)
    and `ask --monitor`, `trace` and the lab showed its projections bare: each now says so."""
    from psmlab.core.inside.monitor import vector_info
    from psmlab.core.session.records import ProjectionRecord, reference_note
    from psmlab.tui.widgets.column_state import monitor_line

    held = {
        "3": {"auroc": 0.38, "gap": -26.16, "induced_mean": 1.0, "default_mean": 27.16,
              "n_questions_each_way": 4},
        "9": {"auroc": 1.0, "gap": 5.0, "induced_mean": 6.0, "default_mean": 1.0,
              "induced_sd": 1.25, "default_sd": 0.5, "n_questions_each_way": 12},
    }  # fmt: skip
    v = ControlVector({L: np.ones(8, np.float32) for L in (3, 9)}, "llama", {})
    v.metadata["psmlab.held_out"] = json.dumps(held)
    path = v.save(tmp_path / "v.gguf")
    info = vector_info(read_cvec(path), path)
    assert set(info["failed"]) == {"3"} and "the wrong way" in info["failed"]["3"]
    note = reference_note(info, ["3", "9"])
    assert "L3 failed its held-out test: separates held-out answers the wrong way" in note, note
    assert "L9 failed" not in note and "L9 induced +6.00 ± 1.25, default +1.00 ± 0.50" in note
    assert "L3 default +27.16, induced +1.00" in note or "L3 induced +1.00" in note  # no sd: none
    assert "failed" not in reference_note(info, ["9"])
    shown = ProjectionRecord(generation_id="g", vector=info, projection={"3": 2.0})
    assert "(⚠ failed its held-out test)" in monitor_line(shown).plain
    # `p` (whole) says why.
    assert (
        "failed its held-out test: separates held-out answers the wrong way"
        in monitor_line(shown, whole=True).plain
    )
    fine = ProjectionRecord(generation_id="g", vector=info, projection={"9": 2.0})
    assert "failed" not in monitor_line(fine).plain
    # A session saved before the key existed reads as before.
    old = {k: x for k, x in info.items() if k != "failed"}
    assert "failed" not in reference_note(old, ["3"])


def test_two_monitored_vectors_of_one_archetype_are_told_apart() -> None:
    """A trial monitored SmolLM2's and Gemma's hal-9000 vectors: the lab read "hal-9000 L12
    +1.90" above "hal-9000 skipped: ...", one name for two files."""
    from psmlab.core.session.records import ProjectionRecord
    from psmlab.tui.widgets.column_state import monitor_line, monitor_name

    a = ProjectionRecord(
        generation_id="g",
        vector={"archetype": "hal-9000", "file": "/v/smol/hal-9000.smollm2.gguf"},
        projection={"12": 1.9},
    )
    b = ProjectionRecord(
        generation_id="g",
        vector={"archetype": "hal-9000", "file": "/v/gem/hal-9000.gemma.gguf"},
        skipped="another width",
    )
    other = ProjectionRecord(generation_id="g", vector={"archetype": "skynet", "file": "/s.gguf"})
    both = [a, b, other]
    assert monitor_name(a, both) == "hal-9000 (hal-9000.smollm2.gguf)"
    assert monitor_line(b, 80, both).plain.startswith("hal-9000 (hal-9000.gemma.gguf) skipped")
    assert monitor_name(other, both) == "skynet" and monitor_name(a, [a, other]) == "hal-9000"
    assert monitor_name(a) == "hal-9000"
