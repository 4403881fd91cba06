"""The markdown export's label tables: people's labels per model, and the automatic labels' shares
per model, prompt and sampling settings with the labeller and its measured agreement."""

from __future__ import annotations

from collections import Counter

from psmlab.core.domain.quality import labeller_line
from psmlab.core.domain.sampling import sampling_text
from psmlab.core.domain.stats import fmt_ends, fmt_share, shares_of
from psmlab.core.errors import SessionError
from psmlab.core.models.steering import record_label
from psmlab.core.session.md_text import md_code, md_inline
from psmlab.core.session.schema import GenerationRecord, Session


def label_table(s: Session) -> list[str]:
    """People's labels per model: each cell counts the generations given that label (a label
    two annotators both gave one generation counts once, not twice), self-id labels included."""
    counts: dict[str, dict[str, set[str]]] = {}
    annotated: dict[str, set[str]] = {}
    total: Counter[str] = Counter(g.model for g in s.generations)
    model_of = {g.id: g.model for g in s.generations}
    # A person's self-id label given again replaces their earlier one (as agreement reads it).
    last_self_id = {(a.annotator, a.generation_id): a.id for a in s.annotations if a.self_id}
    for a in s.annotations:
        m = model_of[a.generation_id]
        annotated.setdefault(m, set()).add(a.generation_id)
        latest = last_self_id.get((a.annotator, a.generation_id)) == a.id
        given = [*a.labels, *([f"self-id {a.self_id}"] if a.self_id and latest else [])]
        for label in given:
            counts.setdefault(m, {}).setdefault(label, set()).add(a.generation_id)
    labels = sorted({lab for c in counts.values() for lab in c})
    if not s.generations:
        return ["No generations."]
    out: list[str] = []
    annotators = sorted({a.annotator for a in s.annotations})
    if len(annotators) > 1:
        out += [
            f"Annotators: {md_inline(', '.join(annotators))}. A cell counts the generations "
            "given the label by at least one of them; `psmlab agreement` says how far they "
            "agree.",
            "",
        ]
    head = "| model | generations | annotated | " + " | ".join(md_inline(x) for x in labels) + " |"
    if not labels:
        head = "| model | generations | annotated |"
    sep = "|" + "---|" * (3 + len(labels))
    out += [head, sep]
    for m in sorted(total):
        cells = [md_inline(m), str(total[m]), str(len(annotated.get(m, ())))]
        cells += [str(len(counts.get(m, {}).get(lab, ()))) for lab in labels]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _labeller_md(method: str) -> str:
    """The labeller's line, its name made literal (a hand-edited file can name a judge
    `<script>`): the rest is psmlab's own words and numbers."""
    line = labeller_line(method)
    return line.replace(method, md_inline(method), 1) if method else line


def auto_label_table(s: Session) -> list[str]:
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
        " · ".join(_labeller_md(m) for m in methods) + ".",
        "",
        "k/n samples with a 95% Wilson interval; a label absent from all n samples shows the "
        "interval's upper bound. Generations recorded before the self-id axis, and answers "
        "the user cancelled or an error cut off (shown under turn ended), are left out of its n.",
        "",
    ]
    # One row per model, prompt (the turn answered, format, system prompt, prefill) and
    # sampling: samples of different questions, system prompts or temperatures are different
    # conditions, never one share (a trial's n=4 pooled two runs at T 0.8 and T 1.3).
    Key = tuple[str, str | None, str, str | None, str | None, str]
    cells: dict[Key, list[GenerationRecord]] = {}
    for g in sorted(s.generations, key=lambda g: g.model):
        if g.id in by_gen:
            key = (
                g.model,
                g.node,
                g.format,
                g.system,
                g.prefill,
                sampling_text(g.params, record_label(g.params.get("steer"))),
            )
            cells.setdefault(key, []).append(g)
    table: list[str] = []
    for (m, node, fmt, system, prefill, sampling), gens in cells.items():
        ls = shares_of((by_gen[g.id] for g in gens), (g.finish_reason for g in gens))
        if not table:
            head = " | ".join(x.label for x in ls.self_id)
            table = [
                f"| model | answering | format | system prompt | prefill | sampling | n | {head} | "
                "archetypes | turn ended |"
            ]
            table.append("|" + "---|" * (9 + len(ls.self_id)))
        arch = ", ".join(f"{x.label} {fmt_share(x)}" for x in ls.archetypes) or "—"
        table.append(
            # The turn's id too: one question asked on two branches is two turns.
            f"| {md_inline(m)} | {md_inline(answering(s, node, gens[0].turn))}"
            + (f" {md_code(node)}" if node else "")
            + f" | {md_inline(fmt)} | {md_inline(system)} | {md_inline(prefill)} | "
            + f"{md_inline(sampling)} | {ls.n} | "
            + " | ".join(fmt_share(x) for x in ls.self_id)
            + f" | {md_inline(arch)} | {md_inline(fmt_ends(ls.ends))} |"
        )
    return rows + table


def answering(s: Session, node: str | None, turn: int) -> str:
    """Which turn a cell's samples answer: its number and the start of its text."""
    try:
        text = s.node(node).content if node else ""
    except SessionError:  # an old record whose node is gone: the number alone
        text = ""
    short = " ".join(text.split())
    return f"turn {turn}" + (f": {short[:40]}{'…' if len(short) > 40 else ''}" if short else "")
