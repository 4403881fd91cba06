"""Record a run into a session as it happens, so each finished generation can be saved at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from psmlab.core.classify import classify
from psmlab.core.errors import ModelError, PsmlabError
from psmlab.core.hashing import cached_sha256
from psmlab.core.models import ModelSpec, Registry, spec_from_path
from psmlab.core.personas import load_personas
from psmlab.core.runner import Column, Event, GenerationDone, ModelFailed, ModelReady
from psmlab.core.session import AutoLabelRecord, HitRecord, ModelRecord, Session


class SessionRecorder:
    """Feed it runner events; it adds models and generations to `session` and calls `on_change`."""

    def __init__(
        self,
        session: Session,
        columns: list[Column],
        *,
        turn: int,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.columns = {c.spec.id: c for c in columns}
        self.turn = turn
        self.on_change = on_change
        self._prompt_tokens: dict[str, tuple[int, ...]] = {}
        self.personas = load_personas()[0]
        for col in columns:  # column order, refined as generations arrive
            if session.model(col.spec.id) is None:
                session.upsert_model(self._model_record(col, {}, {}, None))

    def _model_record(
        self, col: Column, provenance: dict, params: dict, error: str | None
    ) -> ModelRecord:
        s = col.spec
        return ModelRecord(
            id=s.id,
            kind=s.kind,
            path=s.path,
            sha256=provenance.get("model_sha256") or cached_sha256(s.path),
            size=s.size,
            source=s.source,
            format=col.format_name,
            system=col.system,
            prefill=col.prefill,
            n_ctx=int(params.get("n_ctx", s.n_ctx)),
            n_threads=int(params.get("n_threads", s.n_threads)),
            llama_cpp_python=provenance.get("llama_cpp_python"),
            error=error,
        )

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, ModelReady):
            self._prompt_tokens[ev.model_id] = ev.prompt.tokens
        elif isinstance(ev, GenerationDone):
            g = ev.generation
            col = self.columns[g.model]
            self.session.upsert_model(self._model_record(col, g.provenance, g.params, None))
            self.session.add_generation(
                g, turn=self.turn, system=col.system, prompt_tokens=self._prompt_tokens.get(g.model)
            )
            auto = classify(g.text, self.personas, role_leak=g.role_leak)
            self.session.auto_labels.append(
                AutoLabelRecord(
                    generation_id=g.id,
                    labels=list(auto.labels),
                    method=auto.method,
                    hits=[
                        HitRecord(archetype=h.archetype, marker=h.marker, start=h.start, end=h.end)
                        for h in auto.hits
                    ],
                )
            )
            if self.on_change:
                self.on_change()
        elif isinstance(ev, ModelFailed):
            col = self.columns[ev.model_id]
            self.session.upsert_model(self._model_record(col, {}, {}, ev.error.one_line()))
            if self.on_change:
                self.on_change()


def spec_for_record(record: ModelRecord, warnings: list[str]) -> ModelSpec:
    """The model a session recorded, found again: at its path, or by id (demo pair, config file)."""
    path = record.path
    if not Path(path).exists():
        # A session from another machine: find the same model by id.
        try:
            path = Registry().resolve(record.id).path
        except PsmlabError:
            raise ModelError(
                f"model {record.id} is not at its recorded path {record.path}",
                f"put the file there or add '{record.id}' to your config file",
            ) from None
        warnings.append(f"model {record.id}: not at {record.path}; using {path}")
    return spec_from_path(
        path,
        model_id=record.id,
        kind=record.kind,
        n_ctx=record.n_ctx,
        n_threads=record.n_threads,
        source=record.source,
    )
