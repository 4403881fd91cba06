"""The psmlab TUI application: a small shell around the lab screen (`screens.lab.LabScreen`)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from psmlab.core.run.lab import Lab
from psmlab.tui.screens.lab import LabScreen


class PsmlabApp(App[None]):
    """`psmlab` with no arguments: models side by side over one transcript."""

    CSS_PATH = "app.tcss"
    TITLE = "psmlab"
    # Textual's own ctrl+q quits at once, even over the lab; the lab screen binds it to a quit
    # that asks first about unsaved work.
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=False)]

    def __init__(self, lab: Lab) -> None:
        super().__init__()
        self._lab_screen = LabScreen(lab)

    def get_default_screen(self) -> LabScreen:
        return self._lab_screen

    @property
    def lab_screen(self) -> LabScreen:
        return self._lab_screen

    async def action_quit(self) -> None:
        """Quitting from anywhere (the command palette too) asks the lab first."""
        await self._lab_screen.action_quit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Quit" would stand beside the lab's (which asks about unsaved work).
        yield from (c for c in super().get_system_commands(screen) if c.title != "Quit")
        yield from self._lab_screen.system_commands()
