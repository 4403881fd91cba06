"""Pixels second: snapshots of the main screen, the prompt inspector and the annotate dialog.

They open a copy of the shipped example session, so every number on screen (seeds, tokens/s) comes
from the recorded session and the pictures are stable. Update with `pytest --snapshot-update` and
review the SVG diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psmlab.core.lab import Lab
from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.inspector import Inspector
from psmlab.tui.widgets.column import ModelColumn

EXAMPLE = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
SIZE = (120, 36)


@pytest.fixture
def example_app(tmp_path: Path, monkeypatch, demo_pair, pool):
    doc = json.loads(EXAMPLE.read_text())
    paths = {s.id: s.path for s in demo_pair}
    for m in doc["models"]:
        m["path"] = paths[m["id"]]  # this machine's copies: no "moved" warning toast
    monkeypatch.chdir(tmp_path)
    Path("example.json").write_text(json.dumps(doc))
    lab = Lab.open(Path("example.json"), pool=pool)
    yield PsmlabApp(lab)
    lab.release()


async def _loaded(pilot) -> None:
    await pilot.pause(0.3)


def test_main_screen(example_app, snap_compare) -> None:
    assert snap_compare(example_app, terminal_size=SIZE, run_before=_loaded)


def test_prompt_inspector(example_app, snap_compare) -> None:
    async def open_inspector(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("f2")
        for _ in range(100):
            if isinstance(pilot.app.screen, Inspector):
                break
            await pilot.pause(0.05)
        await pilot.pause(0.2)

    assert snap_compare(example_app, terminal_size=SIZE, run_before=open_inspector)


def test_annotate_dialog(example_app, snap_compare) -> None:
    async def open_dialog(pilot) -> None:
        await _loaded(pilot)
        pilot.app.query(ModelColumn).first().focus()
        await pilot.press("l")
        await pilot.pause(0.2)

    assert snap_compare(example_app, terminal_size=SIZE, run_before=open_dialog)
