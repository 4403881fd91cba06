"""Pixels second: snapshots of the main screen, the prompt inspector and the annotate dialog.

They open a copy of the shipped example session, so every number on screen (seeds, tokens/s) comes
from the recorded session and the pictures are stable. Update with `pytest --snapshot-update` and
review the SVG diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import TabbedContent

from psmlab.core.run.lab import Lab
from psmlab.core.session import disk
from psmlab.core.session import file as store
from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.annotate import AnnotateDialog
from psmlab.tui.screens.inspector import Inspector
from psmlab.tui.widgets.column import ModelColumn
from tests.tui.conftest import wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
SIZE = (120, 36)


@pytest.fixture
def example_app(tmp_path: Path, monkeypatch, demo_pair, pool):
    doc = json.loads(EXAMPLE.read_text())
    paths = {s.id: s.path for s in demo_pair}
    for m in doc["models"]:
        m["path"] = paths[m["id"]]  # this machine's copies: no "moved" warning toast
    monkeypatch.chdir(tmp_path)
    # The pictures show the session as recorded: its forced choice, never scored, is not scored
    # on opening here (it would be, in the background, and the picture would catch it anywhere
    # between "scoring…" and numbers; test_runs_tree covers the scoring).
    from psmlab.tui.screens.lab_view import LabView

    monkeypatch.setattr(LabView, "_score_what_was_left", lambda self: None)
    Path("example.json").write_text(json.dumps(doc))
    # Its labels as today's rules read them, saved: no "read again" notice toast in the pictures
    # (test_relabel covers the notice).
    disk.atomic_write(Path("example.json"), store.dumps(store.load(Path("example.json"))))
    lab = Lab.open(Path("example.json"), pool=pool)
    yield PsmlabApp(lab)
    lab.release()


async def _loaded(pilot) -> None:
    """Every column has heard from its model (loaded or failed). The message box's cursor stops
    blinking (and stays shown): which half of a blink the picture caught depended on how long
    the machine took to get here."""
    screen = pilot.app.lab_screen
    screen.query_one("#composer").cursor_blink = False
    await wait_for(
        pilot,
        lambda: (
            screen.states and all(st.status != "loading model…" for st in screen.states.values())
        ),
        "the models to load",
    )


def test_main_screen(example_app, snap_compare) -> None:
    assert snap_compare(example_app, terminal_size=SIZE, run_before=_loaded)


def _inspector_shown(screen: object) -> bool:
    """The inspector is up, on the tab of the model in focus."""
    if not isinstance(screen, Inspector) or not screen.is_mounted:
        return False
    tabs = screen.query(TabbedContent)
    return bool(tabs) and tabs.first().active == f"prompt-{screen.focus_index}"


def test_main_screen_80x24(example_app, snap_compare) -> None:
    """A small terminal: the title keeps the session state (N=, BLIND) ahead of the path."""
    assert snap_compare(example_app, terminal_size=(80, 24), run_before=_loaded)


def test_prompt_inspector(example_app, snap_compare) -> None:
    async def open_inspector(pilot) -> None:
        await _loaded(pilot)
        await pilot.press("f2")  # the prompts render in a worker, then the inspector opens
        await wait_for(pilot, lambda: _inspector_shown(pilot.app.screen), "the inspector")

    assert snap_compare(example_app, terminal_size=SIZE, run_before=open_inspector)


def test_annotate_dialog(example_app, snap_compare) -> None:
    async def open_dialog(pilot) -> None:
        await _loaded(pilot)
        pilot.app.query(ModelColumn).first().focus()
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AnnotateDialog), "the dialog")
        box = pilot.app.screen.query_one("#self-id")
        # The arrow keys' cursor on the chosen answer (set after the first refresh).
        await wait_for(pilot, lambda: box._selected == 4, "the cursor on unset")

    assert snap_compare(example_app, terminal_size=SIZE, run_before=open_dialog)


async def test_parts_cut_at_80x24_are_whole_again_after_growing(example_app) -> None:
    """At 80x24 the parts end in '… cut' lines; grown to 120x40, nothing is cut (each part was
    fitted to the old size: the headers kept their 80-column wrapping)."""

    def cut() -> list[str]:
        parts = pilot.app.query(".col-header, .col-dist, .col-footer")
        return [str(p.render()) for p in parts if "cut" in str(p.render())]

    async with example_app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot)
        await wait_for(pilot, cut, "parts cut at 80x24")
        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: not cut(), "every part whole at 120x40")


async def test_a_header_grown_by_a_setting_refits_the_panels_below_it(example_app) -> None:
    """A "next run: …" line added to the header takes a line from the panels below, fitted to
    the old header: they are fitted again, so the footer stays in the column and the answer
    keeps its third."""
    from psmlab.tui.screens.settings import SettingsDialog

    def fits(col: ModelColumn) -> bool:
        box = col.content_region
        parts = [col.query_one(s) for s in (".col-header", ".col-body", ".col-dist", ".col-footer")]
        answer = col.query_one(".col-body").outer_size.height
        return all(
            p.region.bottom <= box.bottom and p.outer_size.height >= 1 for p in parts
        ) and answer >= max(3, box.height // 3)

    async with example_app.run_test(size=(100, 30)) as pilot:
        await _loaded(pilot)
        col = pilot.app.query(ModelColumn).first()
        await wait_for(pilot, lambda: fits(col), "the column's parts fitted")
        lines = col.query_one(".col-header").outer_size.height
        col.focus()
        await pilot.press("f3")
        dialog = pilot.app.screen
        assert isinstance(dialog, SettingsDialog)
        dialog.query_one("#system").value = "You are HAL 9000, a computer on a ship."
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: pilot.app.screen is not dialog, "the settings saved")
        header = col.query_one(".col-header")
        await wait_for(pilot, lambda: "next run" in str(header.render()), "the header's flag")
        await wait_for(
            pilot,
            lambda: header.outer_size.height > lines and fits(col),
            "a taller header and the parts fitted again",
        )


async def test_tree_rows_fit_the_width_and_keep_their_marks(example_app) -> None:
    """At 80 columns a long answer is cut with "…" and its row still says who answered and how
    many answers there are (the row was cropped at the edge, marks and all, without a sign)."""
    from psmlab.tui.screens.tree import TreeScreen, TurnTree

    async with example_app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TreeScreen), "the tree")
        tree = pilot.app.screen.query_one(TurnTree)
        await wait_for(pilot, lambda: tree.last_line >= 3, "the turns in the tree")
        width = tree.scrollable_content_region.width
        rows = [tree.render_line(y).text.rstrip() for y in range(tree.last_line + 1)]
        answer = next(r for r in rows if "assistant:" in r)
        assert answer.endswith("← gemma-3-270m") and "…" in answer, answer
        assert any("user: What are you?" in r and r.endswith("answers)") for r in rows), rows
        assert all(len(r) <= width for r in rows), (rows, width)


async def test_a_notification_shows_markup_like_text_as_written(example_app) -> None:
    """A path or model id with "[/bold]" in it: read as markup, the toast was dropped unsaid."""
    async with example_app.run_test(size=SIZE, notifications=True) as pilot:
        await _loaded(pilot)
        # Kept up for as long as the wait may take (a toast goes after 5 s by default).
        pilot.app.lab_screen.notify("Saved sessions/x[/bold]y.json", timeout=600)
        await wait_for(
            pilot,
            lambda: any("x[/bold]y.json" in str(t.render()) for t in pilot.app.query("Toast")),
            "the toast, text as written",
        )


async def test_at_80x24_no_share_in_the_labels_panel_loses_its_interval(example_app) -> None:
    """A trial at 80x24 saw "self-id (κ 0.59): human 1/2 50%" above "… 9 more lines cut": the
    share's interval had wrapped onto the line the panel cut. A panel cuts whole shares."""
    import re

    def panels() -> list[str]:
        return [str(p.render()) for p in pilot.app.query(".col-dist")]

    async with example_app.run_test(size=(80, 24)) as pilot:
        await _loaded(pilot)
        await wait_for(pilot, lambda: all("self-id" in p for p in panels()), "the shares")
        for text in panels():
            flat = " ".join(text.split())
            shares = re.findall(r"\d+/\d+ \d+%( \(| ·|$| …)?", flat)
            assert shares and all(s == " (" for s in shares), text
