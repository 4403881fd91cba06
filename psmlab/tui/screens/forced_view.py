"""The lab screen's forced-choice panel: scored in a worker after each run, for the pending
message with each column's settings, and dropped or marked when the transcript or the settings
change. The base of `LabView`, which supplies the states, the lab and the redraw."""

from __future__ import annotations

import threading

from textual import work
from textual.screen import Screen

from psmlab.core.errors import PsmlabError, ScoringCancelled
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import Column
from psmlab.tui.messages import ForcedChoice
from psmlab.tui.states import forced_of, settings_of
from psmlab.tui.widgets.column_state import ColumnState


class ForcedView(Screen[None]):
    """Forced choice for the lab screen; `LabView` sets these attributes and draws columns."""

    lab: Lab
    states: dict[str, ColumnState]
    _forced_cancel: threading.Event
    _forced_key: tuple[tuple[str, str], ...] | None  # the transcript the scoring is of
    generating: bool

    def _refresh(self, model_id: str, *, follow: bool = False) -> None:
        raise NotImplementedError

    def _transcript_key(self) -> tuple[tuple[str, str], ...]:
        """The transcript up to the message whose answers the columns show: adopting one of
        them appends a turn but leaves the forced choice for that message true and on screen."""
        turns = self.lab.turns
        node = self.lab.shown_node()
        at = next((i for i, t in enumerate(turns) if t.id == node), len(turns) - 1)
        return tuple((t.role, t.content) for t in turns[: at + 1])

    def _drop_stale_forced(self) -> None:
        """A forced choice answers one message: once the transcript up to it changed (a message
        sent, a turn edited or deleted) it is no longer shown. Adopting an answer keeps it."""
        key = self._transcript_key()
        if self._forced_key is not None and key != self._forced_key:
            # The scoring under way is of a transcript no longer there: stopped, and said to be
            # (its result would be dropped, and "scoring…" stay, in every column when blind).
            self._forced_cancel.set()
            self._forced_key = key
            for st in self.states.values():
                st.forced_pending = False
            for m in self.states:  # once all are cleared: blind, each says if any is pending
                self._refresh(m)
        for m, st in self.states.items():
            if (st.forced is not None or st.forced_error) and st.forced_on != key:
                st.forced, st.forced_error, st.forced_on = None, None, ()
                st.forced_error_with = None
                st.forced_pending = False
                self._refresh(m)

    def _start_forced_choice(self) -> None:
        """The distribution panel's forced choice, recomputed when a run completes. A new run
        stops it (`start_run` sets its event): on a server, its many short requests would only
        compete with the answers. The event is made here, on the main thread, for that reason."""
        self._forced_cancel.set()
        self._forced_cancel = cancel = threading.Event()
        self._forced_key = self._transcript_key()
        node = self.lab.session.head
        if self.lab.awaiting_answer():
            for m, st in self.states.items():
                st.forced_pending = True
                self._refresh(m)
        elif node is not None and self.lab.continued_at_head():
            # The runs continued an adopted answer, which is not scored: the message it answered
            # is, for a column whose scoring of it this run stopped (beside the others' "scored
            # for the message before", a trial read "not scored for a continued answer").
            parent = self.lab.session.node(node).parent
            if parent is None or self.lab.session.node(parent).role != "user":
                return
            node = parent
            for st in self.states.values():
                if st.forced is None and not st.forced_error:
                    st.forced_pending = True
            for m in self.states:  # every column: blind, each says "scoring…" while any is
                self._refresh(m)
        self._forced_choice(self.lab, list(self.lab.columns), cancel, self._transcript_key(), node)

    def _score_what_was_left(self) -> None:
        """A forced choice a quit (or a new session) stopped before it finished is scored once the
        models are loaded again: the panel said "scored once every column's run is over" of
        runs long over, and nothing scored it."""
        if self.generating or not self.lab.awaiting_answer():
            return
        shown = self.lab.session.generations_at(self.lab.shown_node())
        if any("experiment" in g.provenance for g in shown):
            return  # samples to annotate: not the annotator's file to score into, unasked
        done = [
            st
            for st in self.states.values()
            if st.status != "failed"
            and st.samples
            and all(x.record is not None for x in st.samples)
        ]
        if any(st.forced is None and not st.forced_error and not st.forced_pending for st in done):
            self._start_forced_choice()  # the ones scored before come back from the session

    @work(thread=True, group="forced", exclusive=True)
    def _forced_choice(
        self,
        lab: Lab,
        columns: list[Column],
        cancel: threading.Event,
        key: tuple[tuple[str, str], ...],
        node: str | None,
    ) -> None:
        for c in columns:
            try:
                saved = lab.saved_forced(c, node)
                if saved is not None:  # scored before at this turn with these settings
                    self.post_message(ForcedChoice(c.id, forced_of(saved), turns=key))
                    continue
                # The message the run answered, even if an answer was adopted meanwhile.
                r = lab.forced_choice(c, cancel, node)
                if r is None:
                    # Nothing to score here (a run that continued an adopted answer): what the
                    # column shows for the message before stays (a trial saw it vanish when
                    # another column regenerated).
                    continue
                self.post_message(ForcedChoice(c.id, forced_of(r), turns=key))
            except ScoringCancelled:
                return
            except Exception as exc:
                # Any failure is this column's panel's, never the lab's: an unexpected one (a
                # bug, a half-upgraded install) closed the whole app from this worker.
                why = (
                    exc.problem
                    if isinstance(exc, PsmlabError)
                    else f"internal error: {type(exc).__name__}: {exc}"
                )
                with_ = settings_of(c)
                self.post_message(ForcedChoice(c.id, None, why, turns=key, error_with=with_))

    def on_forced_choice(self, msg: ForcedChoice) -> None:
        st = self.states.get(msg.model_id)
        if st is not None and msg.turns == self._transcript_key():  # else computed on an old one
            st.forced, st.forced_error, st.forced_on = msg.forced, msg.error, msg.turns
            st.forced_error_with = msg.error_with
            st.forced_pending = False
            # Blind, every column says "scoring" until the last is scored (`ModelColumn`): the
            # first done would name the faster model.
            for m in self.states if self.lab.blind else [msg.model_id]:
                self._refresh(m)
