"""The psmlab TUI application: the lab screen plus its actions."""

from __future__ import annotations

from psmlab.tui.actions import LabActions


class PsmlabApp(LabActions):
    """`psmlab` with no arguments: models side by side over one transcript."""
