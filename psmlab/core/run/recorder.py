"""Record a run into a session as it happens, so each finished generation can be saved at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from psmlab.core.domain.classify import classify
from psmlab.core.domain.personas import load_personas
from psmlab.core.errors import ModelError, PsmlabError
from psmlab.core.models.hashing import cached_sha256
from psmlab.core.models.registry import ModelSpec, Registry, spec_from_path, spec_from_url
from psmlab.core.run.runner import Column, Event, GenerationDone, ModelFailed, ModelReady
from psmlab.core.session.schema import AutoLabelRecord, ModelRecord, Session, new_id


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
            auto = classify(g.text, self.personas)
            self.session.auto_labels.append(
                AutoLabelRecord(
                    **auto.model_dump(exclude={"hits"}), hits=list(auto.hits), generation_id=g.id
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
    if record.endpoint:
        return _remote_spec_for_record(record, warnings)
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


def _remote_spec_for_record(record: ModelRecord, warnings: list[str]) -> ModelSpec:
    """A server model: the config entry of the same id if there is one (it holds the key's
    variable name and the local GGUF), else the recorded endpoint."""
    assert record.endpoint is not None
    try:
        spec = Registry().resolve(record.id)
    except PsmlabError:
        spec = None
    if spec is None or not spec.is_remote:
        spec = spec_from_url(
            record.endpoint,
            model_id=record.id,
            remote_model=record.remote_model,
            kind=record.kind,
            n_ctx=record.n_ctx,
            source=record.source,
            api_key_env=record.api_key_env,
        )
    elif spec.url != record.endpoint:
        warnings.append(f"model {record.id}: recorded at {record.endpoint}; now using {spec.url}")
    return replace(spec, kind=record.kind, n_ctx=record.n_ctx)


def server_changes(record: ModelRecord, provenance: dict) -> list[str]:
    """What differs between the server a session recorded and the one answering now."""
    out = []
    for key, label in (("server_model", "model id"), ("server_version", "version")):
        was, now = getattr(record, key), provenance.get(key)
        if was and now and was != now:
            out.append(
                f"model {record.id}: the server reports {label} {now!r}, the session recorded "
                f"{was!r}; results may differ"
            )
    return out
