"""Text boxes that keep typed keys in order: editing keys run where the key arrives."""

from __future__ import annotations

from textual import events
from textual.widget import Widget
from textual.widgets import Input, TextArea


async def run_own_binding(widget: Widget, event: events.Key) -> bool:
    """Run `widget`'s own (non-priority) binding for this key now; True if one acted.

    Textual handles a printable key inside the focused text box but a bound one (backspace,
    arrows, home/end) only after the event has bubbled up to the app, one message queue per
    ancestor: in a burst (a paste, tmux send-keys, a fast typist on a busy machine) the next
    letters overtake it, and 'Are you?' + backspaces + 'Do you?' came out 'ADo you' (Textual
    issue 6605). Priority bindings were already checked before the key reached the widget."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False


class OrderedTextArea(TextArea):
    """A TextArea whose editing keys keep their place among typed letters."""

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):
            await super()._on_key(event)


class OrderedInput(Input):
    """An Input whose editing keys keep their place among typed letters."""

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_binding(self, event):
            await super()._on_key(event)
