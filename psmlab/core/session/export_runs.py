"""The markdown export, run by run: a run's settings and labels, each sample with its labels,
steering, projections and annotations, and the forced choices scored at a turn.

Every string from the session goes through `md_inline`, `md_code` or `md_block` (a file edited by
hand can hold anything)."""

from __future__ import annotations

from pathlib import Path

from psmlab.core.domain.classify import archetypes, turn_end
from psmlab.core.domain.classify import left_out as turn_note
from psmlab.core.domain.forced_notes import rests_on_note
from psmlab.core.domain.quality import labeller_line
from psmlab.core.domain.spark import spark_scale, sparkline
from psmlab.core.domain.stats import FRAGMENT_ENDS, fmt_ends, fmt_rate, fmt_share, shares_of
from psmlab.core.session.md_text import md_block, md_code, md_inline
from psmlab.core.session.records import added_note, reference_note
from psmlab.core.session.schema import Annotation, ForcedRecord, GenerationRecord, Session


def run_section(
    s: Session,
    model: str,
    run: list[GenerationRecord],
    k: int,
    n: int,
    adopted: dict[str, str],
) -> list[str]:
    """One run of a model at a turn: its settings, prompt warnings, the labels over it, then
    each sample."""
    g0 = run[0]
    p = g0.params
    lines = [
        f"#### {md_inline(model)} · run {k} of {n} · {len(run)} sample{'s' * (len(run) != 1)}",
        "",
        f"format {md_code(g0.format)} · temperature {_v(p.get('temperature'))}, top_p "
        f"{_v(p.get('top_p'))}, top_k {_v(p.get('top_k'))}, min_p {_v(p.get('min_p'))}, "
        f"repeat_penalty {_v(p.get('repeat_penalty', 1.0))}, max_tokens {_v(p.get('max_tokens'))} · run {md_code(str(g0.run))}",
    ]
    # What a reader needs to make the run again, as the run recorded it (the models table says
    # what the columns use now): the file, its context and the library.
    made = [
        f"model sha256 {md_code(str(sha)[:16])}"
        if (sha := g0.provenance.get("model_sha256"))
        else None,
        # A server that does not say its context leaves the config's n_ctx an assumption.
        f"n_ctx {_v(p['n_ctx'])}"
        + (" (the config's: the server does not say)" * (p.get("n_ctx_source") == "config"))
        if "n_ctx" in p
        else None,
        f"llama-cpp-python {_v(v)}" if (v := g0.provenance.get("llama_cpp_python")) else None,
    ]
    if any(made):
        lines[-1] += " · " + ", ".join(x for x in made if x)
    if g0.system is not None:
        lines += ["", f"System prompt: {md_inline(g0.system, empty='(removed)')}"]
    if g0.prefill:
        # A run that continued an assistant turn was given that turn's text: the lab says
        # "continues the adopted answer", and "Prefill" read as a setting (a trial).
        turn = next((t for t in s.nodes if t.id == g0.node), None)
        if turn is not None and turn.role == "assistant":
            what = (
                "the edited answer"
                if turn.edited_from
                else "the adopted answer"
                if turn.adopted_from
                else "the assistant turn"
            )
            lines += ["", f"Continues {what} (its text was given): {md_code(g0.prefill)}"]
        else:
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
        rules = sorted({a.rules for a in autos if a.rules})
        lines += [
            "",
            f"Automatic labels over this run (n={ls.n}; "
            f"{md_inline(' · '.join(labeller_line(m) for m in methods))}"
            + (f"; rules {md_inline(', '.join(rules))}" if rules else "")
            + "): self-id "
            f"{md_inline(sid)}; archetypes {md_inline(arch)}; turns ended: "
            f"{md_inline(fmt_ends(ls.ends))}",
        ]
    for g in run:
        lines += ["", *_generation_section(s, g, adopted.get(g.id, ""))]
    return lines


def forced_section(f: ForcedRecord, where: str) -> list[str]:
    """A forced choice scored at a turn: its top classes (calibrated first), prompt and opening."""
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
    for which in ("calibrated", "raw"):
        if note := rests_on_note(which, r.get(f"{which}_rests_on")):
            lines += ["", f"⚠ {md_inline(note)}"]
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
    par = g.params.get("parallel")
    if isinstance(par, dict) and isinstance(par.get("seeds"), list) and len(par["seeds"]) > 1:
        # Logits depend on the batch: this seed alone gives other tokens.
        head += f" (decoded in one batch with seeds {md_inline(', '.join(map(str, par['seeds'])))})"
    head += adopted  # " · adopted", or on another branch than the one exported
    # Format, sampling, system prompt and prefill are the run's, written above it.
    meta = f"{g.token_words()} · finish {md_code(str(g.finish_reason))}"
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
            + (f" (its blocks span {span})" if (span := spark_scale(p.per_token[last], 40)) else "")
            if last
            else ""
        )
        added = added_note(p.added)
        how = f" (re-read steered{'; ' + md_inline(added) if added else ''})" if p.steered else ""
        how += f" (not its model's vector: {md_inline(p.note)})" if p.note else ""
        ref = reference_note(p.vector, list(p.projection))
        spark += f" ({md_inline(ref)})" if ref else ""
        spark += f" ({md_inline(p.baseline)})" if p.baseline else ""
        out.append(f"- {name}{how}: {means}{spark}")
    if out:
        out = [
            "",
            "Projections (l_out-L of each answer token on the unit vector; mean):",
            "",
            *out,
        ]
    return out


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
