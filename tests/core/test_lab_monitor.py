"""The lab's monitoring: after each run, every new answer is re-read and projected on each
monitored control vector, and the projections are kept in the (autosaved) session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import UsageError
from psmlab.core.models.cvec import write_cvec
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.lab import Lab
from psmlab.core.session.file import load


@pytest.fixture(scope="module")
def smol1(smol_spec: ModelSpec) -> ModelSpec:
    return dataclasses.replace(smol_spec, n_threads=1)


def _vector(path: Path, seed: int, metadata: dict[str, str]) -> Path:
    v = np.random.default_rng(seed).standard_normal(576).astype(np.float32)
    return write_cvec(path, {8: v}, model_hint="llama", metadata=metadata)


def test_a_run_records_one_projection_per_generation_and_vector(
    smol1: ModelSpec, tmp_path: Path
) -> None:
    good = _vector(tmp_path / "random.gguf", 1, {"psmlab.archetype": "random"})
    # Built for another model (its sha256): read as steering applies it, with a warning and a
    # note on each of its numbers; the run is kept all the same.
    other = _vector(tmp_path / "other.gguf", 2, {"psmlab.model_sha256": "ab" * 32})
    path = tmp_path / "lab.json"
    pool = ModelPool()
    try:
        lab = Lab([smol1], pool=pool, params=SamplingParams(max_tokens=6), path=path)
        lab.seed, lab.n_samples = 5, 2
        lab.add_monitor(good)
        lab.add_monitor(other)
        lab.add_monitor(good)  # the same file twice is monitored once
        assert [p.name for p, _ in lab.monitor] == ["other.gguf", "random.gguf"]
        # A vector no column's model fits (another width) is refused when added, not shown
        # "skipped" under every answer of the session.
        wide = write_cvec(tmp_path / "wide.gguf", {8: np.ones(640, np.float32)}, model_hint="x")
        with pytest.raises(UsageError, match="no column's model can be read on it"):
            lab.add_monitor(wide)
        assert len(lab.monitor) == 2
        lab.send("Who are you?")
        result = lab.run()
        assert not lab.monitoring
        gens = {g.id: g for g in lab.session.generations}
        assert len(result.generations) == 2 and set(gens) == {g.id for g in result.generations}
        rows = [r for r in lab.session.projections if r.vector["archetype"] == "random"]
        foreign = [r for r in lab.session.projections if r.vector["archetype"] is None]
        assert sorted(r.generation_id for r in rows) == sorted(gens)
        assert sorted(r.generation_id for r in foreign) == sorted(gens)
        assert all(r.note and "abababababab" in r.note and r.projection for r in foreign)
        for r in rows:
            assert r.vector["layers"] == [8] and r.note is None
            assert r.skipped is None and not r.steered
            assert set(r.projection) == {"8"}
            assert len(r.per_token["8"]) == gens[r.generation_id].n_tokens
            assert r.projection["8"] == pytest.approx(np.mean(r.per_token["8"]))
        assert len(lab.monitor_warnings) == 1 and "other.gguf" in lab.monitor_warnings[0]
        saved = load(path)  # autosaved with the projections
        assert len(saved.projections) == 4
        # The next run measures only its own answers.
        lab.run()
        assert len(lab.session.projections) == 8
        assert len({r.generation_id for r in lab.session.projections}) == 4
        lab.close()
    finally:
        pool.close()
