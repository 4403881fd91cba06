"""Small modal dialogs: confirm, ask for one value, edit text, help."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    RadioSet,
    Select,
    SelectionList,
    Static,
    TextArea,
)

from psmlab.core.domain.textsafe import editable, from_editable, typed_controls
from psmlab.tui.widgets.ordered import OrderedInput, OrderedTextArea


class GuardedCancel(ModalScreen[Any]):
    """Esc (or Cancel) on a dialog whose fields were changed asks before throwing the typing away:
    an annotation or an edit typed for minutes is work, and Esc is also the key people press to
    leave a text box."""

    _initial: tuple[object, ...] | None = None

    def _state(self) -> tuple[object, ...]:
        values: list[object] = []
        for w in self.query("*"):
            if isinstance(w, Input):
                values.append(w.value)
            elif isinstance(w, TextArea):
                values.append(w.text)
            elif isinstance(w, SelectionList):
                values.append(tuple(w.selected))
            elif isinstance(w, RadioSet):
                values.append(w.pressed_index)
            elif isinstance(w, (Select, Checkbox)):
                values.append(w.value)
        return tuple(values)

    def on_mount(self) -> None:
        # After the fields' own on_mount: the state the user starts from.
        self.call_after_refresh(self._remember)

    def _remember(self) -> None:
        if self._initial is None:  # a dialog that knows its starting values set them already
            self._initial = self._state()

    def action_cancel(self) -> None:
        if self._initial is None or self._state() == self._initial:
            self.dismiss(None)
            return

        def done(choice: str | None) -> None:
            if choice == "discard":
                self.dismiss(None)

        self.app.push_screen(
            Confirm(
                "Discard what you changed here?",
                [("keep", "Keep editing"), ("discard", "Discard")],
                default="keep",
            ),
            done,
        )


class FormDialog(GuardedCancel):
    """A form with Save (Ctrl+S) and Cancel (Esc): subclasses compose the fields and `action_keep`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "keep", "Save")]

    def buttons(self) -> ComposeResult:
        yield Label("", id="error", classes="error", markup=False)
        with Horizontal(classes="buttons"):
            yield Button("Save (Ctrl+S)", id="save", variant="primary")
            yield Button("Cancel (Esc)", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_keep()
        else:
            self.action_cancel()

    def action_keep(self) -> None:
        raise NotImplementedError


class Confirm(ModalScreen[str]):
    """Returns the id of the button pressed (or "cancel")."""

    BINDINGS = [Binding("escape", "dismiss('cancel')", "Cancel")]

    def __init__(
        self, question: str, choices: list[tuple[str, str]], *, default: str | None = None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.choices = choices
        self.default = default  # the button Enter presses (else the first)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            with Horizontal(classes="buttons"):
                # The button Enter presses is the one drawn as such: a trial read a primary
                # Delete as the default, pressed Enter, and got Cancel.
                pressed = self.default or self.choices[0][0]
                for key, text in self.choices:
                    yield Button(text, id=key, variant="primary" if key == pressed else "default")

    def on_mount(self) -> None:
        if self.default is not None:
            self.query_one(f"#{self.default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")


class AskValue(ModalScreen[str | None]):
    """One text field with validation: `check` returns an error message or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        title: str,
        value: str = "",
        check: Callable[[str], str | None] | None = None,
        placeholder: str = "",
        enter: str = "sets it",
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.value = value
        self.check = check
        self.placeholder = placeholder
        self.enter = enter  # what Enter does, said under the field

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield OrderedInput(self.value, placeholder=self.placeholder, id="value")
            yield Label("", id="error", classes="error", markup=False)
            # Said: a trial found no word of how to leave the field (it has no buttons).
            yield Label(f"Enter {self.enter} · Esc cancels", classes="field-label", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        err = self.check(event.value) if self.check else None
        if err:
            self.query_one("#error", Label).update(err)
            return
        self.dismiss(event.value)


class EditText(GuardedCancel):
    """Edit a turn's text; Ctrl+S keeps it, Esc cancels (asking first if the text was changed)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "keep", "Keep"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.original = text
        # Control characters as pictures: the text area passed ESC to the terminal as is.
        self.text = editable(text)
        # The state to compare with on Esc is the text it opened with, known now: read after
        # the first refresh, it held a letter typed at once, and Esc threw that away unasked.
        self._initial = (self.text,)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(
                self.title_text + "  (Ctrl+S keep · Esc cancel)",
                classes="dialog-title",
                markup=False,
            )
            yield OrderedTextArea(self.text, id="text")

    def on_mount(self) -> None:
        # At the end, where an edit usually goes on (it started at the first character).
        area = self.query_one("#text", TextArea)
        area.move_cursor(area.document.end)
        area.focus()

    def action_keep(self) -> None:
        text = self.query_one("#text", TextArea).text
        if not text.strip():  # as an empty message is not sent, an empty turn is not kept
            self.notify(
                "An empty turn is not kept: write some text, or Esc and d deletes the turn",
                severity="warning",
            )
            return
        kept = from_editable(text, self.original)
        if why := typed_controls(kept, self.original):  # the dialog stays open, to mend
            self.notify(f"Not kept: {why}", severity="warning")
            return
        self.dismiss(kept)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss(None)", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(title="psmlab keys", expand=True, show_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("does")
        for key, text in self.rows:
            table.add_row(key, text)
        with Vertical(classes="dialog wide"):
            with VerticalScroll():
                yield Static(table)
            yield Label(
                "Ctrl+P opens the command palette with every action.  Esc closes.", markup=False
            )


class TextScreen(ModalScreen[None]):
    """A part of the lab shown whole and scrollable (a column's labels panel, which a short
    window cuts)."""

    BINDINGS = [Binding("escape,q,p", "dismiss(None)", "Close")]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, markup=False)
            with VerticalScroll():
                yield Static(self.body)
            yield Label("↑ ↓ pgup pgdn scroll.  Esc closes.", markup=False)
