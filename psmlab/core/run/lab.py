"""The interactive lab's state and actions, for the TUI (and anything else) to drive.

The TUI keeps no lab logic of its own: it calls these methods (generation in a worker thread) and
renders the events. Everything is recorded in a Session that autosaves after each generation and
annotation.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from psmlab.core.backends import quiet_native_logs
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import PsmlabError, SessionError, UsageError
from psmlab.core.models.cvec import ControlVector
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.lab_measure import LabInstruments
from psmlab.core.run.lab_reopen import reopened_columns
from psmlab.core.run.recorder import SessionRecorder
from psmlab.core.run.runner import Column, Event, RunResult, run
from psmlab.core.session import disk
from psmlab.core.session import file as store
from psmlab.core.session.records import title_of
from psmlab.core.session.schema import (
    Annotation,
    GenerationRecord,
    Session,
    TurnRecord,
)


class Lab(LabInstruments):
    """Columns of models over one session. Mutations hold `lock`; generation runs in any thread."""

    def __init__(
        self,
        specs: list[ModelSpec],
        *,
        session: Session | None = None,
        path: Path | None = None,
        pool: ModelPool | None = None,
        params: SamplingParams | None = None,
    ) -> None:
        # Before any model loads: llama.cpp must never write to the screen of a front end.
        quiet_native_logs()
        self.columns = [Column(s, params=params or SamplingParams()) for s in specs]
        self.session = session or Session(title="untitled lab")
        self.path = path
        self.pool = pool or ModelPool()
        # A pool given is shared (a second session open in the app, a test's loaded models):
        # its owner closes it, not this lab.
        self._owns_pool = pool is None
        self.lock = threading.RLock()
        self.n_samples = 1
        self.logprobs = 0  # record each token's probability and this many alternatives
        self.dirty = False
        # Written in this lab (a save): until then, results derived on opening (the forced
        # choice of a turn left unscored) stay in memory, so a file opened and quit untouched
        # is not rewritten (a trial's `open` of the shipped example then Ctrl+Q made it v2).
        self.written = False
        self.save_error: str | None = None
        self._lock_fd = -1
        self.warnings: list[str] = []
        # Control vectors every new answer is re-read and projected on (`add_monitor`), and
        # what the last run's monitoring had to say (a skipped model, a failure).
        self.monitor: list[tuple[Path, ControlVector]] = []
        self.monitor_warnings: list[str] = []
        self.monitoring = False  # a run's answers are being measured (after they are recorded)

    @property
    def blind(self) -> bool:
        """Blind mode: kept in the session, so the file says it and reopens blind."""
        return self.session.blind

    @blind.setter
    def blind(self, on: bool) -> None:
        with self.lock:
            if self.session.blind != on:
                self.session.blind = on
                self._mark_changed()
                if self.path is not None:
                    self.autosave()

    @property
    def seed(self) -> int | None:
        """The seed of sample 1 for the next runs (None: random): kept in the session, as the
        columns' settings are, so a reopened session runs as it was left."""
        return self.session.seed

    @seed.setter
    def seed(self, seed: int | None) -> None:
        with self.lock:
            if self.session.seed != seed:
                self.session.seed = seed
                self._mark_changed()
                if self.path is not None:
                    self.autosave()

    def _mark_changed(self) -> None:
        """A setting changed: unsaved work, unless the lab holds nothing yet (no file, no turn),
        which quitting need not ask about (a trial's untouched `psmlab --blind` asked)."""
        self.dirty = self.dirty or self.path is not None or bool(self.session.nodes)

    # --- opening and saving -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, pool: ModelPool | None = None) -> Lab:
        """Continue a saved session; its models become the columns, with their recorded settings."""
        session = store.load(path)
        configs, warnings, n_samples = reopened_columns(session)
        lab = cls([c.spec for c in configs], session=session, pool=pool)
        lab.columns = configs
        lab.warnings = warnings
        lab.n_samples = n_samples
        lab.attach(path)
        return lab

    def attach(self, path: Path) -> None:
        """Hold the file's lock from now on, so a second psmlab cannot write it at the same time."""
        if self._lock_fd >= 0 and self.path == path:
            return
        fd = disk.acquire_lock(path, wait_s=0.5)
        if path.exists() and self.path != path:
            try:
                on_disk = store.load(path)
            except SessionError:
                os.close(fd)
                raise
            if on_disk.id != self.session.id:
                os.close(fd)
                raise SessionError(
                    f"{path} already holds another session", "choose another file name"
                )
        self.release()
        self._lock_fd, self.path = fd, path

    def release(self) -> None:
        if self._lock_fd >= 0:
            if self.path is not None:
                disk.release_lock(self.path, self._lock_fd)  # no lock file left behind
            else:
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)
            self._lock_fd = -1

    def save(self, path: Path | None = None) -> Path:
        with self.lock:
            target = path or self.path or store.new_path(self.session.title)
            before = self.path
            self.attach(target)
            self.session.touch()
            try:
                disk.atomic_write(target, store.dumps(self.session), session=True)
            except PsmlabError:
                if before != target:
                    # A save-as that failed: the lab goes on in its own file (or in none yet),
                    # whose autosaves would otherwise all fail at the new path.
                    if before is None:
                        self.release()
                        self.path = None
                    else:
                        with contextlib.suppress(PsmlabError):
                            self.attach(before)
                raise
            self.dirty = False
            self.written = True
            self.save_error = None
            return target

    def autosave(self) -> None:
        """Save after each generation and annotation; a failure is reported, never raised."""
        try:
            self.save()
        except PsmlabError as exc:
            self.save_error = exc.one_line()

    # --- the conversation -------------------------------------------------------------------

    @property
    def turns(self) -> list[TurnRecord]:
        return self.session.turns

    def awaiting_answer(self) -> bool:
        return bool(self.turns) and self.turns[-1].role == "user"

    def continued_at_head(self) -> bool:
        """The head is an assistant turn the columns continued (runs made at it)."""
        head = self.session.head
        return (
            head is not None
            and self.session.node(head).role == "assistant"
            and bool(self.session.generations_at(head))
        )

    def send(
        self,
        message: str,
        *,
        adopt: str | None = None,
        how: str = "picker",
        without_answer: bool = False,
    ) -> TurnRecord | None:
        """Add the next user message. If the last user message still waits for its answer, the
        answer the user chose (`adopt`, a generation id; `how` says how it was chosen) is adopted
        first, or none when the user said so (`without_answer`: two user messages in a row).
        Nothing is ever adopted by default. Returns the adopted turn, or None."""
        if not message.strip():
            raise UsageError("the message is empty", "type something first")
        with self.lock:
            adopted = None
            if self.awaiting_answer() and not without_answer:
                if adopt is None:
                    raise UsageError(
                        "the last user message has no adopted answer",
                        "choose an answer to adopt, or send without one",
                    )
                adopted = self.adopt(adopt, how=how)
            elif adopt is not None:
                # A continuation of the assistant turn at the head, chosen to stand in its
                # place (the turn as it was stays in the tree).
                if self.session.generation(adopt).node != self.session.head:
                    raise UsageError(
                        "that answer does not continue the last turn",
                        "choose one of the answers shown, or send without one",
                    )
                adopted = self.adopt(adopt, how=how)
            if self.session.title == "untitled lab":
                self.session.title = title_of(message)
            self.session.add_turn(TurnRecord(role="user", content=message))
            self.dirty = True
            self.autosave()  # the message is on disk before any model starts
            return adopted

    def run(
        self,
        only: list[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> RunResult:
        """Every column (or only some) continues the current transcript; N samples each."""
        cols = [c for c in self.columns if only is None or c.id in only]
        transcript = self.session.transcript()
        if self.blind:
            self.column_order()  # the shuffled order is recorded before anything is shown
        recorder = SessionRecorder(
            self.session,
            cols,
            turn=len(self.turns),
            node=self.session.head,
            on_change=self.autosave,
        )

        def sink(ev: Event) -> None:
            with self.lock:
                recorder.on_event(ev)
            if on_event is not None:
                on_event(ev)

        result = run(
            transcript,
            cols,
            n=self.n_samples,
            seed=self.seed,
            pool=self.pool,
            cancel=cancel,
            on_event=sink,
            logprobs=self.logprobs,
        )
        self.measure_monitors([g.id for g in result.generations], cols, cancel)
        return result

    def adopt(self, gen_id: str, how: str = "key") -> TurnRecord:
        with self.lock:
            turn = self.session.adopt(gen_id, how)
            self.autosave()
            return turn

    def annotate(self, annotation: Annotation) -> Annotation:
        with self.lock:
            a = self.session.annotate(annotation.model_copy(update={"blind": self.blind}))
            self.autosave()
            return a

    def edit_turn(self, index: int, content: str | None) -> None:
        with self.lock:
            self.session.edit_turn(index, content)
            self.dirty = True
            self.autosave()  # like every other change: on disk at once, not at quit

    def go(self, node_id: str | None) -> None:
        """Continue from another turn of the tree (any branch); nothing is lost."""
        with self.lock:
            self.session.go(node_id)
            self.dirty = True
            self.autosave()

    def shown_node(self) -> str | None:
        """The turn whose answers the columns show: the pending message, or after an adoption the
        message the adopted answer replied to, so the other answers stay in view."""
        head = self.session.head
        if head is None:
            return None
        turn = self.session.node(head)
        if turn.adopted_from and not self.session.generations_at(head):
            with contextlib.suppress(SessionError):
                return self.session.generation(turn.adopted_from).node
        return head

    def runs(self, model_id: str) -> list[list[GenerationRecord]]:
        """A column's runs at the shown turn, oldest first, each by sample index."""
        return self.session.runs(model_id, self.shown_node())

    def next_run_number(self, model_id: str) -> int:
        """The number (1-based) the next run of a column gets: runs are counted at the turn it
        answers, the head; after an adoption that is the adopted turn (continued), not the
        shown turn whose answers stay in view."""
        return len(self.session.runs(model_id, self.session.head)) + 1

    def latest(self, model_id: str) -> list[GenerationRecord]:
        """The newest run's samples for a column at the shown turn, by sample index."""
        runs = self.runs(model_id)
        return runs[-1] if runs else []

    def column_order(self) -> list[str]:
        """Column ids in display order. Blind: shuffled once per turn, and the order recorded in
        the session (so a reopened session shows the same order, and an analysis can undo it)."""
        ids = [c.id for c in self.columns]
        if not self.blind:
            return ids
        key = self.shown_node() or ""
        with self.lock:
            order = self.session.column_orders.get(key)
            if order is None or sorted(order) != sorted(ids):
                order = ids[:]
                random.SystemRandom().shuffle(order)
                self.session.column_orders[key] = order
                self._mark_changed()
                if self.path is not None:  # a session with a file keeps it; none is made for it
                    self.autosave()
        return list(order)

    # --- the prompt inspector ---------------------------------------------------------------

    def format_for(self, col: Column) -> Format:
        return col.spec.get_format(col.format_name)

    def render(self, col: Column) -> RenderedPrompt:
        """Exactly what the column's model receives for the current transcript."""
        model = self.pool.get(col.spec)
        return render(
            self.session.transcript(),
            self.format_for(col),
            model.vocab,
            model_id=col.id,
            model=col.spec,
            n_ctx=model.n_ctx,
            system=col.system,
            prefill=col.prefill,
            reserve=col.params.max_tokens,
        )

    def render_made(self, gen_id: str) -> RenderedPrompt:
        """Exactly what the model received for a recorded answer (its turn, format, system
        prompt and prefill as recorded), which the column's settings may since have changed."""
        from psmlab.core.run.replay import made_prompt

        g = self.session.generation(gen_id)
        col = self.column(g.model)
        return made_prompt(self.pool.get(col.spec), col.spec, self.session, g)

    def column(self, model_id: str) -> Column:
        """The open column of this model."""
        return self.columns[self._index(model_id)]

    def _index(self, model_id: str) -> int:
        for i, c in enumerate(self.columns):
            if c.id == model_id:
                return i
        raise UsageError(f"no column {model_id}", "pick one of the open columns")

    def configure(self, model_id: str, **changes: object) -> Column:
        """Change a column's format, system prompt, prefill or parameters (validated)."""
        with self.lock:
            i = self._index(model_id)
            new = replace(self.columns[i], **changes)  # type: ignore[arg-type]
            self.format_for(new)  # an unknown format fails here, not at the next send
            self.columns[i] = new
            rec = self.session.model(model_id)
            if rec is not None:
                # Kept in the session (said "saved", they were lost at quit, and a reopened
                # session ran the old prefill): what the record holds, and the sampling
                # settings until a run records them with its answers.
                self.session.upsert_model(
                    rec.model_copy(
                        update={
                            "format": new.format_name,
                            "system": new.system,
                            "prefill": new.prefill,
                            "steer": new.steering.record() if new.steering else None,
                            "params": new.params.model_dump(),
                        }
                    )
                )
                self.dirty = True
                self.autosave()
            return new

    def close(self) -> None:
        """Give up the session's lock and close the models, if this lab loaded them."""
        self.release()
        if self._owns_pool:
            self.pool.close()
