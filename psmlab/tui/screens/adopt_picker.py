"""Which answer continues the conversation? A picker over every column's finished samples, every run."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from psmlab.core.domain.textsafe import terminal_safe
from psmlab.tui.widgets.lists import StopAtEnds

WITHOUT = "__without__"  # the option id of "send without adopting an answer"


@dataclass(frozen=True)
class Choice:
    """One finished sample: the generation id, and how it is named on screen."""

    gen_id: str
    column: str  # the column's display name (Model A… in blind mode)
    index: int
    of: int
    text: str
    label: str = ""  # its self-id label, when it has one (and "cancelled" when cut off)
    run: int = 1  # which run of the column at this turn (1-based), of `runs`
    runs: int = 1
    cut: bool = False  # cut off (cancelled, or an error): never the answer Enter takes by default
    given: str = ""  # the start it was given to continue (`text` begins with it)

    def line(self, width: int = 60) -> str:
        head = _clip(self.text, width)
        if self.given and self.text.startswith(self.given):
            # What each model added is what tells continuations apart: shown after a short
            # given start, not cut off behind it (a trial's nine rows read alike).
            given = _clip(self.given, 18)
            added = _clip(self.text[len(self.given) :], max(12, width - len(given) - 4))
            head = f"«{given}» + {added or '(nothing)'}"
        head = head or "(empty answer)"  # said: an audit's highlighted row was a blank one
        tag = f" [{self.label}]" if self.label else ""
        run = f"run {self.run}/{self.runs} · " if self.runs > 1 else ""
        return terminal_safe(f"{self.column} · {run}sample {self.index}/{self.of}{tag}: {head}")


def _clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class AdoptPicker(ModalScreen[str | None]):
    """Returns the chosen generation id, WITHOUT (send with no answer), or None (cancelled: the
    message stays in the box). Highlighted at first: the answer the user looked at last in its
    column (`default`), if it is whole and listed; else nothing, and Enter does nothing until
    a row is chosen. A line above the list says what Enter does."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    # The list scrolls inside the dialog: grown to its options' height, it ran past the bottom
    # of an 80x24 screen, and the highlight moved onto rows nobody could see ("Send without
    # adopting" among them). 55% of the screen leaves room for the title, what Enter does (up
    # to 2 lines: a long model id wraps it at 80 columns), padding and border.
    DEFAULT_CSS = """
    AdoptPicker #choices {
        max-height: 55vh;
    }
    AdoptPicker #enter-does {
        color: $text-muted;
        max-height: 2;
    }
    """

    def __init__(
        self,
        choices: list[Choice],
        default: str | None,
        *,
        allow_without: bool = True,
        continuing: bool = False,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.choices = choices
        self.default = default
        self.allow_without = allow_without
        # The head is an assistant turn the columns continued: a choice stands in its place,
        # "without" keeps it as it is.
        self.continuing = continuing

    def compose(self) -> ComposeResult:
        # Text, not a markup string: sample text is untrusted model output.
        options = [Option(Text(c.line()), id=c.gen_id) for c in self.choices]
        if self.allow_without:
            without = (
                "Send after the assistant turn as it is (its continuations stay in the tree)"
                if self.continuing
                else "Send without adopting an answer (two user turns in a row)"
            )
            options.append(Option(Text(without), id=WITHOUT))
        with Vertical(classes="dialog wide"):
            yield Label(
                "Which continuation stands in the assistant turn?  Esc cancels"
                if self.continuing
                else "Which answer continues the conversation?  Esc cancels",
                classes="dialog-title",
                markup=False,
            )
            yield Label(Text(self._enter_does(None)), id="enter-does")
            yield StopAtEnds(*options, id="choices")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        # Only the answer the user looked at last, and only when it is whole: the first
        # column's answer was the default after reopening a session (nothing looked at), and
        # an Enter a moment after sending adopted it, once an empty one, unseen; earlier, one
        # reflexive Enter adopted a cancelled "I'm a chat-" looked at last.
        looked = [i for i, c in enumerate(self.choices) if c.gen_id == self.default and not c.cut]
        ol.highlighted = looked[0] if looked else None
        self._say(ol.highlighted)
        ol.focus()

    def _enter_does(self, index: int | None) -> str:
        """What Enter does with row `index` highlighted (None: nothing highlighted)."""
        if index is None:
            end = " · End: send without one" if self.allow_without else ""
            return f"No answer chosen: ↓ picks one, then Enter{end}"
        if index >= len(self.choices):
            if self.continuing:
                return "Enter sends your message after the assistant turn as it is"
            return "Enter sends your message with no answer adopted"
        c = self.choices[index]
        run = f"run {c.run}/{c.runs} · " if c.runs > 1 else ""
        which = terminal_safe(f"{c.column} · {run}sample {c.index}/{c.of}")
        looked = " (looked at last)" if c.gen_id == self.default and not c.cut else ""
        then = " and sends" if self.allow_without else ""
        return f"Enter adopts {which}{looked}{then}"

    def _say(self, index: int | None) -> None:
        # Text: a model's id (or anything else in the line) is never read as markup.
        self.query_one("#enter-does", Label).update(Text(self._enter_does(index)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # The list as it is now: OptionList highlights its first row when built, and that
        # message arrives after on_mount took the highlight away.
        self._say(event.option_list.highlighted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
