"""Lists that stop at their ends: up on the first item and down on the last stay put."""

from __future__ import annotations

from textual.widgets import OptionList


class StopAtEnds(OptionList):
    """OptionList wraps around: a trial going up for the first answer in the picker landed on
    "send without adopting" at the bottom, and up from turn 1 of the transcript selected the
    last turn (then `e` edited the wrong one)."""

    def action_cursor_up(self) -> None:
        if self.highlighted is None:
            # Nothing highlighted (the answer picker when no answer was looked at): up starts
            # at the top as down does; OptionList's went to the last row, "send without adopting".
            self.action_first()
        elif self.highlighted != 0:
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if self.highlighted is None or self.highlighted < self.option_count - 1:
            super().action_cursor_down()
