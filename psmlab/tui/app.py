"""The psmlab TUI application: a small shell around the lab screen (`screens.lab.LabScreen`)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from psmlab.core.run.lab import Lab
from psmlab.tui.screens.lab import LabScreen


class PsmlabApp(App[None]):
    """`psmlab` with no arguments: models side by side over one transcript."""

    CSS_PATH = "app.tcss"
    TITLE = "psmlab"
    # Textual's own ctrl+q quits at once, even over the lab; the lab screen binds it to a quit
    # that asks first about unsaved work.
    # Tab moves focus as the app reads it (priority): bound lower down, it ran only after the
    # key had passed through the focused field, and letters typed after it still went to the
    # field it was leaving ("1.5", Tab, "4" made a Confidence of "1.54").
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("tab", "focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(self, lab: Lab) -> None:
        super().__init__()
        self._lab_screen = LabScreen(lab)

    def get_default_screen(self) -> LabScreen:
        return self._lab_screen

    @property
    def lab_screen(self) -> LabScreen:
        return self._lab_screen

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry paths, model ids and error text as written: read as markup, a
        "[/x]" in a file name dropped the toast without a word. None of psmlab's use markup, so
        it is off whatever a caller passes (a widget's notify passes True)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        """Ctrl+C does not quit: said in words (Textual's own toast is markup, which `notify`
        shows as written: "Press [b]ctrl+q[/b]"), with the key that stops a generation."""
        keys = [
            k for k, b in self.active_bindings.items() if b.binding.action in ("quit", "app.quit")
        ]
        quit_key = (
            "+".join(p.capitalize() if len(p) > 1 else p.upper() for p in keys[0].split("+"))
            if keys
            else "Ctrl+Q"
        )
        self.notify(
            f"Press {quit_key} to quit the app (Esc stops a generation)",
            title="Do you want to quit?",
        )

    async def action_quit(self) -> None:
        """Quitting from anywhere (the command palette too) asks the lab first."""
        await self._lab_screen.action_quit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Quit" would stand beside the lab's (which asks about unsaved work).
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")
        yield from self._lab_screen.system_commands()
