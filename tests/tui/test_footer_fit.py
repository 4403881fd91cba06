"""The footer's keys fit 80 columns whatever has focus (a trial at 80x24 lost F5, Ctrl+A and F8
once a column was focused: its own keys came first and pushed them off)."""

from __future__ import annotations

from textual.widgets import Footer

from psmlab.tui.app import PsmlabApp
from psmlab.tui.keys import FOOTER
from psmlab.tui.widgets.column import ModelColumn
from psmlab.tui.widgets.transcript import TranscriptView
from tests.tui.conftest import wait_for


def _keys_in_view(app: PsmlabApp) -> tuple[set[str], set[str]]:
    """The footer's keys drawn within the screen and clear of the command palette's key
    (docked on the right, it covered "^a Adopt" and F8 when the transcript had focus), and
    those drawn past the edge or under it."""
    footer = app.screen.query_one(Footer)
    keys = list(footer.query("FooterKey"))
    palette = [k for k in keys if k.has_class("-command-palette")]
    edge = min([app.size.width, *(k.region.x for k in palette)])
    inside, outside = set(), set()
    for key in keys:
        if key in palette:
            continue
        where = inside if key.region.right <= edge and key.region.width else outside
        where.add(key.key)
    return inside, outside


async def test_the_footer_keeps_its_keys_at_80_columns_whatever_has_focus(make_lab) -> None:
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for target in (None, ModelColumn, TranscriptView):
            if target is not None:
                app.query(target).first().focus()
            await wait_for(pilot, lambda: _keys_in_view(app)[0] >= FOOTER, f"keys of {target}")
            inside, outside = _keys_in_view(app)
            assert inside >= FOOTER, (target, sorted(FOOTER - inside), sorted(outside))
            assert "a" not in inside | outside  # "Adopt" once: Ctrl+A's (a trial read it twice)
    # Wide enough, the palette's key is shown too, and still covers none.
    app = PsmlabApp(lab)
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        for target in (ModelColumn, TranscriptView):
            app.query(target).first().focus()
            await wait_for(
                pilot,
                lambda: _keys_in_view(app)[0] >= FOOTER and not _keys_in_view(app)[1],
                f"keys of {target}",
            )
            inside, outside = _keys_in_view(app)
            assert inside >= FOOTER and not outside, (target, sorted(outside))
            palette = app.screen.query_one(Footer).query(".-command-palette")
            assert palette and palette.first().region.width, target


async def test_the_newest_turn_stays_in_view_when_the_terminal_shrinks(make_lab) -> None:
    """A trial resized to 80x24 and the transcript stayed on turns 1-2, the newest out of sight."""
    from psmlab.core.session.schema import TurnRecord

    lab = make_lab(max_tokens=4)
    lab.session.set_turns(
        [
            TurnRecord(role="user" if i % 2 == 0 else "assistant", content=f"turn {i + 1} " * 8)
            for i in range(14)
        ]
    )
    app = PsmlabApp(lab)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(TranscriptView)
        app.lab_screen.refresh_transcript()
        await wait_for(pilot, lambda: view.highlighted == 13, "the newest turn highlighted")
        await pilot.resize_terminal(80, 24)
        await wait_for(
            pilot,
            lambda: view.max_scroll_y > 0 and view.scroll_y == view.max_scroll_y,
            "the newest turn scrolled into view",
        )
