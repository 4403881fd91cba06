"""Export a session: markdown for people, jsonl and csv for analysis.

Model text can never break the markdown document. Output is a pure function of the session, so
exports are reproducible.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from typing import Any

import psmlab
from psmlab.core.domain.classify import archetypes, turn_end
from psmlab.core.domain.quality import labeller_line
from psmlab.core.domain.stats import fmt_ends, fmt_share, shares_of
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import UsageError
from psmlab.core.session.schema import Annotation, GenerationRecord, Session

# Inline text never starts a line, so list and heading markers (- + . #) are harmless mid-line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_inline(text: str | None, *, empty: str = "—") -> str:
    """Text for a table cell or a sentence: one line, markdown and HTML made literal."""
    if text is None or text == "":
        return empty
    s = terminal_safe(text).replace("\r", " ").replace("\n", " ⏎ ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_block(text: str, info: str = "text") -> str:
    """Text as a fenced code block whose fence is longer than any backtick run inside it."""
    body = terminal_safe(text)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def _code(text: str) -> str:
    """Inline code span that survives backticks in the text."""
    body = terminal_safe(text).replace("\n", "\\n")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{tick}{pad}{body}{pad}{tick}"


def _annotation_line(a: Annotation, g: GenerationRecord) -> str:
    labels = ", ".join(f"**{md_inline(x)}**" for x in a.labels) or "*(no label)*"
    bits = []
    if a.confidence is not None:
        bits.append(f"confidence {a.confidence:.2f}")
    if a.rating is not None:
        bits.append(f"rating {a.rating}/5")
    if a.blind:
        bits.append("blind")
    line = f"- {labels}" + (f" ({', '.join(bits)})" if bits else "")
    line += f" — {md_inline(a.annotator)}, {md_inline(a.created)}"
    if a.note:
        line += f": {md_inline(a.note)}"
    if a.evidence:
        quote = g.full_text[a.evidence.start : a.evidence.end]
        line += f" — evidence [{a.evidence.start}:{a.evidence.end}] «{md_inline(quote)}»"
    return line


def to_markdown(s: Session) -> str:
    out: list[str] = [f"# {md_inline(s.title)}", ""]
    out.append(
        f"Session `{s.id}` · created {md_inline(s.created)} · updated {md_inline(s.updated)} · "
        f"schema {s.schema_version} · psmlab {psmlab.__version__}"
    )
    out += ["", "## Models", ""]
    out.append(
        "| model | kind | format | system prompt | prefill | n_ctx | threads | sha256 | size | llama-cpp-python |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for m in s.models:
        sha = f"`{m.sha256[:16]}`" if m.sha256 else "—"
        out.append(
            f"| {md_inline(m.id)} | {m.kind} | {md_inline(m.format)} | {md_inline(m.system)} | "
            f"{md_inline(m.prefill)} | {m.n_ctx} | {m.n_threads} | {sha} | "
            f"{'server' if m.endpoint else f'{m.size / 1e6:.0f} MB'} | "
            f"{md_inline(m.llama_cpp_python)} |"
        )
    out.append("")
    for m in s.models:
        line = f"- {md_inline(m.id)}: {_code(m.path)} (source: {md_inline(m.source)})"
        if m.sha256:
            line += f", sha256 `{m.sha256}`"
        if m.endpoint:
            line += (
                f", server model {md_inline(m.server_model or m.remote_model or '?')}, "
                f"server version {md_inline(m.server_version or 'not reported')}"
            )
        if m.error:
            line += f" — **error:** {md_inline(m.error)}"
        out.append(line)
    by_turn: dict[int, list[GenerationRecord]] = {}
    for g in s.generations:
        by_turn.setdefault(g.turn, []).append(g)
    adopted = {t.adopted_from for t in s.turns if t.adopted_from}

    def answers(after: int) -> list[str]:
        lines: list[str] = []
        for g in sorted(by_turn.get(after, []), key=lambda g: (g.model, g.sample)):
            lines += ["", *_generation_section(s, g, g.id in adopted)]
        return lines

    out += answers(0)  # generations with no history at all (a bare prefill)
    for i, t in enumerate(s.turns):
        who = t.role.capitalize()
        if t.adopted_from:
            how = {
                "picker": ", chosen when sending",
                "key": ", adopted in its column",
                "cli": ", by psmlab adopt",
            }
            who += (
                f" (adopted from {md_inline(t.adopted_model)}, generation `{t.adopted_from}`"
                f"{how.get(t.adopted_how or '', '')})"
            )
        out += ["", f"## Turn {i + 1}: {who}", "", md_block(t.content)]
        out += answers(i + 1)
    out += ["", "## Labels per model", "", *(_label_table(s))]
    out += _auto_label_table(s)
    return "\n".join(out).rstrip() + "\n"


def _generation_section(s: Session, g: GenerationRecord, adopted: bool) -> list[str]:
    head = f"### {md_inline(g.model)} · sample {g.sample} · seed {g.seed}"
    if adopted:
        head += " · adopted"
    meta = f"format {_code(g.format)} · {g.n_tokens} tokens · finish `{g.finish_reason}`"
    if g.finish_reason == "stop_string":  # how the turn ended: beside the labels, not one
        meta += f" · ended: next speaker's turn (began {_code(g.stop_string or '')})"
    if g.timings:
        meta += f" · {g.timings.tokens_per_s:.0f} tok/s"
    p = g.params
    meta += (
        f" · temperature {p.get('temperature')}, top_p {p.get('top_p')}, top_k {p.get('top_k')}, "
        f"min_p {p.get('min_p')}, max_tokens {p.get('max_tokens')} · id `{g.id}`"
    )
    lines = [head, "", meta]
    if g.system is not None:
        lines += ["", f"System prompt: {md_inline(g.system, empty='(removed)')}"]
    if g.prefill:
        lines += ["", f"Prefill: {_code(g.prefill)}"]
    lines += ["", md_block(g.text)]
    auto = s.auto_label(g.id)
    if auto is not None:
        sid = f"**{md_inline(auto.self_id)}**" if auto.self_id else "not recorded"
        arch = ", ".join(md_inline(x) for x in archetypes(auto.labels)) or "—"
        lines += [
            "",
            f"Automatic labels ({md_inline(auto.method)}): self-id {sid} · archetypes {arch} · "
            f"ended: {md_inline(turn_end(g.finish_reason))}",
        ]
    notes = s.annotations_for(g.id)
    if notes:
        lines += ["", "Annotations:", "", *(_annotation_line(a, g) for a in notes)]
    return lines


def _label_table(s: Session) -> list[str]:
    counts: dict[str, Counter[str]] = {}
    annotated: Counter[str] = Counter()
    total: Counter[str] = Counter(g.model for g in s.generations)
    model_of = {g.id: g.model for g in s.generations}
    seen: set[str] = set()
    for a in s.annotations:
        m = model_of[a.generation_id]
        if a.generation_id not in seen:
            annotated[m] += 1
            seen.add(a.generation_id)
        for label in a.labels:
            counts.setdefault(m, Counter())[label] += 1
    labels = sorted({lab for c in counts.values() for lab in c})
    if not s.generations:
        return ["No generations."]
    head = "| model | generations | annotated | " + " | ".join(md_inline(x) for x in labels) + " |"
    if not labels:
        head = "| model | generations | annotated |"
    sep = "|" + "---|" * (3 + len(labels))
    rows = [head, sep]
    for m in sorted(total):
        cells = [md_inline(m), str(total[m]), str(annotated[m])]
        cells += [str(counts.get(m, Counter())[lab]) for lab in labels]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _auto_label_table(s: Session) -> list[str]:
    """Per model, the automatic labels' shares at both levels, the labeller and its measured
    agreement with people, and beside them how the turns ended."""
    if not s.auto_labels:
        return []
    by_gen = {x.generation_id: x for x in s.auto_labels}
    methods = list(dict.fromkeys(x.method for x in s.auto_labels))
    rows = [
        "",
        "## Automatic labels per model",
        "",
        " · ".join(labeller_line(m) for m in methods) + ".",
        "",
        "k/n samples with a 95% Wilson interval; a label absent from all n samples shows the "
        "interval's upper bound. Generations recorded before the self-id axis are left out of "
        "its n.",
        "",
    ]
    table: list[str] = []
    for m in sorted({g.model for g in s.generations}):
        gens = [g for g in s.generations if g.model == m and g.id in by_gen]
        if not gens:
            continue
        ls = shares_of((by_gen[g.id] for g in gens), (g.finish_reason for g in gens))
        if not table:
            head = " | ".join(x.label for x in ls.self_id)
            table = [f"| model | n | {head} | archetypes | turn ended |"]
            table.append("|" + "---|" * (4 + len(ls.self_id)))
        arch = ", ".join(f"{x.label} {fmt_share(x)}" for x in ls.archetypes) or "—"
        table.append(
            f"| {md_inline(m)} | {ls.n} | "
            + " | ".join(fmt_share(x) for x in ls.self_id)
            + f" | {md_inline(arch)} | {md_inline(fmt_ends(ls.ends))} |"
        )
    return rows + table


def to_jsonl(s: Session) -> str:
    lines = []
    autos = {x.generation_id: x for x in s.auto_labels}
    for g in s.generations:
        d = g.model_dump(mode="json")
        d["session"] = {"id": s.id, "title": s.title}
        d["annotations"] = [a.model_dump(mode="json") for a in s.annotations_for(g.id)]
        auto = autos.get(g.id)
        d["auto_labels"] = None if auto is None else auto.to_dict()
        lines.append(json.dumps(d, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


CSV_COLUMNS = [
    "session_id",
    "session_title",
    "annotation_id",
    "generation_id",
    "model",
    "kind",
    "format",
    "turn",
    "sample",
    "seed",
    "temperature",
    "finish_reason",
    "role_leak",
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
            g.sample,
            g.seed,
            g.params.get("temperature"),
            g.finish_reason,
            g.role_leak,
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
            g.full_text,
        ]
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()


# What `export` writes: markdown for people, jsonl per generation, csv per annotation.
EXPORT_FORMATS = ("md", "jsonl", "csv")


def export(s: Session, fmt: str) -> str:
    """The session as text in one of EXPORT_FORMATS."""
    if fmt == "md":
        return to_markdown(s)
    if fmt == "jsonl":
        return to_jsonl(s)
    if fmt == "csv":
        return to_csv(s)
    raise UsageError(f"unknown export format '{fmt}'", "use md, jsonl or csv")
