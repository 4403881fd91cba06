"""Export a session: markdown for people (`export_md`), jsonl and csv for analysis, loom trees.

Output is a pure function of the session, so exports are reproducible.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from psmlab.core.domain.classify import archetypes, turn_end_short
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import UsageError
from psmlab.core.session.export_md import EXPORTED_BY, to_markdown
from psmlab.core.session.md_text import md_block, md_inline
from psmlab.core.session.schema import Session

__all__ = [
    "EXPORT_FORMATS",
    "export",
    "is_export",
    "md_block",
    "md_inline",
    "to_csv",
    "to_jsonl",
    "to_markdown",
]


def to_jsonl(s: Session) -> str:
    lines = []
    autos = {x.generation_id: x for x in s.auto_labels}
    questions: dict[str | None, str | None] = {}
    for g in s.generations:
        d = g.model_dump(mode="json")
        d["session"] = {"id": s.id, "title": s.title}
        if g.node not in questions:
            path = s.path(g.node)
            questions[g.node] = next((t.content for t in reversed(path) if t.role == "user"), None)
        # What the answer answers (the last user turn it saw), as the labels read it, so that
        # `psmlab label` on this file reads each text with its question.
        d["question"] = questions[g.node]
        d["annotations"] = [_annotation(a, g.full_text) for a in s.annotations_for(g.id)]
        auto = autos.get(g.id)
        d["auto_labels"] = None if auto is None else auto.to_dict()
        # Its readings on monitored control vectors, as the markdown export shows them.
        d["projections"] = [
            p.model_dump(mode="json") for p in s.projections if p.generation_id == g.id
        ]
        lines.append(json.dumps(d, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def _annotation(a: Any, full_text: str) -> dict[str, Any]:
    """An annotation as the jsonl holds it: its evidence's offsets count from the start of the
    whole answer (`prefill` then `text`), so the quoted text is written beside them (a trial
    read `text[528:543]`, empty, on a continuation of a given start)."""
    d: dict[str, Any] = a.model_dump(mode="json")
    if a.evidence is not None:
        d["evidence_text"] = full_text[a.evidence.start : a.evidence.end]
    return d


CSV_COLUMNS = [
    "session_id",
    "session_title",
    "annotation_id",
    "generation_id",
    "model",
    "kind",
    "format",
    "turn",
    "node",
    "run",
    "sample",
    "seed",
    "temperature",
    "finish_reason",
    # How the turn ended in the lab's words (eos, length, next speaker, cancelled), not a bool
    # "role_leak": a base-model frame's answer ends at the next speaker's line normally, and a
    # filter on the bool dropped those.
    "turn_ended",
    "labels",
    "self_id",
    "auto_self_id",
    "auto_labels",
    "labeller",
    "confidence",
    "rating",
    "note",
    "annotator",
    "blind",
    "evidence_start",
    "evidence_end",
    "evidence_text",
    "created",
    # The start the model was given to continue (an adopted or edited answer, a prefill):
    # `text` begins with it, and what the model wrote follows (a trial read another model's
    # words in `text` credited to this one).
    "given",
    "text",
]


def _cell(v: Any) -> Any:
    # Spreadsheet formula injection: a cell starting with = + - @ would run as a formula.
    if isinstance(v, str):
        v = terminal_safe(v)
        if v[:1] in ("=", "+", "-", "@"):
            return "'" + v
    return v


def to_csv(s: Session) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    kinds = {m.id: m.kind for m in s.models}
    gens = {g.id: g for g in s.generations}
    autos = {x.generation_id: x for x in s.auto_labels}
    for a in s.annotations:
        g = gens[a.generation_id]
        auto = autos.get(g.id)
        ev = a.evidence
        row = [
            s.id,
            s.title,
            a.id,
            g.id,
            g.model,
            kinds.get(g.model, ""),
            g.format,
            g.turn,
            g.node or "",
            g.run or "",
            g.sample,
            g.seed,
            g.params.get("temperature"),
            g.finish_reason,
            turn_end_short(g.finish_reason),
            ";".join(a.labels),
            a.self_id or "",
            (auto.self_id or "") if auto else "",
            ";".join(archetypes(auto.labels)) if auto else "",
            auto.method if auto else "",
            a.confidence,
            a.rating,
            a.note or "",
            a.annotator,
            a.blind,
            ev.start if ev else "",
            ev.end if ev else "",
            g.full_text[ev.start : ev.end] if ev else "",
            a.created,
            g.prefill or "",
            g.full_text,
        ]
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()


# What `export` writes: markdown for people, jsonl per generation, csv per annotation, and the
# turn tree as the original loom's JSON (socketteer/loom; `psmlab import` reads it back).
EXPORT_FORMATS = ("md", "jsonl", "csv", "loom")


def export(s: Session, fmt: str, *, tree: bool = False, branch: str | None = None) -> str:
    """The session as text in one of EXPORT_FORMATS (markdown: the current branch, the branch
    ending at turn `branch`, or every branch with `tree`; jsonl and csv always hold every
    generation, with its turn and run)."""
    if fmt == "md":
        return to_markdown(s, tree=tree, branch=branch)
    if fmt == "jsonl":
        return to_jsonl(s)
    if fmt == "csv":
        return to_csv(s)
    if fmt == "loom":
        from psmlab.core.session.loom import to_loom

        return json.dumps(to_loom(s), ensure_ascii=False, indent=2) + "\n"
    raise UsageError(f"unknown export format '{fmt}'", "use md, jsonl, csv or loom")


# A generation's own fields and the session to_jsonl adds: enough to tell one of its rows from
# another tool's jsonl (an eval file is a .jsonl too), and held by rows of every version.
_JSONL_KEYS = {"id", "session", "node", "run", "model", "sample", "seed", "text"}


def is_export(head: str, fmt: str) -> bool:
    """`head` (a file's first 64 KiB, or for jsonl its first line whole) begins an export in
    `fmt` (md, csv or jsonl) as the writers above make it: what `-o` may write over."""
    if fmt == "md":
        # export_md's title line, a blank, then its header line naming psmlab.
        lines = head.split("\n", 3)
        return head.startswith("# ") and len(lines) > 2 and f" · {EXPORTED_BY} " in lines[2]
    if fmt == "csv":
        return head.startswith(",".join(CSV_COLUMNS[:4]) + ",")
    if fmt == "jsonl":
        try:
            row = json.loads(head)
        except json.JSONDecodeError:
            return False
        return isinstance(row, dict) and row.keys() >= _JSONL_KEYS
    return False
