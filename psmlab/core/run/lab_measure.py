"""The lab's instruments beside generation: monitoring answers on control vectors, and forced choice
for the pending user message. A mixin of `Lab`, which holds the state these methods use."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psmlab.core.backends import Backend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import PsmlabError, ScoringCancelled, SessionError
from psmlab.core.models.cvec import ControlVector, read_cvec
from psmlab.core.run.runner import Column
from psmlab.core.session.schema import ForcedRecord, GenerationRecord, Session


class LabInstruments:
    """Monitoring and forced choice; `Lab` supplies the attributes and the four methods below."""

    session: Session
    lock: threading.RLock
    pool: ModelPool
    columns: list[Column]
    dirty: bool
    written: bool
    monitor: list[tuple[Path, ControlVector]]
    monitor_warnings: list[str]
    monitoring: bool

    def autosave(self) -> None:
        raise NotImplementedError

    def awaiting_answer(self) -> bool:
        raise NotImplementedError

    def format_for(self, col: Column) -> Format:
        raise NotImplementedError

    def shown_node(self) -> str | None:
        raise NotImplementedError

    def add_monitor(self, path: Path) -> ControlVector:
        """Project every new answer on this control vector (read now: a bad file fails here).
        The same file twice is monitored once."""
        vec = read_cvec(path)
        # numpy-heavy: only when asked
        from psmlab.core.inside.fit import require_fit, unit_directions

        unit_directions(vec, path)  # nothing to project on: said now, not under every answer
        require_fit(vec, [c.spec for c in self.columns], path, "column's model")
        where = Path(path).expanduser().resolve()
        with self.lock:
            self.monitor = [(p, v) for p, v in self.monitor if p != where] + [(where, vec)]
        return vec

    def measure_monitors(
        self,
        gen_ids: list[str],
        cols: list[Column] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Re-read these generations (a second forward pass each) with activation capture and
        keep their projections on each monitored vector in the session, then autosave. Slow:
        call it off any UI thread. A failure becomes a line of `monitor_warnings`, never raised."""
        self.monitor_warnings = []
        if not self.monitor or not gen_ids:
            return
        from psmlab.core.inside.monitor import measure, record, vector_info

        if cancel is not None and cancel.is_set():
            self.monitor_warnings.append("monitoring skipped: the run was cancelled")
            return
        cols = cols if cols is not None else self.columns
        threads = min((c.spec.n_threads for c in cols), default=1)
        ids = set(gen_ids)
        with self.lock:
            gens = [g for g in self.session.generations if g.id in ids]
        self.monitoring = True
        try:
            for path, vec in list(self.monitor):
                if cancel is not None and cancel.is_set():
                    self.monitor_warnings.append("monitoring stopped: cancelled")
                    break
                warnings: list[str] = []
                try:
                    rows = measure(self.session, vec, gens, n_threads=threads, warnings=warnings)
                    info = vector_info(vec, path)
                except PsmlabError as exc:
                    self.monitor_warnings.append(f"monitor {path.name}: {exc.one_line()}")
                    continue
                except OSError as exc:
                    self.monitor_warnings.append(f"monitor {path.name}: {exc}")
                    continue
                self.monitor_warnings.extend(f"monitor {path.name}: {w}" for w in warnings)
                with self.lock:
                    record(self.session, rows, info)
                    self.dirty = True
                self.autosave()
        finally:
            self.monitoring = False

    # --- forced choice ---------------------------------------------------------------------

    def forced_choice(
        self, col: Column, cancel: threading.Event | None = None, node: str | None = None
    ) -> ForcedRecord | None:
        """Each archetype's probability as the answer to a user message (`node`, or the pending
        one; None if there is none) and the opening design's self-identification after it, as
        recorded in the session. Given the node, an answer adopted meanwhile changes nothing:
        the message scored is the one the run answered."""
        from psmlab.core.domain.personas import load_personas
        from psmlab.core.domain.transcript import Turn
        from psmlab.core.measure.probes import probe_transcript

        with self.lock:
            if node is None:
                if not self.awaiting_answer():
                    return None
                node = self.session.head
            path = self.session.path(node)
            if not path or path[-1].role != "user":
                return None
            transcript = Transcript(tuple(Turn(t.role, t.content) for t in path))
        model = self.pool.get(col.spec, col.steering)
        fmt = self.format_for(col)
        result = probe_transcript(
            model,
            transcript,
            fmt,
            load_personas()[0],
            system=col.system,
            prefill=col.prefill,
            cancel=cancel,
        )
        opening, why = _walk_opening(model, transcript, fmt, col, cancel)
        with self.lock:  # kept with what was scored, so a reopened session shows it again
            rec = ForcedRecord(
                model=col.id,
                node=node,
                format=col.format_name,
                system=col.system,
                prefill=col.prefill,
                steer=col.steering.record() if col.steering else None,
                measures=result.measures,
                result=result.to_dict(),
                warnings=list(result.prompt.warnings) if result.prompt else [],
                opening=opening,
                opening_note=why,
            )
            self.session.forced.append(rec)
            if self.written:  # else derived on opening alone: saved with the next change
                self.autosave()
        return rec

    def saved_forced(self, col: Column, node: str | None = None) -> ForcedRecord | None:
        """A forced choice already scored for `node` (default: the head, the pending message)
        with the column's current format, system prompt and prefill (sampling settings do not
        enter it): no need to score it again after another run."""
        with self.lock:
            head = self.session.head if node is None else node
            saved = [f for f in self.session.forced if (f.model, f.node) == (col.id, head)]
        return _newest_with(saved, _settings(col))

    def forced_for(
        self, model_id: str, run: Sequence[GenerationRecord] = ()
    ) -> ForcedRecord | None:
        """The forced choice to show for the shown turn beside `run` (a run's samples): the
        newest scored with that run's format, system prompt, prefill and steering, else with the
        column's settings now, else the newest. A reopened session showed the newest for every
        run, one scored with a prefill the shown runs were made without."""
        node = self.shown_node()
        with self.lock:
            saved = [f for f in self.session.forced if f.model == model_id and f.node == node]
        if not saved:
            return None
        # A run that continued an assistant turn was scored as the message before it: no match.
        made = next((g for g in run if not self._continues(g)), None)
        col = next((c for c in self.columns if c.id == model_id), None)
        # Steering as its whole record (file, sha256, layers, alpha), as saved_forced compares
        # it: two vectors of one file name are not one steering.
        wanted = []
        if made is not None:
            wanted.append((made.format, made.system, made.prefill, made.params.get("steer")))
        if col is not None:
            wanted.append(_settings(col))
        for want in wanted:
            if (match := _newest_with(saved, want)) is not None:
                return match
        return saved[-1]

    def _continues(self, g: GenerationRecord) -> bool:
        """`g` continued an assistant turn (F5 on an adopted or edited answer)."""
        try:
            return g.node is not None and self.session.node(g.node).role == "assistant"
        except SessionError:  # a node a hand-edited file lost
            return False


def _settings(col: Column) -> tuple[Any, ...]:
    """What a forced choice is scored with from a column: format, system prompt, prefill and
    steering (sampling settings do not enter it)."""
    return (
        col.format_name,
        col.system,
        col.prefill,
        col.steering.record() if col.steering else None,
    )


def _newest_with(saved: Sequence[ForcedRecord], want: tuple[Any, ...]) -> ForcedRecord | None:
    """The newest of `saved` scored with the settings `want` (as `_settings` gives them)."""
    return next(
        (f for f in reversed(saved) if (f.format, f.system, f.prefill, f.steer) == want), None
    )


def _walk_opening(
    model: Backend, transcript: Transcript, fmt: Format, col: Column, cancel: threading.Event | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The opening design after the same message (its result, or why there is none): the
    archetype statements score a few fixed strings, and a chat model that says "I'm a helpful
    AI" can still score human there; the walk reads what the model itself goes on to claim."""
    from psmlab.core.measure.opening import run_opening
    from psmlab.core.measure.probe_sets import ProbeItem

    if col.prefill:
        return None, "not walked: the column's prefill starts the answer, and the walk starts it"
    turns = transcript.turns
    item = ProbeItem("message", turns[-1].content)
    try:
        r = run_opening(model, Transcript(turns[:-1]), item, fmt, system=col.system, cancel=cancel)
    except ScoringCancelled:
        raise
    except PsmlabError as exc:  # a server model gives no next-token distributions to walk
        return None, f"not walked: {exc.problem}"
    return r.to_dict(), None
