"""The message box: Enter sends; pasted text keeps its newlines (however long)."""

from __future__ import annotations

from typing import ClassVar, cast

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from psmlab.core.domain.textsafe import pasted, typed_controls
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
            if why := typed_controls(text):  # kept in the box, to mend
                self.notify(f"Not sent: {why}", severity="warning")
            elif text.strip():
                # A pasted file's last line break is not part of the message (a trial's went
                # into the prompt, "…who you are.\n<|im_end|>"); text inside it is kept.
                self.post_message(self.Submitted(text.rstrip("\r\n")))
            else:  # Enter on an empty box did nothing, without a word
                self.notify("Type a message first: an empty one is not sent", severity="warning")
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        text, said = pasted(event.text)
        if said is None:
            return  # Textual calls the text area's own handler after this one
        event.stop()
        event.prevent_default()
        if not self.read_only:
            self.insert(text)
            self.notify(said, severity="warning")


def own_keys(bindings: list[BindingType]) -> frozenset[str]:
    """The keys a widget's bindings act on."""
    return frozenset(k for b in bindings if isinstance(b, Binding) for k in b.key.split(","))


class TypingStartsMessage:
    """A focusable part of the lab (a column, the transcript) whose keys are letters: a letter
    typed there that is none of its keys starts a message, and focus moves to the message box
    with it (trials typed "ok really" into a column and "good" into the transcript, where its
    d opened the delete dialog). Its own keys still act, as F1 lists them. A plain mixin, put
    first among the bases: a Widget base here would hide the widget's own CSS from Textual."""

    OWN_KEYS: ClassVar[frozenset[str]] = frozenset()

    async def on_key(self, event: events.Key) -> None:
        screen = cast(Widget, self).screen
        boxes = screen.query(Composer)
        if not boxes:
            return
        box = boxes.first()
        if screen.focused is box:
            # Keys typed fast (or pasted) queue here before the focus moved: once a message
            # has started, every one of them is the message's, own keys, backspace and Enter
            # included, handled by the box in order ('the' + 2 backspaces + 'ey').
            event.stop()
            event.prevent_default()
            await box._on_key(event)
            return
        if not event.is_printable or not event.character:
            return
        if event.key in self.OWN_KEYS and not self.nothing_to_act_on(event.key):
            return
        event.stop()
        event.prevent_default()
        screen.set_focus(box)
        box.insert(event.character)

    async def on_paste(self, event: events.Paste) -> None:
        """A paste here goes to the message box, as a typed letter does: it was dropped (a
        trial's bracketed paste into a focused column left the box empty)."""
        screen = cast(Widget, self).screen
        boxes = screen.query(Composer)
        if not boxes or not event.text:
            return
        event.stop()
        event.prevent_default()
        box = boxes.first()
        screen.set_focus(box)
        text, said = pasted(event.text)
        box.insert(text)
        if said is not None:
            box.notify(said, severity="warning")

    def nothing_to_act_on(self, key: str) -> bool:
        """The key would only say it cannot act: then it is a letter of a message."""
        return False
