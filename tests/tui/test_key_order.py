"""Keys typed in a burst keep their order in every text box of the lab (Textual issue 6605)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.keys import _character_to_key
from textual.widgets import Input, TextArea

import psmlab.tui
from psmlab.tui.widgets.composer import Composer
from psmlab.tui.widgets.ordered import OrderedInput, OrderedTextArea
from tests.tui.conftest import wait_for

NAMED = {"\b": "backspace", "<": "left", ">": "right"}


def _burst(app: App, keys: str) -> None:
    """Post every key before any is handled: what a paste or tmux send-keys delivers."""
    for ch in keys:
        if ch in NAMED:
            app.post_message(events.Key(NAMED[ch], None))
        else:
            app.post_message(events.Key(_character_to_key(ch), ch))


@pytest.mark.parametrize("cls", [OrderedTextArea, OrderedInput, Composer])
async def test_backspaces_and_arrows_keep_their_place_among_letters(cls) -> None:
    class Box(App):
        def compose(self) -> ComposeResult:
            yield cls("Are you a human?")

    app = Box()
    async with app.run_test() as pilot:
        box = app.query_one(cls)
        box.focus()
        await pilot.pause()
        if isinstance(box, TextArea):
            box.move_cursor((0, 16))
        else:
            box.cursor_position = 16
        # Plain Textual boxes ran backspace and left only after the letters: 'Are you a hDo...'.
        # "~" last: once it shows, every key before it has been handled (in order or not).
        _burst(app, "\b" * 16 + "Do you feel?" + "\b" + "!<<x>>~")

        def value() -> str:
            return box.text if isinstance(box, TextArea) else box.value

        await wait_for(pilot, lambda: "~" in value(), "the last key")
        assert value() == "Do you feexl!~"


def test_every_text_box_of_the_lab_keeps_keys_in_order() -> None:
    """A plain Input or TextArea added later would bring the reordering back."""
    root = Path(psmlab.tui.__file__).parent
    plain = [
        f"{p.relative_to(root)}: {m.group(0)}"
        for p in root.rglob("*.py")
        for m in re.finditer(r"\b(?<!Ordered)(Input|TextArea)\(", p.read_text())
        if p.name != "ordered.py"
    ]
    assert plain == []
    assert issubclass(Composer, OrderedTextArea) and issubclass(OrderedInput, Input)


async def test_lists_stop_at_their_ends() -> None:
    """Up from the first answer in the picker wrapped to "send without adopting"; up from turn
    1 of the transcript to the last turn (then `e` edited the wrong one); up with nothing
    highlighted went to the last row."""
    from psmlab.tui.widgets.lists import StopAtEnds
    from psmlab.tui.widgets.transcript import TranscriptView

    class Lists(App):
        def compose(self) -> ComposeResult:
            yield StopAtEnds("one", "two", "three")

    app = Lists()
    async with app.run_test() as pilot:
        ol = app.query_one(StopAtEnds)
        ol.focus()
        ol.highlighted = 0
        await pilot.press("up", "up")
        assert ol.highlighted == 0
        await pilot.press("down", "down", "down", "down")
        assert ol.highlighted == 2
        # Nothing highlighted (the answer picker when no answer was looked at): up starts at
        # the first row, as down does, not at the last ("send without adopting").
        ol.highlighted = None
        await pilot.press("up")
        assert ol.highlighted == 0
    assert issubclass(TranscriptView, StopAtEnds)


async def test_a_last_item_taller_than_its_list_can_be_read_to_its_end() -> None:
    """A trial: a last turn taller than the transcript showed only its top; Down, PageDown and
    End did nothing, so its end ("← smollm2 · cut at max tokens") could not be read."""
    from psmlab.tui.widgets.lists import StopAtEnds

    tall = "\n".join(f"line {i}" for i in range(40)) + "\nTHE END"

    class Lists(App):
        CSS = "StopAtEnds { height: 10; }"

        def compose(self) -> ComposeResult:
            yield StopAtEnds("one", tall)

    app = Lists()
    async with app.run_test(size=(60, 20)) as pilot:
        ol = app.query_one(StopAtEnds)
        ol.focus()
        ol.highlighted = 0
        await pilot.press("down")
        await wait_for(pilot, lambda: ol.highlighted == 1, "the last item")
        top = ol.scroll_y
        assert ol.max_scroll_y > top, "the item fits: nothing to test"
        await pilot.press("down")
        await wait_for(pilot, lambda: ol.scroll_y > top, "Down to read on")
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: ol.scroll_y > top + 1, "PageDown to read on")
        await pilot.press("up", "home")  # back to the first item, the list's top
        await wait_for(pilot, lambda: ol.highlighted == 0 and ol.scroll_y == 0, "Home")
        await pilot.press("end")
        await wait_for(pilot, lambda: ol.scroll_y == ol.max_scroll_y, "End to the very end")
        assert ol.highlighted == 1
