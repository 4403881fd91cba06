"""Experiment reports: report.md (tables and text bars); summary.csv is report_csv's."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from psmlab.core.domain.classify import LABELLER
from psmlab.core.domain.quality import labeller_line, level_agreement, unreliable
from psmlab.core.domain.stats import (
    LabelShares,
    Share,
    fmt2,
    fmt_ends,
    fmt_share,
    overlapping,
    shares_of,
)
from psmlab.core.domain.types import AutoLabel
from psmlab.core.errors import PsmlabError
from psmlab.core.measure.people import PeopleLabels
from psmlab.core.measure.report_agreement import agreement_section
from psmlab.core.measure.report_evals import eval_section, eval_tables
from psmlab.core.measure.report_given import (
    Given,
    given_lines,
    prompt_warning_lines,
    sampling_lines,
)
from psmlab.core.measure.report_probes import (
    comparison_lines,
    probe_section,
)
from psmlab.core.measure.results import ResultsFile, rows_of
from psmlab.core.models.steering import USUAL_ALPHA, Steering, shifts, too_strong
from psmlab.core.session.export import md_inline
from psmlab.core.session.md_text import md_code


def bar(share: float, width: int = 10) -> str:
    full = round(share * width)
    return "█" * full + "░" * (width - full)


def _auto(r: dict[str, Any]) -> AutoLabel:
    """A sample row's automatic labels (rows from before the self-id axis have self_id None)."""
    auto = r.get("auto_labels") or {}
    return AutoLabel(
        labels=tuple(r["labels"]),
        self_id=r.get("self_id", auto.get("self_id")),
        method=auto.get("method", LABELLER),
    )


def sample_tables(results: ResultsFile) -> dict[str, dict[tuple[str, str, str], LabelShares]]:
    """question -> (model, format, context) -> shares at both levels, and how turns ended."""
    groups: dict[str, dict[tuple[str, str, str], list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows_of(results, "sample"):
        groups[r["question"]][(r["model"], r["format"], r["context"])].append(r)
    return {
        q: {
            k: shares_of((_auto(r) for r in rows), (r["finish_reason"] for r in rows))
            for k, rows in g.items()
        }
        for q, g in groups.items()
    }


def labellers(results: ResultsFile) -> list[str]:
    """The labellers behind the sample rows' automatic labels, in order of first use."""
    return list(dict.fromkeys(_auto(r).method for r in rows_of(results, "sample")))


def made_with(results: ResultsFile) -> set[str] | None:
    """The persona files the sample rows' archetypes were read with (None: not recorded)."""
    got = {str(r["personas"]) for r in rows_of(results, "sample") if r.get("personas")}
    return got or None


def report_md(
    title: str,
    results: ResultsFile,
    command: str,
    planned: int | None = None,
    given: Given | None = None,
    people: PeopleLabels | None = None,
    spec_file: Path | None = None,
    left_out: tuple[int, int] = (0, 0),
) -> str:
    """The experiment's report (`spec_file`: the experiment file, named whole so the folder
    knows its experiment from any directory); `planned` units, when more than are done, make it say at the
    top that it is incomplete (an interrupted run's report otherwise read as a finished one);
    `given`, the file's question texts and system prompts, are quoted whole; `left_out`, rows
    of results.jsonl the report leaves out (unplanned, old scoring); `people`, labels
    people gave the samples in annotated sessions, get an instrument-agreement section too."""
    out = [f"# {md_inline(title)}", "", f"Produced by `{command}`.", ""]
    if spec_file is not None:
        out[-1:] = ["", f"Experiment file: {md_code(str(spec_file.resolve()))}.", ""]
        # Which version of it: a file edited in place and run again was named alike (a trial).
        try:
            digest = hashlib.sha256(spec_file.read_bytes()).hexdigest()
        except OSError:
            digest = ""
        if digest:
            out[-1:] = ["", f"Its sha256 when this report was written: `{digest}`.", ""]
    stale, old = left_out

    # Which rows, not only how many: the first few keys (results.jsonl holds every one).
    def named(keys: list[str]) -> str:
        if not keys:
            return ""
        more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
        return ": " + ", ".join(md_code(k) for k in keys[:3]) + more

    if stale:
        out += [
            f"{stale} row(s) of results.jsonl are units the file no longer plans, or plans with "
            "other settings (it changed since they ran): left out of this report (kept in the "
            f"file){named(results.left_out[0])}.",
            "",
        ]
    if old:
        out += [
            f"{old} row(s) of results.jsonl were scored by an older psmlab and not yet scored "
            f"again: left out of this report{named(results.left_out[1])}.",
            "",
        ]
    if planned is not None and len(results.done) < planned:
        out += [
            f"**Incomplete: {len(results.done)} of {planned} planned units are done** (the run "
            "was stopped; run the same command again to resume). Every number below covers the "
            "done units only.",
            "",
        ]
    errors = [r for r in results.done.values() if "error" in r]
    models: dict[str, dict[str, Any]] = {}
    for r in results.done.values():
        if "provenance" in r:
            models.setdefault(r["model"], r["provenance"])
    if models:
        out += ["| model | kind | sha256 | llama-cpp-python |", "|---|---|---|---|"]
        for m, prov in models.items():
            if prov.get("backend") == "openai":  # a server: its address and what it reported
                where = md_inline(f"{prov.get('endpoint')} · {prov.get('server_model')}")
                version = md_inline(
                    f"server {prov.get('server_version') or 'version not reported'}"
                )
                out.append(f"| {md_inline(m)} | {prov.get('kind', '')} | {where} | {version} |")
                continue
            out.append(
                f"| {md_inline(m)} | {prov.get('kind', '')} | `{prov.get('model_sha256', '')!s}` | "
                f"{prov.get('llama_cpp_python', '')} |"
            )
        out.append("")
    # Who ran it and with which seeds: a report nobody can re-run is not a result.
    # Which code and which rules, over every row (a resumed run may hold two): the version
    # stays "0.1.0" across commits and edits.
    provs = [
        r["provenance"] for r in results.done.values() if isinstance(r.get("provenance"), dict)
    ]
    versions = sorted({str(p["psmlab"]) for p in provs if p.get("psmlab")})
    code = sorted({str(p["psmlab_code"]) for p in provs if p.get("psmlab_code")})
    rules = sorted({str(r["rules"]) for r in results.done.values() if r.get("rules")})
    seeds = sorted(
        {int(r["seed"]) for r in results.done.values() if isinstance(r.get("seed"), int)}
    )
    if versions or seeds:
        shown = ", ".join(map(str, seeds[:12])) + (", …" if len(seeds) > 12 else "")
        out += [
            f"psmlab {', '.join(versions) or 'version not recorded'}"
            + (f" (code {md_inline(', '.join(code))})" if code else "")
            + (f"; samples labelled by rules {md_inline(', '.join(rules))}" if rules else "")
            # Each row's own seed: a unit's sample i uses the unit's seed + i (a trial read
            # "seeds 1, 2, 3, 4" against the file's seeds = [1]).
            + (
                f"; the rows' seeds {shown} ({len(seeds)} in all; a unit's sample i is drawn "
                "with its seed + i)"
                if seeds
                else ""
            )
            + ".",
            "",
        ]
        if any(
            isinstance(p := r.get("params"), dict) and isinstance(p.get("parallel"), dict)
            for r in results.done.values()
        ):
            # A seed read as enough to re-run one sample (a trial): it is not, alone.
            out[-2] += (
                " A cell's samples are decoded together as one group (each row's "
                "`params.parallel` lists the group's seeds), so one sample's seed alone does not "
                "reproduce it: the same file run into another folder (-o DIR) makes the group again."
            )
    out += sampling_lines(results)
    out += given_lines(given, results)
    out += steering_lines(results)
    out += prompt_warning_lines(results)
    tables = sample_tables(results)
    if tables:
        out += [
            "## Automatic labels",
            "",
            " · ".join(labeller_line(x, personas=made_with(results)) for x in labellers(results))
            + ".",
            "",
            "Each cell is k/n samples with a 95% Wilson interval; a label absent from all n samples "
            "shows the interval's upper bound (≤), not 0%. How a turn ended is reported beside "
            "the labels, never counted as one.",
            "",
        ]
    for q, table in tables.items():
        out += _sample_section(q, table, made_with(results))
        out += comparison_lines(table)
    out += probe_section(results)
    out += agreement_section(results, " · ".join(labellers(results)) or LABELLER, people)
    evals = eval_tables(results)
    if evals:
        out += eval_section(evals)
    if errors:
        out += ["## Errors", ""] + [
            f"- {md_inline(r['key'])}: {md_inline(r['error'])}" for r in errors[:50]
        ]
    return "\n".join(out).rstrip() + "\n"


def _sample_section(
    q: str, table: dict[tuple[str, str, str], LabelShares], personas: set[str] | None = None
) -> list[str]:
    """One question's samples: the self-identification table, then the archetype table."""
    out = [
        f"## Samples: {md_inline(q)}",
        "",
        "Self-identification (what the text claims to be):",
        "",
    ]
    classes = [s.label for s in next(iter(table.values())).self_id]
    out.append("| model | format | context | n | " + " | ".join(classes) + " | turn ended |")
    out.append("|" + "---|" * (5 + len(classes)))
    chart = []
    for (m, f, c), ls in table.items():
        cells = [fmt_share(s) for s in ls.self_id]
        out.append(
            f"| {md_inline(m)} | {md_inline(f)} | {md_inline(c)} | {ls.n} | "
            + " | ".join(cells)
            + f" | {md_inline(fmt_ends(ls.ends))} |"
        )
        top = max(ls.self_id, key=lambda s: s.k, default=None)
        if top is not None and top.n:
            chart.append(
                f"{m[:24]:<24} {f[:10]:<10} {c[:12]:<12} {bar(top.share)} {top.k}/{top.n} {top.label}"
            )
    labels = list(dict.fromkeys(s.label for ls in table.values() for s in ls.archetypes))
    several = any(overlapping(ls.archetypes) for ls in table.values())
    out += ["", "```text", *chart, "```", "", "Archetypes (marker phrases):", ""]
    if several:  # a row whose shares add up past 100% is not an error: said before the table
        out[-2] = (
            "Archetypes (marker phrases; a sample can carry several, so a row can sum past 100%):"
        )
    measured = level_agreement(LABELLER, "archetypes", personas=personas)
    if measured is not None and unreliable(measured):
        k = measured
        # Said over the table, not only in the labeller line at the top: a trial read
        # "human-impostor 1/4 25%" beside any human claim as a finding.
        out[-2] += (
            f" ⚠ these labels agree with people no better than chance (κ {fmt2(k['kappa'])} "
            f"[{fmt2(k['ci_low'])}, {fmt2(k['ci_high'])}], n={k['n']}, gold test split): read "
            "the samples before citing a share."
        )
    out.append(
        "| model | format | context | n | " + " | ".join(md_inline(x) for x in labels) + " |"
    )
    out.append("|" + "---|" * (4 + len(labels)))
    for (m, f, c), ls in table.items():
        by = {s.label: s for s in ls.archetypes}
        cells = [fmt_share(by.get(lab, Share(lab, 0, ls.n))) for lab in labels]
        out.append(
            f"| {md_inline(m)} | {md_inline(f)} | {md_inline(c)} | {ls.n} | "
            + " | ".join(cells)
            + " |"
        )
    return [*out, ""]


def steering_lines(results: ResultsFile) -> list[str]:
    """Which contexts steered which model, with what vector (file, sha256, layers, alpha)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in results.done.values():
        if r.get("steer"):
            seen.setdefault((r["model"], r["context"]), r["steer"])
    if not seen:
        return []
    out = [
        "Steering (a control vector added to the residual stream at each listed layer, "
        "alpha times the file's direction):",
        "",
        "| model | context | vector | sha256 | layers | alpha |",
        "|---|---|---|---|---|---|",
    ]
    for (m, c), st in seen.items():
        out.append(
            f"| {md_inline(m)} | {md_inline(c)} | {md_inline(Path(str(st['file'])).name)} | "
            f"`{st['sha256']!s}` | {md_inline(','.join(map(str, st['layers'])))} | "
            f"{st['alpha']} |"
        )
    strong: set[float] = set()
    said: set[str] = set()
    unread: set[str] = set()
    for st in seen.values():
        try:  # the one rule `ask --steer` warns by, where the vector can be read again
            steering: Steering | None = Steering.from_record(st)
        except (PsmlabError, OSError):  # moved, edited or unreadable since the run
            steering = None
            unread.add(Path(str(st.get("file"))).name)
        if steering is not None and shifts(steering):
            if why := too_strong(steering):
                said.add(why)
        elif abs(a := _number(st.get("alpha"))) > USUAL_ALPHA:  # no norm to measure against
            strong.add(a)
    if unread:
        # Its strength against the residual stream needs the file: the run may have warned
        # of a strength that alpha alone (below) does not show.
        out += [
            "",
            f"{', '.join(md_inline(u) for u in sorted(unread))}: not found as recorded (moved "
            "or changed since the run), so steering strength is judged here by alpha alone; "
            "the run's own warnings (stderr) measured it against the residual stream.",
        ]
    if strong:
        out += [
            "",
            f"**Alpha {', '.join(f'{a:g}' for a in sorted(strong))} is past the usual 1 to "
            f"{USUAL_ALPHA:g}:** answers this strongly steered are often broken text, which the "
            "labels below count as answers. Read the samples before their shares.",
        ]
    out += ["", *(f"**Strong steering:** {md_inline(w)}." for w in sorted(said))] if said else []
    return [*out, ""]


def _number(x: Any) -> float:
    """A recorded number, 0 where a hand-edited row holds none (it is not steering strength)."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0
