"""TUI fixtures: a lab on the real demo models with a shared model pool and a temp sessions dir."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App

from psmlab.core.domain.types import SamplingParams
from psmlab.core.run.lab import Lab


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


@pytest.fixture(autouse=True)
def _record_notices(monkeypatch):
    """Every notification an app raised, kept for the test: Textual drops one from
    `app._notifications` after its timeout (5 s), which a slow machine can pass before the
    test looks, so tests read `notices(app)` instead."""
    real = App.notify

    def notify(self, message, *args, **kwargs):
        self.__dict__.setdefault("_psmlab_notices", []).append(str(message))
        return real(self, message, *args, **kwargs)

    monkeypatch.setattr(App, "notify", notify)


def notices(app) -> list[str]:
    """The messages of every notification `app` raised so far, oldest first."""
    return list(app.__dict__.get("_psmlab_notices", []))


# Waits end on the event they need; this ceiling only stops a hung test, it is no time budget.
CEILING = 300.0


async def wait_for(
    pilot, predicate: Callable[[], object], what: str = "a condition", timeout: float = CEILING
) -> None:
    """Pause (the app handles its messages meanwhile) until `predicate()` holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, f"gave up waiting for {what} after {timeout:.0f} s"
        await pilot.pause(0.05)


async def settle(pilot, app, timeout: float = CEILING) -> None:
    """Wait until the run finished: its last message handled, every column final."""
    screen = app.lab_screen
    await wait_for(pilot, lambda: not screen.generating, "the run to finish", timeout)
    await pilot.pause(0.05)


async def type_and_send(pilot, text: str) -> None:
    """Type a message and send it; returns once the lab took it (the box is cleared and the run
    started), however slowly the app handles the key."""
    composer = pilot.app.query_one("#composer")
    composer.focus()
    composer.insert(text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: composer.text == "", "the lab to take the message")
