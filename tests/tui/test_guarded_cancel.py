"""Esc on a dialog the user has typed into asks before the typing is thrown away (annotate, turn
edit); Esc on an untouched dialog closes it at once."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen

from psmlab.tui.screens.annotate import AnnotateDialog, AnnotationInput
from psmlab.tui.screens.dialogs import Confirm, EditText
from tests.tui.conftest import notices, wait_for


class _Host(App[None]):
    """One dialog on no models: what it returns is kept."""

    def __init__(self, make: type[Screen[object]] | object) -> None:
        super().__init__()
        self.make = make
        self.result: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(self.make(), self.result.append)  # type: ignore[operator]


def _annotate() -> AnnotateDialog:
    return AnnotateDialog("sample 1", "I'm a teacher.", [], "tester")


async def test_esc_on_an_untouched_annotation_closes_it() -> None:
    app = _Host(_annotate)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.result == [None], "the dialog closed")


async def test_esc_after_typing_a_note_asks_and_keeps_it() -> None:
    app = _Host(_annotate)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        dialog.query_one("#note").focus()
        await pilot.press(*"speaks as a teacher")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        assert "Discard" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press("enter")  # the default: keep editing
        await wait_for(pilot, lambda: app.screen is dialog, "back in the dialog")
        assert dialog.query_one("#note").value == "speaks as a teacher" and app.result == []
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.result), "the annotation")
    (result,) = app.result
    assert isinstance(result, AnnotationInput) and result.note == "speaks as a teacher"


async def test_a_changed_self_id_alone_asks_and_discard_closes() -> None:
    app = _Host(_annotate)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        await pilot.press("right", "enter")  # from the chosen "unset", round to ai: choose it
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.click("#discard")
        await wait_for(pilot, lambda: app.result == [None], "the dialog closed")


async def test_an_edited_turn_is_not_lost_to_esc() -> None:
    app = _Host(lambda: EditText("Edit turn 1 (user)", "What are you?"))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        dialog = app.screen
        await pilot.press("end", *" Really?")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        await pilot.press("escape")  # Esc on the question keeps editing too
        await wait_for(pilot, lambda: app.screen is dialog, "back in the dialog")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.result), "the edit")
    assert app.result == ["What are you? Really?"]


async def test_an_edit_starts_at_the_end_of_the_text() -> None:
    """Typing at once went before the first character (the cursor started at the start)."""
    app = _Host(lambda: EditText("Edit turn 1 (user)", "What are you?\nSay it."))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        await pilot.press(*" Now.")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.result), "the edit")
    assert app.result == ["What are you?\nSay it. Now."]


async def test_letters_typed_right_after_tab_go_to_the_next_field(make_lab) -> None:
    """'1.5', Tab, '4' typed fast in the annotate dialog made a Confidence of '1.54': the Tab
    moved focus only after the next letter had reached the field it was leaving."""
    from textual import events
    from textual.app import ComposeResult
    from textual.screen import ModalScreen

    from psmlab.tui.app import PsmlabApp
    from psmlab.tui.widgets.ordered import OrderedInput

    class Two(ModalScreen[None]):
        def compose(self) -> ComposeResult:
            yield OrderedInput(id="a")
            yield OrderedInput(id="b")

    app = PsmlabApp(make_lab())
    async with app.run_test(size=(100, 30)) as pilot:
        screen = Two()
        app.push_screen(screen)
        await wait_for(pilot, lambda: bool(screen.query("#a")), "the fields")
        first, second = screen.query_one("#a", OrderedInput), screen.query_one("#b", OrderedInput)
        first.focus()
        await wait_for(pilot, lambda: first.has_focus, "the first field")
        burst = [("1", "1"), ("full_stop", "."), ("5", "5"), ("tab", None), ("4", "4")]
        for key, ch in burst:  # as a terminal delivers a fast typist's keys: all at once
            app.post_message(events.Key(key, ch))
        await wait_for(pilot, lambda: second.value == "4", "'4' in the second field")
        assert first.value == "1.5"


async def test_a_letter_typed_before_the_first_refresh_still_counts_as_a_change() -> None:
    """A trial typed a letter 0.1 s after `e`: the starting state was read after the first
    refresh, so it held the letter, and Esc closed the dialog without asking."""
    app = _Host(lambda: EditText("Edit turn 1 (user)", "What are you?"))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        dialog = app.screen
        await pilot.press("x")
        dialog._remember()  # the refresh's reading, coming after the letter
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        assert app.result == []


async def test_an_edit_to_nothing_is_not_kept() -> None:
    app = _Host(lambda: EditText("Edit turn 1 (user)", "Hi"))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        dialog = app.screen
        await pilot.press("backspace", "backspace", "ctrl+s")
        await wait_for(
            pilot,
            lambda: any("empty turn is not kept" in m for m in notices(app)),
            "the warning",
        )
        assert app.screen is dialog and app.result == []


EVIL = "Hi \x1b[31mred\x1b[0m \x1b]0;PWNED\x07 \x9b2J end"


async def test_a_turns_control_characters_are_shown_inert_and_kept_as_they_were() -> None:
    """A saved answer with ESC sequences: the edit dialog's text area passed them to the
    terminal (red text, the window retitled). Shown as pictures (␛); kept unchanged, the text is
    what it was (no new branch), and an edit keeps the characters it did not touch."""
    app = _Host(lambda: EditText("Edit turn 2 (assistant)", EVIL))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        area = app.screen.query_one("#text")
        assert "\x1b" not in area.text and "\x07" not in area.text and "\x9b" not in area.text
        assert "␛[31mred" in area.text and "␛]0;PWNED␇" in area.text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.result), "the text")
    assert app.result == [EVIL]
    app = _Host(lambda: EditText("Edit turn 2 (assistant)", EVIL))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        await pilot.press("!")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.result), "the text")
    assert app.result == [EVIL + "!"]
    # A text holding a control character and its picture (or escape) comes back as it was.
    from psmlab.core.domain.textsafe import editable, from_editable

    for mixed in ("a\x1b b␛", "x\x9b and literal \\x9b"):
        assert from_editable(editable(mixed), mixed) == mixed


async def test_a_control_character_pasted_into_an_edit_is_said_and_the_dialog_stays() -> None:
    """An edit that adds an ESC (a paste) is not kept unsaid: the text area takes an escape
    sequence out of order. Those the turn already held are kept as they were (above)."""
    from textual import events

    from psmlab.core.domain.textsafe import typed_controls

    assert typed_controls("plain\ttext\n") is None and typed_controls(EVIL, EVIL) is None
    assert typed_controls("Hi \x1b[0m", EVIL) is None  # the turn held ESC already
    # Bidi marks come with right-to-left text copied from a page, and are invisible: taken.
    assert typed_controls("\u202b\u05e9\u05dc\u05d5\u05dd\u202c") is None
    assert "control character (ESC" in (typed_controls("a\x1b[1m", "") or "")
    assert "\\x9b" in (typed_controls("a\x9b", "") or "")
    # tmux hands a pasted ESC on as "^[" (and the paste's line break as Enter first): a
    # trial's "Who are you?\x1b[31m red" sent "^[31m red". Said, unless the turn held it.
    assert "'^[31m', an escape sequence a terminal wrote out" in (typed_controls("^[31m red") or "")
    assert typed_controls("a ^[0m b", "a ^[0m b") is None and typed_controls("x ^ [y]") is None
    app = _Host(lambda: EditText("Edit turn 2 (assistant)", "I am Bob."))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, EditText), "the dialog")
        dialog = app.screen
        dialog.query_one("#text").post_message(events.Paste(" \x1b[31mred"))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: any("control character (ESC" in m for m in notices(app)),
            "the warning",
        )
        assert app.screen is dialog and app.result == []
