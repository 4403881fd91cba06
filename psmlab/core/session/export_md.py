"""The markdown export: the session for people, branch by branch and run by run.

Model text can never break the document (every string goes through `md_inline` or `md_block`),
and the output is a pure function of the session, so exports are reproducible.
"""

from __future__ import annotations

from pathlib import Path

import psmlab
from psmlab.core.domain.classify import archetypes, turn_end
from psmlab.core.domain.classify import left_out as turn_note
from psmlab.core.domain.quality import labeller_line
from psmlab.core.domain.spark import sparkline
from psmlab.core.domain.stats import FRAGMENT_ENDS, fmt_ends, fmt_rate, fmt_share, shares_of
from psmlab.core.session.authorship import given_by
from psmlab.core.session.export_labels import auto_label_table, label_table
from psmlab.core.session.loom import edited_in_loom, loom_answer_model
from psmlab.core.session.md_text import md_block, md_code, md_heading, md_inline
from psmlab.core.session.schema import (
    Annotation,
    ForcedRecord,
    GenerationRecord,
    Session,
    TurnRecord,
)


def _annotation_line(a: Annotation, g: GenerationRecord) -> str:
    # The person's self-identification reading comes first: it is what agreement scores.
    said = ([f"self-id **{a.self_id}**"] if a.self_id else []) + [
        f"**{md_inline(x)}**" for x in a.labels
    ]
    labels = ", ".join(said) or "*(no label)*"
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


# How an answer was adopted (`TurnRecord.adopted_how`; "-blind": in blind mode, where the
# person did not know which model wrote it). Sessions before "send" wrote "picker" for both.
_HOW = {
    "send": ", chosen in the answer picker when sending",
    "picker": ", chosen in the answer picker",
    "key": ", adopted in its column",
    "cli": ", by psmlab adopt",
}


def _how(how: str | None) -> str:
    base, blind = (how or "").removesuffix("-blind"), (how or "").endswith("-blind")
    return _HOW.get(base, "") + (" in blind mode" if blind else "")


def to_markdown(s: Session, *, tree: bool = False, branch: str | None = None) -> str:
    """The current branch (or the one ending at turn `branch`, or with `tree` every branch), each
    turn followed by its answers: run by run, with the automatic labels and their intervals, the
    forced choice and the prompt warnings."""
    out: list[str] = [f"# {md_heading(s.title)}", ""]
    out.append(
        f"Session {md_code(str(s.id))} · created {md_inline(s.created)} · updated {md_inline(s.updated)} · "
        f"schema {s.schema_version} · psmlab {psmlab.__version__}"
    )
    out += _models(s)
    leaves = s.leaves()
    if len(leaves) > 1 or tree:
        out += ["", "## Tree", "", *_outline(s, leaves, s.head)]
    end = s.node(branch).id if branch is not None else s.head
    branches = leaves if tree else ([end] if end is not None else [])
    written: dict[str, int] = {}  # turn id -> the branch that wrote it
    shown: set[str] = set()  # off-branch turns whose runs were written (adopted from there)
    # One branch: an answer adopted on another branch is said to be, not shown as this one's.
    on_path = None if tree or end is None else {t.id for t in s.path(end)}
    # A branch ending at a message: the answers adopted right after it are on the branches that
    # go on from it (several, maybe: each one was marked plainly "adopted", as if this one's).
    after = set() if on_path is None else {t.id for t in s.nodes if t.parent == end}
    # The whole tree: each answer says which branches adopted it (turn 1's answers are written
    # once, under the first branch, while a later branch may be the one that adopted them).
    in_branches: dict[str, list[int]] = {}
    if tree:
        for b, leaf in enumerate(branches, 1):
            for t in s.path(leaf):
                in_branches.setdefault(t.id, []).append(b)
    out += _answers(s, None, "the empty transcript", on_path, in_branches, after)
    if not branches and s.nodes:
        # Back to before the first turn (the lab's `d` on turn 1): every turn is still kept.
        out += [
            "",
            f"The current branch is empty (the session went back to before its first turn); "
            f"its {len(s.nodes)} turn(s) are kept: `psmlab export --tree` shows every branch.",
        ]
    for b, leaf in enumerate(branches, 1):
        path = s.path(leaf)
        name = f"Branch {b}" if tree else "Current branch" if leaf == s.head else "Branch"
        if tree and leaf == s.head:
            name += " (current)"
        turns = f"{len(path)} turn{'s' * (len(path) != 1)}"
        out += ["", f"## {name}: {turns}, ending at {md_code(str(leaf))}"]
        for i, t in enumerate(path, 1):
            if t.id in written:
                out += ["", f"Turn {i} ({t.role}) as in branch {written[t.id]}."]
                continue
            written[t.id] = b
            out += ["", f"### Turn {i}: {_who(t, s)}", "", md_block(t.content)]
            out += _answers(s, t.id, f"turn {i}", on_path, in_branches, after)
            out += _adopted_from_elsewhere(s, t, i, path, on_path, in_branches, after, shown)
    out += ["", "## Labels per model", ""]
    # Not the runs written under an adopted turn they were chosen from (`shown`).
    off = (
        []
        if on_path is None
        else [g for g in s.generations if g.node and g.node not in on_path and g.node not in shown]
    )
    if off:
        # One branch above, every answer below: the tables counted (and named turns of)
        # answers the document did not show, unsaid (other branches, or turns past the head).
        out += [
            f"The tables count every answer in the session, {len(off)} of them to turns the "
            "branch above does not show: `psmlab export --tree` shows them all.",
            "",
        ]
    out += label_table(s)
    out += auto_label_table(s)
    return "\n".join(out).rstrip() + "\n"


def _adopted_from_elsewhere(
    s: Session,
    t: TurnRecord,
    i: int,
    path: list[TurnRecord],
    on_path: set[str] | None,
    in_branches: dict[str, list[int]],
    after: set[str],
    shown: set[str],
) -> list[str]:
    """The runs an adopted turn was chosen from, when they answer a turn off this branch: a
    continuation of an answer adopted first, then replaced by adopting one of its continuations.
    The lab shows those runs (and their annotations) under the turn; the branch's export left
    them out, and only the whole tree had them."""
    if on_path is None:  # the whole tree writes that branch as its own
        return []
    gen = (
        next((g for g in s.generations if g.id == t.adopted_from), None) if t.adopted_from else None
    )
    if gen is None or gen.node is None or gen.node in {x.id for x in path} or gen.node in shown:
        return []
    shown.add(gen.node)
    return [
        "",
        f"Turn {i} was adopted from a run that continues turn {md_code(str(gen.node))}, on another branch "
        "(an answer adopted before, then replaced by its continuation); its runs:",
        *_answers(s, gen.node, f"turn {md_code(str(gen.node))}", on_path, in_branches, after),
    ]


def _models(s: Session) -> list[str]:
    out = [
        "",
        "## Models",
        "",
        "The columns' settings now; each run below states the format, system prompt and prefill "
        "it was made with.",
        "",
    ]
    out.append(
        "| model | kind | format (now) | system prompt (now) | prefill (now) | n_ctx | threads | "
        "sha256 | size | llama-cpp-python |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for m in s.models:
        sha = f"{md_code(str(m.sha256[:16]))}" if m.sha256 else "—"
        out.append(
            f"| {md_inline(m.id)} | {m.kind} | {md_inline(m.format)} | {md_inline(m.system)} | "
            f"{md_inline(m.prefill)} | {m.n_ctx} | {m.n_threads} | {sha} | "
            f"{'server' if m.endpoint else f'{m.size / 1e6:.0f} MB'} | "
            f"{md_inline(m.llama_cpp_python)} |"
        )
    out.append("")
    for m in s.models:
        line = f"- {md_inline(m.id)}: {md_code(m.path)} (source: {md_inline(m.source)})"
        if m.sha256:
            line += f", sha256 {md_code(str(m.sha256))}"
        if m.endpoint:
            line += (
                f", server model {md_inline(m.server_model or m.remote_model or '?')}, "
                f"server version {md_inline(m.server_version or 'not reported')}"
            )
        if m.error:
            line += f" — **error:** {md_inline(m.error)}"
        out.append(line)
    # A file edited by hand (or cut) can name a model its list lacks: say so, not nothing.
    listed = {m.id for m in s.models}
    for missing in sorted({g.model for g in s.generations} - listed):
        n = sum(g.model == missing for g in s.generations)
        out.append(
            f"- {md_inline(missing)}: **no record in this session** (its file, sha256 and "
            f"settings are unknown; its {n} generation(s) cannot be replayed)"
        )
    return out


def _who(t: TurnRecord, s: Session | None = None) -> str:
    who = t.role.capitalize()
    if t.adopted_from:
        # A turn whose text is not its generation's (the file edited by hand), or whose
        # generation is not in the session, is not passed off as the model's words.
        differs = ""
        if s is not None:
            gen = next((g for g in s.generations if g.id == t.adopted_from), None)
            if gen is None:
                differs = "; that generation is not in this session"
            elif gen.full_text.strip() != t.content:
                differs = "; **its text differs from the generation's** (edited outside psmlab)"
            elif cut := s.adopted_cut(t):
                differs = f"; {cut}"
        who += (
            f" (adopted from {md_inline(t.adopted_model)}, generation {md_code(str(t.adopted_from))}"
            f"{_how(t.adopted_how)}{differs})"
        )
    if t.given:
        # The part the model was given is said with the words it was given, not passed as its own.
        what = given_by(s, t) if s is not None else "continues given text"
        where = f", turn {md_code(str(t.continued))}" if t.continued else ""
        who += f" ({what}{where}; the model wrote only what follows {md_inline(_clip(t.given))})"
    if t.edited_from:
        who += f" (edited by hand from turn {md_code(str(t.edited_from))})"
    elif edited_in_loom(t):
        who += " (edited by hand in loom: not the model's words as it wrote them)"
    if not t.adopted_from and (model := loom_answer_model(t)):
        who += f" (an answer of {md_inline(model)} not adopted in psmlab, read back from loom)"
    return who


def _clip(text: str, n: int = 60) -> str:
    flat = " ".join(text.split())
    return f"“{flat}”" if len(flat) <= n else f"“…{flat[-n:]}”"


def _outline(s: Session, leaves: list[str], head: str | None) -> list[str]:
    """The tree as an indented list: one line per turn, branch numbers at the ends. The current
    position is the head: a branch's end, or a turn inside the tree (then no branch is current:
    the newest branch below it was marked, where `psmlab tree` marked none)."""
    number = {leaf: i for i, leaf in enumerate(leaves, 1)}
    lines: list[str] = []
    for t, depth in s.walk():
        text = " ".join(t.content.split())
        line = f"{'  ' * depth}- {t.role}: {md_inline(text[:70] + ('…' if len(text) > 70 else ''))}"
        line += f" {md_code(str(t.id))}"
        if t.id in number:
            line += f" — branch {number[t.id]}" + (" (current)" if t.id == head else "")
        elif t.id == head:
            line += " — current position (the branches below go on from here)"
        lines.append(line)
    return lines


def _answers(
    s: Session,
    node: str | None,
    where: str,
    on_path: set[str] | None,
    in_branches: dict[str, list[int]] | None = None,
    after: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Every run at one turn, model by model, then the forced choices scored there (`on_path`:
    the exported branch's turns, None for the whole tree, where `in_branches` numbers the
    branches each turn is on)."""
    gens = s.generations_at(node)
    adopted: dict[str, str] = {}
    if on_path is None:
        by: dict[str, set[int]] = {}
        for t in s.nodes:
            if t.adopted_from:
                by.setdefault(t.adopted_from, set()).update((in_branches or {}).get(t.id, []))
        for gen, nums in by.items():
            listed = ", ".join(str(b) for b in sorted(nums))
            adopted[gen] = (
                f" · adopted in branch{'es' if len(nums) > 1 else ''} {listed}"
                if nums
                else " · adopted"
            )
    for t in s.nodes:
        if on_path is not None and t.adopted_from and adopted.get(t.adopted_from) != " · adopted":
            adopted[t.adopted_from] = (
                " · adopted"
                if t.id in on_path
                else " · adopted on a branch that goes on from here"
                if t.id in after
                else " · adopted on another branch"
            )
    lines: list[str] = []
    for model in dict.fromkeys(g.model for g in gens):
        runs = s.runs(model, node)
        for k, run in enumerate(runs, 1):
            lines += ["", *_run_section(s, model, run, k, len(runs), adopted)]
    scored = [f for f in s.forced if f.node == node]
    for f in scored:
        lines += ["", *_forced_section(f, where)]
    # The lab scored forced choice in this session: at a user message, a model without one says
    # so (a continuation of an assistant turn is never scored).
    asked = node is not None and s.node(node).role == "user"
    if s.forced and asked:
        for model in dict.fromkeys(g.model for g in gens):
            if all(f.model != model for f in scored):
                lines += [
                    "",
                    f"#### Forced choice · {md_inline(model)} · after {where}",
                    "",
                    "Not scored: no forced choice was recorded for this model here (the lab "
                    "scores it after a run while the message waits for its answer; a new "
                    "message, quitting, a model that cannot score, or answers made outside the "
                    "lab leave none).",
                ]
    return lines


def _run_section(
    s: Session,
    model: str,
    run: list[GenerationRecord],
    k: int,
    n: int,
    adopted: dict[str, str],
) -> list[str]:
    g0 = run[0]
    p = g0.params
    lines = [
        f"#### {md_inline(model)} · run {k} of {n} · {len(run)} sample{'s' * (len(run) != 1)}",
        "",
        f"format {md_code(g0.format)} · temperature {_v(p.get('temperature'))}, top_p "
        f"{_v(p.get('top_p'))}, top_k {_v(p.get('top_k'))}, min_p {_v(p.get('min_p'))}, "
        f"repeat_penalty {_v(p.get('repeat_penalty', 1.0))}, max_tokens {_v(p.get('max_tokens'))} · run {md_code(str(g0.run))}",
    ]
    if g0.system is not None:
        lines += ["", f"System prompt: {md_inline(g0.system, empty='(removed)')}"]
    if g0.prefill:
        lines += ["", f"Prefill: {md_code(g0.prefill)}"]
    warnings = list(dict.fromkeys(w for g in run for w in g.warnings))
    if warnings:
        lines += ["", "Prompt warnings:", "", *(f"- {md_inline(w)}" for w in warnings)]
    autos = [a for a in (s.auto_label(g.id) for g in run) if a is not None]
    if autos:
        ls = shares_of(autos, (g.finish_reason for g in run if s.auto_label(g.id)))
        sid = " · ".join(f"{x.label} {fmt_share(x)}" for x in ls.self_id) or "not recorded"
        arch = " · ".join(f"{x.label} {fmt_share(x)}" for x in ls.archetypes) or "—"
        methods = dict.fromkeys(a.method for a in autos)
        lines += [
            "",
            f"Automatic labels over this run (n={ls.n}; "
            f"{md_inline(' · '.join(labeller_line(m) for m in methods))}): self-id "
            f"{md_inline(sid)}; archetypes {md_inline(arch)}; turns ended: "
            f"{md_inline(fmt_ends(ls.ends))}",
        ]
    for g in run:
        lines += ["", *_generation_section(s, g, adopted.get(g.id, ""))]
    return lines


def _forced_section(f: ForcedRecord, where: str) -> list[str]:
    r = f.result
    raw = r.get("probs") or {}
    cal = r.get("calibrated") or None
    lead = cal or raw
    top = sorted(lead, key=lambda x: -lead[x])[:5]
    cells = []
    for x in top:
        cell = f"{md_inline(x)} {lead[x]:.2f}"
        if cal:
            cell += f" (raw {raw.get(x, 0.0):.2f})"
        cells.append(cell)
    lines = [
        f"#### Forced choice · {md_inline(f.model)} · after {where}",
        "",
        f"{md_inline(f.measures)} · format {md_code(f.format)} · "
        f"{len(lead)} personas, top 5: " + ", ".join(cells) + f" · {md_code(str(f.id))}",
    ]
    if f.system is not None:
        lines += ["", f"System prompt: {md_inline(f.system, empty='(removed)')}"]
    if f.prefill:
        lines += ["", f"Prefill: {md_code(f.prefill)}"]
    if f.warnings:
        lines += ["", "Prompt warnings:", "", *(f"- {md_inline(w)}" for w in f.warnings)]
    if f.opening is not None or f.opening_note:
        lines += ["", _opening_line(f)]
    return lines


def _opening_line(f: ForcedRecord) -> str:
    """The opening design after the same message, with the walk's masses: what it rests on."""
    o = f.opening
    if o is None:
        return f'Self-id after "I\'m": {md_inline(f.opening_note or "")}'
    p, m = o.get("probs") or {}, o.get("masses") or {}
    ai, human = float(p.get("ai", 0.0)), float(p.get("human", 0.0))
    share = f"ai {ai:.2f}, human {human:.2f}" if ai + human > 0 else "no ai or human claim"
    masses = ", ".join(f"{md_inline(str(k))} {float(v):.1%}" for k, v in m.items())
    return (
        f'Self-id after "I\'m": {share} ({md_inline(str(o.get("measures", "")))}; masses {masses})'
    )


def _generation_section(s: Session, g: GenerationRecord, adopted: str) -> list[str]:
    head = (
        f"##### {md_inline(g.model)} · sample {g.sample + 1} · seed {g.seed}"  # as the lab counts
    )
    head += adopted  # " · adopted", or on another branch than the one exported
    # Format, sampling, system prompt and prefill are the run's, written above it.
    meta = f"{g.n_tokens} tokens · finish {md_code(str(g.finish_reason))}"
    if g.finish_reason == "stop_string":  # how the turn ended: beside the labels, not one
        meta += " · ended: next speaker's turn"
        if g.stop_string:  # an experiment's samples do not record which text began it
            meta += f" (began {md_code(g.stop_string)})"
    if g.timings:
        meta += f" · {fmt_rate(g.timings.tokens_per_s)}"
    meta += f" · id {md_code(str(g.id))}"
    lines = [head, "", meta]
    lines += ["", md_block(g.text)]
    auto = s.auto_label(g.id)
    if auto is not None:
        sid = f"**{md_inline(auto.self_id)}**" if auto.self_id else "not recorded"
        arch = ", ".join(md_inline(x) for x in archetypes(auto.labels)) or "—"
        # A cancelled (or error-cut) answer is a fragment the shares leave out: its labels say so.
        cut = g.finish_reason in FRAGMENT_ENDS
        left_out = f" ({g.finish_reason}: left out of every share)" if cut else ""
        lines += [
            "",
            f"Automatic labels ({md_inline(auto.method)}){left_out}: self-id {sid} · archetypes "
            f"{arch} · ended: {md_inline(turn_end(g.finish_reason))}"
            + (md_inline(note) if (note := turn_note(g.text, auto.method)) else ""),
        ]
    steer = g.params.get("steer")
    if steer:
        lines += [
            "",
            f"Steered: {md_code(Path(str(steer.get('file', ''))).name)} at layers "
            f"{md_inline(','.join(map(str, steer.get('layers') or [])))} × alpha "
            f"{md_inline(str(steer.get('alpha')))} (sha256 {md_code(str(steer.get('sha256', ''))[:12] + '…')})",
        ]
    lines += _projection_lines(s, g)
    notes = s.annotations_for(g.id)
    if notes:
        lines += ["", "Annotations:", "", *(_annotation_line(a, g) for a in notes)]
    return lines


def _v(value: object) -> str:
    """A recorded setting as text (a hand-edited file can hold any JSON there)."""
    return md_inline(str(value))


def _projection_lines(s: Session, g: GenerationRecord) -> list[str]:
    """The answer's projections on monitored vectors: mean per layer, per-token sparkline."""
    out = []
    for p in (p for p in s.projections if p.generation_id == g.id):
        # The file and its sha256, as steering is named: two vectors of one archetype (other
        # builds, other layers) read as one under its name alone.
        file = Path(str(p.vector.get("file", "?"))).name
        sha = str(p.vector.get("sha256") or "")
        arch = p.vector.get("archetype")
        where = md_code(file) + (f", sha256 {md_code(sha[:12] + '…')}" if sha else "")
        name = f"{md_inline(str(arch))} ({where})" if arch else where
        if p.skipped:
            out.append(f"- {name}: not measured ({md_inline(p.skipped)})")
            continue
        means = ", ".join(f"L{md_inline(str(L))} {v:+.3f}" for L, v in p.projection.items())
        last = list(p.per_token)[-1] if p.per_token else None
        spark = (
            f" · per token at L{md_inline(str(last))}: `{sparkline(p.per_token[last], 40)}`"
            if last
            else ""
        )
        how = " (re-read steered)" if p.steered else ""
        how += f" (not its model's vector: {md_inline(p.note)})" if p.note else ""
        out.append(f"- {name}{how}: {means}{spark}")
    if out:
        out = [
            "",
            "Projections (l_out-L of each generated token on the unit vector; mean):",
            "",
            *out,
        ]
    return out
