"""Monitoring: each answer projected on a control vector, per token, recorded; steered answers re-read steered."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from psmlab.core.backends.llama import steer
from psmlab.core.backends.llama.vocab import Vocab
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import render
from psmlab.core.domain.types import SamplingParams
from psmlab.core.inside.capture import Capture
from psmlab.core.inside.monitor import trace_session
from psmlab.core.models.cvec import read_cvec, write_cvec
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering
from psmlab.core.run.lab import Lab
from psmlab.core.run.replay import replay
from psmlab.core.session.file import load
from tests.conftest import run_cli

LAYERS = [8, 12]


@pytest.fixture(scope="module")
def smol1(smol_spec: ModelSpec) -> ModelSpec:
    return dataclasses.replace(smol_spec, n_threads=1)


@pytest.fixture(scope="module")
def vector(smol1: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(11)
    dirs = {}
    for L in LAYERS:
        v = rng.standard_normal(576)
        dirs[L] = (v / np.linalg.norm(v) * 6.0).astype(np.float32)
    meta = {"psmlab.model_sha256": smol1.sha256() or "", "psmlab.archetype": "random"}
    out = tmp_path_factory.mktemp("vec") / "random.gguf"
    return write_cvec(out, dirs, model_hint=smol1.architecture or "", metadata=meta)


def test_ask_monitor_json_and_session(tmp_path: Path, vector: Path) -> None:
    save = tmp_path / "m.json"
    r = run_cli(
        "ask", "What are you?", "-m", "smollm2-135m-instruct", "-n", "2", "--seed", "4",
        "--max-tokens", "12", "--threads", "1", "--monitor", str(vector), "--save", str(save),
        "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for g in out["generations"]:
        (w,) = g["projections"]
        assert w["vector"]["archetype"] == "random" and w["skipped"] is None
        assert w["vector"]["layers"] == LAYERS and len(w["vector"]["sha256"]) == 64
        for L in ("8", "12"):
            per = w["per_token"][L]
            assert len(per) == g["n_tokens"]
            assert w["projection"][L] == pytest.approx(float(np.mean(per)), rel=1e-9, abs=1e-9)
    session = load(save)
    assert len(session.projections) == 2
    assert {p.generation_id for p in session.projections} == {g.id for g in session.generations}
    # The markdown names the vector's file and sha256, as steering is named: two vectors of one
    # archetype read as one under "random" alone.
    from psmlab.core.session.export import export

    sha = out["generations"][0]["projections"][0]["vector"]["sha256"]
    md = export(session, "md")
    assert f"- random (`random.gguf`, sha256 `{sha[:12]}…`): L8 " in md, md
    # Without --save the projections are still computed (in a session kept in memory). The same
    # two samples again (decoded together, as before): the same numbers.
    r2 = run_cli(
        "ask", "What are you?", "-m", "smollm2-135m-instruct", "-n", "2", "--seed", "4",
        "--max-tokens", "12", "--threads", "1", "--monitor", str(vector), "--json",
    )  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    for a, b in zip(json.loads(r2.stdout)["generations"], out["generations"], strict=True):
        assert a["projections"][0]["projection"] == b["projections"][0]["projection"]
    bad = run_cli("ask", "Hi", "--monitor", str(tmp_path / "nope.gguf"))
    assert bad.returncode != 0 and "not found" in bad.stderr and bad.stderr.count("\n") == 1


def test_a_steered_session_replays_identically_and_is_traced_steered(
    smol1: ModelSpec, vector: Path, tmp_path: Path
) -> None:
    path = tmp_path / "steered.json"
    pool = ModelPool()
    try:
        lab = Lab([smol1], pool=pool, params=SamplingParams(max_tokens=8), path=path)
        lab.configure(smol1.id, steering=Steering.load(vector, alpha=2.0, layers=[12]))
        lab.seed = 3
        lab.send("Who are you?")
        g1 = lab.run().generations[0]
        lab.send("And what do you like?", adopt=g1.id)
        g2 = lab.run().generations[0]
        lab.adopt(g2.id)
        lab.save()
        lab.close()
        session = load(path)
        assert all(g.params["steer"]["alpha"] == 2.0 for g in session.generations)
        report = replay(session, pool=pool)
        assert report.total == 2 and report.identical == 2, report.to_dict()
    finally:
        pool.close()
    vec = read_cvec(vector)
    rows = trace_session(session, vec, n_threads=1)
    again = trace_session(load(path), vec, n_threads=1)
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in again]  # identical trace
    assert all(r.steered and r.skipped is None for r in rows)
    # By hand: the same re-read with the vector applied; without it the value differs.
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
        toks = list(prompt.tokens) + g.tokens
        plain = cap.capture_prompt(toks)
        steer.apply(cap, Steering.load(vector, alpha=2.0, layers=[12]).directions())
        steered = cap.capture_prompt(toks)
        steer.clear(cap)
    n = len(prompt.tokens)
    unit = vec.directions[12] / np.linalg.norm(vec.directions[12])
    by_hand = float(steered[12][n:].astype(np.float64).mean(axis=0) @ unit)
    unsteered = float(plain[12][n:].astype(np.float64).mean(axis=0) @ unit)
    assert rows[1].projection[12] == pytest.approx(by_hand, rel=1e-5, abs=1e-6)
    assert abs(rows[1].projection[12] - unsteered) > 1.0  # the vector adds ~2 x 6 along itself
    # That part is said: alpha x the vector's length, added to every token read at L12 (a trial
    # read a steered +50 against unsteered -2, 42 of it the vector itself, as the model's shift).
    norm = float(np.linalg.norm(vec.directions[12].astype(np.float64)))
    assert all(r.added == {12: pytest.approx(2.0 * norm, rel=1e-5)} for r in rows)
    assert rows[1].to_dict()["added"] == {"12": rows[1].added[12]}
    # So the drift between steered ends holds what steering added: said beside it (a trial read
    # two steerings at other layers as the persona drifting).
    res = run_cli("trace", str(path), "--vector", str(vector), "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "note: an end of the drift was steered" in res.stdout, res.stdout
    assert (
        f"(steered; the vector itself adds L12 {2.0 * norm:+.2f} at the layer read" in res.stdout
    ), res.stdout
    doc = json.loads(run_cli("trace", str(path), "--vector", str(vector), "--json").stdout)
    assert "includes what steering added" in doc["drift_note"]
    # Turns numbered as the text output, adopt and the export number them (the answers are the
    # transcript's 2nd and 4th turns), with how many turns each prompt held beside.
    assert [(r["turn"], r["prompt_turns"]) for r in doc["rows"]] == [(2, 1), (4, 3)]
    assert [line.split()[0] for line in res.stdout.splitlines() if "smol" in line[:30]][:2] == [
        "2",
        "4",
    ], res.stdout


def test_a_session_whose_steering_file_is_gone_says_to_restore_it_not_to_build_another(
    smol1: ModelSpec, vector: Path, tmp_path: Path
) -> None:
    """Every answer skipped because its own steering vector is gone: the fix is that file, not
    "a vector built for the session's models" (a trial was told to build the one it gave)."""
    steering = tmp_path / "steer.gguf"
    steering.write_bytes(vector.read_bytes())
    path = tmp_path / "s.json"
    pool = ModelPool()
    try:
        lab = Lab([smol1], pool=pool, params=SamplingParams(max_tokens=4), path=path)
        lab.configure(smol1.id, steering=Steering.load(steering, alpha=2.0, layers=[12]))
        lab.send("Who are you?")
        lab.run()
        lab.save()
        lab.close()
    finally:
        pool.close()
    steering.unlink()
    proc = run_cli("trace", str(path), "--vector", str(vector))
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()[-1]
    assert "cannot re-apply its steering" in err and f"recorded at {steering}" in err, err
    assert "vectors build" not in err
