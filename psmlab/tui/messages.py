"""Messages from the lab's worker threads to the UI thread."""

from __future__ import annotations

from textual.message import Message

from psmlab.core.run.runner import Event, RunResult
from psmlab.tui.widgets.column_state import Forced, Settings


class LabEvent(Message):
    """A runner event other than a token (tokens are batched: `LabView._flush_tokens`)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunFinished(Message):
    def __init__(self, result: RunResult | None, error: str | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class ModelLoaded(Message):
    def __init__(
        self, model_id: str, error: str | None, load_s: float = 0.0, error_blind: str | None = None
    ) -> None:
        super().__init__()
        self.model_id = model_id
        self.error = error
        self.error_blind = error_blind  # the error in words that name no model
        self.load_s = load_s


class ForcedChoice(Message):
    """A column's forced choice for the pending answer (`forced` None: there is none, see
    `error`), and the transcript it was computed on (`turns`: role and text of each turn)."""

    def __init__(
        self,
        model_id: str,
        forced: Forced | None,
        error: str | None = None,
        turns: tuple[tuple[str, str], ...] = (),
        error_with: Settings | None = None,
    ) -> None:
        super().__init__()
        self.model_id = model_id
        self.forced = forced
        self.error = error  # why there is none (e.g. a server without prompt log-probabilities)
        self.turns = turns
        # The settings (format, system, prefill, steering) the error came with: a broken
        # template's error is not the next format's.
        self.error_with = error_with
