"""The shared history: every turn, with which model's answer was adopted."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets.option_list import Option

from psmlab.core.session.schema import Session, TurnRecord
from psmlab.tui.widgets.composer import TypingStartsMessage, own_keys
from psmlab.tui.widgets.lists import StopAtEnds
from psmlab.views import safe

ROLE_STYLE = {"system": "magenta", "user": "bold cyan", "assistant": "bold green"}


class Hanging:
    """A turn as shown: its number and role, then its text, whose wrapped lines start under the
    text (not at the left edge, where they read as the start of another turn)."""

    def __init__(self, head: Text, body: Text) -> None:
        self.head, self.body = head, body

    def __str__(self) -> str:
        return self.head.plain + self.body.plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = self.head.cell_len
        room = options.max_width - indent
        if room < 12:  # too narrow to hang: wrapped from the edge, as any text
            yield Text.assemble(self.head, self.body)
            return
        for i, line in enumerate(self.body.wrap(console, room)):
            line.rstrip()
            yield Text.assemble(self.head if i == 0 else " " * indent, line)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        body = Measurement.get(console, options, self.body)
        indent = self.head.cell_len
        return Measurement(indent + body.minimum, indent + body.maximum).clamp(
            max_width=options.max_width
        )


class TranscriptView(TypingStartsMessage, StopAtEnds):
    """Select a turn to edit (e) or delete (d) it; other letters start a message."""

    BINDINGS = [
        # One key in the footer, as a column has: with both, F5, Ctrl+A and F8 fell off it at
        # 80 columns (F1 lists every key).
        Binding("e", "screen.edit_turn", "Edit turn"),
        Binding("d", "screen.delete_turn", "Delete turn", show=False),
    ]
    OWN_KEYS = own_keys(BINDINGS)

    def nothing_to_act_on(self, key: str) -> bool:
        return self.option_count == 0  # no turn to edit or delete: a message's first letter

    def on_resize(self, event: events.Resize) -> None:
        # A smaller terminal left the view on the first turns, the newest out of sight: the
        # selected turn (the newest after each message) stays in view, once laid out anew.
        if self.highlighted is not None:
            self.call_after_refresh(self.scroll_to_highlight)

    shown_ids: tuple[str, ...] = ()  # the turns on view, to tell a new turn from a redraw

    def show(
        self,
        turns: list[TurnRecord],
        names: dict[str, str],
        *,
        blind: bool = False,
        cuts: dict[str, str] | None = None,
        given: dict[str, str] | None = None,
        which: dict[str, str] | None = None,
        edits: dict[str, str] | None = None,
    ) -> None:
        # A redraw of the same turns keeps the highlight; a new turn (or another branch) moves
        # it to the newest, so the conversation's end is in view after each message.
        ids = tuple(t.id for t in turns)
        keep = self.highlighted if ids == self.shown_ids else None
        self.shown_ids = ids
        self.clear_options()
        for i, t in enumerate(turns):
            head = Text(f"{i + 1:>2} {t.role:<10}", style=ROLE_STYLE.get(t.role, ""))
            line = Text()
            content = (
                t.content
                if len(t.content) <= 2000
                else t.content[:2000] + f"… ({len(t.content)} chars)"
            )
            line.append_text(safe(content))
            if t.adopted_model:
                who = (
                    "adopted (model hidden)"
                    if blind
                    else names.get(t.adopted_model, t.adopted_model)
                )
                line.append_text(safe(f"  ← {who}", "dim"))
                if (which or {}).get(t.id):  # which run and sample, with several of one model
                    line.append_text(safe(f" · {(which or {})[t.id]}", "dim"))
            if (given or {}).get(t.id):  # its start is text the model was given, not its own
                line.append_text(safe(f" · {(given or {})[t.id]}", "dim"))
            if (edits or {}).get(t.id):  # no model wrote this text as it stands
                line.append_text(safe(f"  {(edits or {})[t.id]}", "dim"))
            elif (cuts or {}).get(t.id):  # an adopted answer stopped short is not a whole one
                line.append_text(safe(f"  ✂ {(cuts or {})[t.id]}", "dim"))
            self.add_option(Option(Hanging(head, line), id=f"turn-{i}"))
        if turns:
            self.highlighted = keep if keep is not None and keep < len(turns) else len(turns) - 1
            self.scroll_to_highlight()


def adopted_which(s: Session, t: TurnRecord) -> str | None:
    """Which run and sample of its model an adopted turn is, "run 3 · sample 2" (None: not
    adopted, or its generation is not recorded)."""
    gen = (
        next((g for g in s.generations if g.id == t.adopted_from), None) if t.adopted_from else None
    )
    if gen is None:
        return None
    runs = s.runs(gen.model, gen.node)
    for k, run in enumerate(runs, 1):
        for i, g in enumerate(run, 1):
            if g.id == gen.id:
                return f"run {k} · sample {i}" if len(runs) > 1 or len(run) > 1 else None
    return None
