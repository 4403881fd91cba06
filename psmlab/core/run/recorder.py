"""Record a run into a session as it happens, so each finished generation can be saved at once."""

from __future__ import annotations

from collections.abc import Callable

from psmlab.core.domain.classify import classify
from psmlab.core.domain.personas import load_personas
from psmlab.core.models.hashing import cached_sha256
from psmlab.core.run.runner import Column, Event, GenerationDone, ModelFailed, ModelReady
from psmlab.core.session.found import server_changes, spec_for_record
from psmlab.core.session.schema import AutoLabelRecord, ModelRecord, Session, new_id

__all__ = ["SessionRecorder", "server_changes", "spec_for_record"]


class SessionRecorder:
    """Feed it runner events; it adds models and generations to `session` and calls `on_change`."""

    def __init__(
        self,
        session: Session,
        columns: list[Column],
        *,
        turn: int,
        node: str | None = None,
        run: str | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """`turn`/`node`: how many turns the prompt holds and the last of them; `run`: the id
        shared by this run's generations (a new one by default)."""
        self.session = session
        self.columns = {c.spec.id: c for c in columns}
        self.turn = turn
        self.node = node
        self.run = run or new_id("r-")
        self.on_change = on_change
        self._prompt_tokens: dict[str, tuple[int, ...]] = {}
        self.personas = load_personas()[0]
        # What the generations answer: the last user turn on the way to `node`.
        self.question = next(
            (t.content for t in reversed(session.path(node)) if t.role == "user"), None
        )
        for col in columns:  # column order, refined as generations arrive
            if session.model(col.spec.id) is None:
                session.upsert_model(self._model_record(col, {}, {}, None))

    def _model_record(
        self, col: Column, provenance: dict, params: dict, error: str | None
    ) -> ModelRecord:
        s = col.spec
        old = self.session.model(s.id)
        remote = {}
        if s.is_remote:
            remote = {
                "backend": "openai",
                "endpoint": s.url,
                "remote_model": provenance.get("remote_model") or s.remote_model,
                "server_model": provenance.get("server_model") or (old and old.server_model),
                "server_version": provenance.get("server_version") or (old and old.server_version),
                "api_key_env": s.api_key_env,
            }
        return ModelRecord(
            id=s.id,
            kind=s.kind,
            path=s.path,
            sha256=None if s.is_remote else provenance.get("model_sha256") or cached_sha256(s.path),
            size=s.size,
            source=s.source,
            format=col.format_name,
            system=col.system,
            prefill=col.prefill,
            steer=col.steering.record() if col.steering else None,
            n_ctx=int(params.get("n_ctx", s.n_ctx)),
            n_threads=int(params.get("n_threads", s.n_threads)),
            llama_cpp_python=provenance.get("llama_cpp_python"),
            error=error,
            **remote,
        )

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, ModelReady):
            self._prompt_tokens[ev.model_id] = ev.prompt.tokens
        elif isinstance(ev, GenerationDone):
            g = ev.generation
            col = self.columns[g.model]
            self.session.upsert_model(self._model_record(col, g.provenance, g.params, None))
            self.session.add_generation(
                g,
                turn=self.turn,
                node=self.node,
                run=self.run,
                system=col.system,
                prompt_tokens=self._prompt_tokens.get(g.model),
            )
            # Both levels (self-id, archetypes) and the labeller's name; how the turn ended is
            # the generation's own finish_reason, never a label.
            auto = classify(g.text, self.personas, question=self.question, prefill=g.prefill)
            self.session.auto_labels.append(
                AutoLabelRecord(
                    **auto.model_dump(exclude={"hits"}), hits=list(auto.hits), generation_id=g.id
                )
            )
            if self.on_change:
                self.on_change()
        elif isinstance(ev, ModelFailed):
            col = self.columns[ev.model_id]
            rec = self._model_record(col, {}, {}, ev.error.one_line())
            was = self.session.model(ev.model_id)
            if was is not None and was.params is not None:
                # No answer recorded the settings the lab kept for its next run: still kept.
                rec = rec.model_copy(update={"params": was.params})
            self.session.upsert_model(rec)
            if self.on_change:
                self.on_change()
