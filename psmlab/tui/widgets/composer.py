"""The message box: Enter sends; pasted text keeps its newlines (however long)."""

from __future__ import annotations

from textual import events
from textual.message import Message

from psmlab.tui.widgets.ordered import OrderedTextArea


class Composer(OrderedTextArea):
    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text
            if text.strip():
                self.post_message(self.Submitted(text))
            else:  # Enter on an empty box did nothing, without a word
                self.notify("Type a message first: an empty one is not sent", severity="warning")
            return
        await super()._on_key(event)
