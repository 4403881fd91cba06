"""Numbered session-schema migrations: `MIGRATIONS[n]` turns a version-n document into version n+1.

Version 0 is the JSON printed by `psmlab ask --json` (psmlab 0.1): it has generations, the transcript
and the models but no `schema_version`, so saved `ask` output opens as a session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]

_GEN_FIELDS = (
    "id",
    "model",
    "sample",
    "seed",
    "format",
    "prefill",
    "params",
    "text",
    "tokens",
    "n_tokens",
    "finish_reason",
    "role_leak",
    "stop_string",
    "prompt_tokens",
    "timings",
    "provenance",
    "warnings",
)


def _v0_to_v1(doc: Doc) -> Doc:
    turns = [{"role": m["role"], "content": m["content"]} for m in doc.get("transcript", [])]
    gens = []
    for g in doc.get("generations", []):
        rec = {k: g[k] for k in _GEN_FIELDS if k in g}
        rec["turn"] = len(turns)
        rec["system"] = g.get("system")
        gens.append(rec)
    out: Doc = {
        "schema_version": 1,
        "title": doc.get("title") or (turns[-1]["content"][:60] if turns else "imported ask"),
        "turns": turns,
        "models": doc.get("models", []),
        "generations": gens,
        "annotations": [],
    }
    return out


MIGRATIONS: dict[int, Callable[[Doc], Doc]] = {0: _v0_to_v1}


def detect_version(doc: Doc) -> int:
    v = doc.get("schema_version")
    if v is None and "generations" in doc:
        return 0
    return v if isinstance(v, int) else -1


def migrate(doc: Doc, current: int) -> Doc:
    """Apply migrations in order until the document is at `current`."""
    v = detect_version(doc)
    while v < current:
        doc = MIGRATIONS[v](doc)
        v = detect_version(doc)
    return doc
