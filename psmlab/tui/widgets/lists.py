"""Lists that stop at their ends: up on the first item and down on the last stay put, and read on
through an item taller than the list instead."""

from __future__ import annotations

from textual.widgets import OptionList


class StopAtEnds(OptionList):
    """OptionList wraps around: a trial going up for the first answer in the picker landed on
    "send without adopting" at the bottom, and up from turn 1 of the transcript selected the
    last turn (then `e` edited the wrong one).

    At an end, the keys scroll instead: a last turn taller than the transcript showed only its
    top, and Down, PageDown and End did nothing, so its end (who wrote it, how it was cut) could
    not be read."""

    def action_cursor_up(self) -> None:
        if self.highlighted is None:
            # Nothing highlighted (the answer picker when no answer was looked at): up starts
            # at the top as down does; OptionList's went to the last row, "send without adopting".
            self.action_first()
        elif self.highlighted != 0:
            super().action_cursor_up()
        else:
            self.scroll_up(animate=False)

    def action_cursor_down(self) -> None:
        if self.highlighted is None or self.highlighted < self.option_count - 1:
            super().action_cursor_down()
        else:
            self.scroll_down(animate=False)

    def action_page_down(self) -> None:
        if self.highlighted is not None and self.highlighted == self.option_count - 1:
            self.scroll_page_down(animate=False)
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self.highlighted == 0:
            self.scroll_page_up(animate=False)
        else:
            super().action_page_up()

    def action_last(self) -> None:
        super().action_last()
        # The end of the list, the last item's end too (the highlight shows only its top).
        self.call_after_refresh(self.scroll_end, animate=False)

    def action_first(self) -> None:
        super().action_first()
        self.call_after_refresh(self.scroll_home, animate=False)
