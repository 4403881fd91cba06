"""A session's recorded models found again: at the recorded path, by id in the registry, or at
the recorded server, with what changed said as warnings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from psmlab.core.errors import ModelError, PsmlabError
from psmlab.core.models.registry import Registry, spec_from_path, spec_from_url
from psmlab.core.models.spec import ModelSpec
from psmlab.core.session.records import ModelRecord


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
