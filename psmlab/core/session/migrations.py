"""Numbered session-schema migrations: `MIGRATIONS[n]` turns a version-n document into version n+1.

Version 0 is the JSON printed by `psmlab ask --json` (psmlab 0.1): it has generations, the transcript
and the models but no `schema_version`, so saved `ask` output opens as a session. Version 1 kept one
list of turns (a generation made before an edit kept a copy of the turns it saw); version 2 is a
tree, and every v1 session opens as a one-branch tree (plus a branch per edited history).
"""

from __future__ import annotations

import hashlib
import json
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
    "stop_tokens",
    "prompt_tokens",
    "timings",
    "provenance",
    "warnings",
)


def _v0_to_v1(doc: Doc) -> Doc:
    turns = [{"role": m["role"], "content": m["content"]} for m in doc.get("transcript", [])]
    gens = []
    autos = []
    # The prompt each model was asked (one per model and format in a report): its hash, so a
    # replay or a monitor can tell the same prompt from an edited one.
    hashes = {
        (p.get("model"), p.get("format")): p.get("prompt_sha256")
        for p in doc.get("prompts") or []
        if isinstance(p, dict)
    }
    for g in doc.get("generations", []):
        rec = {k: g[k] for k in _GEN_FIELDS if k in g}
        rec["turn"] = len(turns)
        rec["system"] = g.get("system")
        if isinstance(doc.get("created"), str):
            rec.setdefault("created", doc["created"])  # not the time of each read
        sha = hashes.get((g.get("model"), g.get("format")))
        if isinstance(sha, str):
            rec.setdefault("prompt_sha256", sha)
        gens.append(rec)
        # The labels the report gave each answer (a judge's too): a session's auto_labels.
        auto = g.get("auto_labels")
        if isinstance(auto, dict) and "id" in g:
            keep = ("labels", "hits", "method", "automatic", "self_id", "self_id_hits", "rules")
            label = {k: auto[k] for k in keep if k in auto}
            label["generation_id"] = g["id"]
            if isinstance(g.get("judge"), dict):
                label["judge"] = g["judge"]
            autos.append(label)
    out: Doc = {
        "schema_version": 1,
        # The same report opens as the same session each time (one id, its own time), so two
        # reads of one file, or an annotation written to it, are one session.
        "id": _stable_id("", doc),
        "title": doc.get("title") or (turns[-1]["content"][:60] if turns else "imported ask"),
        "turns": turns,
        "models": doc.get("models", []),
        "generations": gens,
        "annotations": [],
        "auto_labels": autos,
    }
    if isinstance(doc.get("created"), str):
        out["created"] = out["updated"] = doc["created"]
    # What the report holds that a session has no place for (its errors, prompts, timing,
    # labels): kept, so a session written back over the report loses none of it.
    rest = {k: v for k, v in doc.items() if k not in ("transcript", "generations", "models")}
    rest.pop("title", None)
    if rest:
        out["imported"] = rest
    return out


def _stable_id(prefix: str, *parts: object) -> str:
    """Ids made by a migration are a digest of what they name, so opening the same v1 file twice
    gives the same tree."""
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()
    return prefix + digest[:12]


def _v1_to_v2(doc: Doc) -> Doc:
    nodes: list[Doc] = []
    kids: dict[str | None, list[Doc]] = {}

    def intern(path: list[Doc]) -> str | None:
        """The node at the end of `path`, made where missing (equal turns are shared)."""
        parent: str | None = None
        for t in path:
            key = (t.get("role"), t.get("content"), t.get("adopted_from"))
            same = next(
                (
                    n
                    for n in kids.get(parent, [])
                    if (n["role"], n["content"], n.get("adopted_from")) == key
                ),
                None,
            )
            if same is None:
                same = {**t, "id": _stable_id("t-", parent, *key), "parent": parent}
                same.setdefault("created", None)
                nodes.append(same)
                kids.setdefault(parent, []).append(same)
            parent = same["id"]
        return parent

    turns = list(doc.get("turns", []))
    head = intern(turns)
    gens = []
    last: dict[tuple[str, str | None], tuple[str, int, Any]] = {}
    for g in doc.get("generations", []):
        g = dict(g)
        history = g.pop("history", None)
        seen = history if history is not None else turns[: g.get("turn", 0)]
        g["node"] = intern(seen)
        # Runs: a column's samples at one turn, until the sample index starts again or the
        # settings change (v1 did not record them).
        key = (g.get("model", ""), g["node"])
        params = {k: v for k, v in (g.get("params") or {}).items() if k != "seed"}
        if isinstance(params.get("parallel"), dict):  # one parallel group: samples differ in seq
            params["parallel"] = {k: v for k, v in params["parallel"].items() if k != "seq"}
        how = (g.get("format"), g.get("system"), g.get("prefill"), params)
        prev = last.get(key)
        if prev is None or g.get("sample", 0) <= prev[1] or how != prev[2]:
            run = _stable_id("r-", key, g.get("id"))
        else:
            run = prev[0]
        last[key] = (run, g.get("sample", 0), how)
        g["run"] = run
        gens.append(g)
    out = {k: v for k, v in doc.items() if k != "turns"}
    out.update(schema_version=2, nodes=nodes, head=head, generations=gens)
    return out


MIGRATIONS: dict[int, Callable[[Doc], Doc]] = {0: _v0_to_v1, 1: _v1_to_v2}


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
