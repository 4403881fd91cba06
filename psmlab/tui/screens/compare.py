"""Two runs side by side (F9 / c): their samples, and the settings that differ between them."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from psmlab.core.session.run_settings import differences, run_settings
from psmlab.core.session.schema import GenerationRecord
from psmlab.tui.keys import in_lab_words
from psmlab.views import safe


@dataclass(frozen=True)
class RunView:
    title: str  # "gemma-3-270m · run 1/2"
    run: list[GenerationRecord]


class CompareScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, left: RunView, right: RunView) -> None:
        super().__init__(classes="dialog-screen")
        self.left, self.right = left, right

    def compose(self) -> ComposeResult:
        diff = differences(self.left.run, self.right.run)
        head = Text("Compare runs · Esc: back\n", style="bold")
        head.append("differs: " if diff else "same settings (only sampling luck differs)")
        head.append_text(safe(" · ".join(diff)))
        with Vertical(classes="dialog full"):
            yield Static(head, classes="dialog-title")
            with Horizontal(id="compare-panes"):
                for view in (self.left, self.right):
                    with VerticalScroll(classes="compare-pane"):
                        yield Static(self._pane(view))

    @staticmethod
    def _pane(view: RunView) -> Text:
        out = Text()
        out.append_text(safe(view.title, "bold"))
        s = run_settings(view.run)
        shown = " · ".join(f"{k} {'—' if v is None else v}" for k, v in s.items())
        out.append_text(safe("\n" + shown, "dim"))
        # "system —" means none was given, not none was seen: a chat template may have filled
        # in its default system prompt, which the run's prompt warnings say.
        for w in dict.fromkeys(w for g in view.run for w in g.warnings):
            out.append_text(safe(f"\n⚠ {in_lab_words(w)}", "yellow"))
        for g in view.run:
            out.append(
                f"\n\nsample {g.sample + 1} · seed {g.seed} · {g.finish_reason}\n", style="bold"
            )
            if g.text:
                out.append_text(safe(g.text))
            else:
                out.append("(empty: the turn ended at once)", style="dim italic")
        return out
