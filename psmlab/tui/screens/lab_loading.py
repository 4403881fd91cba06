"""The lab screen's model loading: each column's model loaded in a worker, its status said as it
comes in, or, blind, once every column's is in (the column ready first would name the smaller
model). A base of `LabView`, between it and `ForcedView`."""

from __future__ import annotations

from textual import work

from psmlab.core.errors import PsmlabError
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import Column
from psmlab.tui.messages import ModelLoaded
from psmlab.tui.screens.forced_view import ForcedView
from psmlab.tui.widgets.column_state import blind_error


class LoadingView(ForcedView):
    """Loading for the lab screen; `LabView` sets `_loaded` (the loads held back while blind)."""

    _loaded: dict[str, ModelLoaded]

    def _load_all(self) -> None:
        self._loaded.clear()  # held loads of a session opened before are not this one's
        for c in self.lab.columns:
            self._load(self.lab, c)

    @work(thread=True, group="load")
    def _load(self, lab: Lab, col: Column) -> None:
        try:
            model = lab.pool.get(col.spec)
            self.post_message(ModelLoaded(col.id, None, model.load_s))
        except PsmlabError as exc:
            self.post_message(ModelLoaded(col.id, exc.one_line(), error_blind=blind_error(exc)))

    def on_model_loaded(self, msg: ModelLoaded) -> None:
        if msg.model_id not in self.states:
            return
        self._loaded[msg.model_id] = msg
        waiting = [
            m
            for m, x in self.states.items()
            if x.status == "loading model…" and m not in self._loaded
        ]
        if self.lab.blind and waiting:
            return  # blind: the column ready first would be the smaller model
        self.say_loaded()

    def say_loaded(self) -> None:
        """Put the held loads on their columns: only a column still loading changes (one that
        started a run meanwhile keeps saying so)."""
        for done in self._loaded.values():
            st = self.states.get(done.model_id)
            if st is None or st.status != "loading model…":
                continue
            st.error, st.error_blind = done.error, done.error_blind
            st.status = "ready" if done.error is None else "failed"
            self._refresh(done.model_id)
        self._loaded.clear()
        if all(x.status != "loading model…" for x in self.states.values()):
            self._score_what_was_left()
