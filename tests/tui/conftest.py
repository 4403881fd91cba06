"""TUI fixtures: a lab on the real demo models with a shared model pool and a temp sessions dir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from psmlab.core.backends.base import SamplingParams
from psmlab.core.lab import Lab


@pytest.fixture
def make_lab(demo_pair, pool, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PSMLAB_SESSIONS_DIR", str(tmp_path / "sessions"))
    labs: list[Lab] = []

    def make(max_tokens: int = 24, specs=None) -> Lab:
        lab = Lab(specs or list(demo_pair), pool=pool, params=SamplingParams(max_tokens=max_tokens))
        lab.seed = 7
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.release()  # the pool is shared: only drop the file locks


async def settle(pilot, app, timeout: float = 90.0) -> None:
    """Wait until no generation runs (and the last messages are handled)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    await pilot.pause(0.05)
    while app.generating:
        assert loop.time() < end, "generation did not finish"
        await pilot.pause(0.05)
    await pilot.pause(0.05)


async def type_and_send(pilot, text: str) -> None:
    pilot.app.query_one("#composer").focus()
    pilot.app.query_one("#composer").insert(text)
    await pilot.press("enter")
