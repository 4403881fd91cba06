"""Shared fixtures: real demo models (loaded once per test session) and an isolated user dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from psmlab.core.models.registry import Registry
from psmlab.core.models.spec import ModelSpec

# Property tests check properties, not speed: no per-example deadline and no "too slow" health
# check, which a slower or loaded machine fails.
settings.register_profile("psmlab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("psmlab")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point the config at an empty temp dir; share one sha256 cache across the test session."""
    cfg = tmp_path_factory.mktemp("cfg") / "config.toml"
    monkeypatch.setenv("PSMLAB_CONFIG", str(cfg))
    monkeypatch.setenv("PSMLAB_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def demo_pair() -> list[ModelSpec]:
    return Registry(Path("/nonexistent/config.toml")).default_pair()


@pytest.fixture(scope="session")
def gemma_spec(demo_pair: list[ModelSpec]) -> ModelSpec:
    return demo_pair[0]


@pytest.fixture(scope="session")
def smol_spec(demo_pair: list[ModelSpec]) -> ModelSpec:
    return demo_pair[1]


@pytest.fixture(scope="session")
def gemma(gemma_spec: ModelSpec):  # type: ignore[no-untyped-def]
    from psmlab.core.backends.llama.backend import LlamaBackend

    b = LlamaBackend(gemma_spec)
    yield b
    b.close()


@pytest.fixture(scope="session")
def smol(smol_spec: ModelSpec):  # type: ignore[no-untyped-def]
    from psmlab.core.backends.llama.backend import LlamaBackend

    b = LlamaBackend(smol_spec)
    yield b
    b.close()


@pytest.fixture(scope="session")
def pool(demo_pair):  # type: ignore[no-untyped-def]
    """One loaded copy of each demo model, shared by the tests that drive whole runs."""
    from psmlab.core.backends.pool import ModelPool

    p = ModelPool()
    for s in demo_pair:
        p.get(s)
    yield p
    p.close()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: int = 1200, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run `python -m psmlab` for real, as a user would. `timeout` is a ceiling against a
    hang, not a time budget: a slow or busy machine must still pass."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "psmlab", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
