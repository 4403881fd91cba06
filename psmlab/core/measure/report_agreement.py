"""Report section for instrument agreement: forced choice against the labelled samples, cell by
cell, with the samples as the automatic labeller reads them and, when sessions give them, as
people read them."""

from __future__ import annotations

import math
from typing import Any

from psmlab.core.measure import instruments
from psmlab.core.measure.kappa import SMALL_N, compare
from psmlab.core.measure.people import PeopleLabels, relabelled, sample_key
from psmlab.core.measure.report_probes import DESIGNS, probe_rows
from psmlab.core.measure.results import ResultsFile, rows_of
from psmlab.core.session.export import md_inline

# Fewer labelled samples give a kappa whose interval says little: psmlab agreement's bound.
MIN_KAPPA_N = SMALL_N


def _pct(p: float | None) -> str:
    return "–" if p is None else f"{p:.2f}"


def agreement_section(
    results: ResultsFile, labeller: str, people: PeopleLabels | None = None
) -> list[str]:
    """Forced choice against the labelled samples, per cell and pooled over questions; with
    `people`, again against the samples people labelled."""
    samples = list(rows_of(results, "sample"))
    probes = [*probe_rows(results), *rows_of(results, "choice"), *rows_of(results, "opening")]
    per = instruments.cells(samples, probes)
    extra = [] if people is None else _people_section(samples, probes, people, labeller)
    if not per and samples and any(r.get("axis") == "self_id" for r in probes):
        # Both instruments ran, on different questions: said, not a section gone unsaid.
        return [
            "## Instrument agreement (self-identification)",
            "",
            "Not compared: no cell holds both self-identification forced choice and sampled "
            "answers to the same question (same text, model, format and context). To compare "
            "them, sample the questions the probe set asks, as "
            'experiments/self-identification.toml samples "What are you?" and "Are you a '
            'human?" beside `probes = ["self-id"]`.',
            "",
            *extra,
        ]
    if not per:
        return extra  # people's labels are still compared with the automatic ones
    matched = all(c.matched for c in per)
    out = [
        "## Instrument agreement (self-identification)",
        "",
        "Forced choice on the self-identification axis against the sampled answers' "
        f"self-identification labels ({md_inline(labeller)}), cell by cell. Forced choice chooses "
        "only between AI and human answers, so it is compared with the samples that claim one of "
        "the two: P(ai) among them (samples claiming nothing or both are counted in n, not in "
        "the share). TVD: total variation distance between the two (ai, human) distributions, "
        f"with a 95% interval (the samples' P(ai) drawn {instruments.BOOTSTRAP:,} times from its "
        "Jeffreys posterior, "
        "Beta(k + 1/2, n - k + 1/2); the interval of the signed difference, folded at 0). Pooled "
        "over questions, each question's forced-choice P(ai) is weighted by its number of sampled "
        "claims, as the samples' pooled share weighs it (a question whose samples claim nothing "
        "drops out of the pooled row). A majority of two or three "
        "claims is a hint, not a finding: the summary also counts cells with at least "
        f"{instruments.STRONG} claims, and the cells whose samples' majority is clear (the 95% "
        "Wilson interval of their P(ai) excludes 0.5; elsewhere the samples' own top class is "
        "a coin toss). A forced-choice P(ai) within "
        f"{instruments.EVEN:.2f} of 0.5 leans neither way (≈) and does not count as agreeing. "
        "Designs: *raw* forced choice, "
        "*calibrated* (PMI against the content-free question), *choice* (multiple choice, "
        'option order rotated) and *opening* (the model\'s own continuations of "I\'m" / "I am", '
        "walked best first and read by the marker rules"
        + (
            ", as the samples are: a mistake of the rules can be shared by both instruments"
            if labeller.split(" ")[0] == "markers"
            else f"; the samples are read by {md_inline(labeller)}, another labeller"
        )
        + ") where the experiment asks for them.",
        "",
        "The samples were drawn at T=1 with no truncation: matched settings."
        if matched
        else "**Settings do not match**: some samples were drawn with a truncated or tempered "
        "distribution, while forced choice scores the untruncated T=1 one. Treat "
        "disagreement here as expected, not as a finding.",
        "",
    ]
    return out + _tables(per, instruments.cells(samples, probes, pooled=True)) + extra


def _people_section(
    samples: list[dict[str, Any]],
    probes: list[dict[str, Any]],
    people: PeopleLabels,
    labeller: str,
) -> list[str]:
    """The same comparison with each sample's self-id as people read it."""
    read = relabelled(samples, people)
    who = ", ".join(md_inline(a) for a in people.annotators) or "no annotator"
    out = ["## Instrument agreement against people's labels", ""]
    # One annotator: each label is one person's reading, no agreement between people (a trial
    # read "where every annotator gave the same label; 0 read by one annotator only" of one).
    how = (
        f"annotator: {who}; {len(read)} of {len(samples)} samples labelled, each read by that "
        "one person only (no second reading to agree with)"
        if people.readers == 1
        else f"annotators: {who}; {len(read)} of {len(samples)} samples labelled, where every "
        f"annotator who read a sample gave the same label; {people.disputed} labelled "
        f"differently, left out; {people.single} read by one annotator only"
    )
    lines = [
        f"The same comparison with each sample's self-identification as people read it "
        f"({how}; {people.blind} labelled blind"
        + (
            f"; {people.not_found} annotations of samples that are not in these results, or "
            "whose text differs, ignored"
            if people.not_found
            else ""
        )
        + "). People's labels do not share the marker rules' mistakes, so they check both the "
        "samples' automatic labels and the opening design, which reads its walk with the rules."
    ]
    if not read:
        return [*out, *lines, "", "No sample of these results was labelled by people.", ""]
    auto = {sample_key(r): str(r["self_id"]) for r in samples if r.get("self_id") is not None}
    pairs = [(auto[k], people.values[k]) for k in map(sample_key, read) if k in auto]
    if pairs:
        a = compare([p[0] for p in pairs], [p[1] for p in pairs])
        said = f"accuracy {a.accuracy:.2f}, n={a.n}"
        if math.isnan(a.kappa) or math.isnan(a.kappa_ci[0]):
            # One label on both sides: kappa is undefined (psmlab agreement says the same).
            lines.append(
                f"On these samples the automatic labels ({md_inline(labeller)}) agree with "
                f"people with {said} (no kappa: both give every sample the same label)."
            )
        else:
            # Printed at any n, as psmlab agreement prints it; the interval says how little a
            # few samples pin it down ("too few for a kappa" here, a kappa there, read as two
            # findings).
            weak = [
                *(
                    [f"fewer than {MIN_KAPPA_N} samples: read the interval, not the point"]
                    if a.n < MIN_KAPPA_N
                    else []
                ),
                *(
                    ["the interval includes 0: it cannot be told from chance"]
                    if a.unreliable
                    else []
                ),
            ]
            lines.append(
                f"On these samples the automatic labels ({md_inline(labeller)}) agree with "
                f"people at Cohen's κ {a.kappa:.2f} [{a.kappa_ci[0]:.2f}, {a.kappa_ci[1]:.2f}] "
                f"({said}" + "".join(f"; {w}" for w in weak) + ")."
            )
    out += [" ".join(lines), ""]
    per = instruments.cells(read, probes)
    if not per:
        return [*out, "No labelled sample is in a cell that forced choice scored.", ""]
    return out + _tables(per, instruments.cells(read, probes, pooled=True))


def _tables(per: list[instruments.Cell], pooled: list[instruments.Cell]) -> list[str]:
    """Per design, how many cells agree, then every cell, per question and pooled."""
    out: list[str] = []
    for title, cs in (("Per question", per), ("Pooled over questions", pooled)):
        s = instruments.summary(cs)
        out += [f"### {title}", ""]
        designs = [d for d in DESIGNS if any(d in c.fc for c in cs)]
        for d in designs:
            if s[d]["of"]:
                tv = s[d]["mean_tvd"]
                out.append(
                    f"- {d}: top class agrees in **{s[d]['agree']} of {s[d]['of']}** cells "
                    f"with claims (of {s['cells']}"
                    + (
                        f"; the samples tie in {s['sample_ties']}, not counted"
                        if s["sample_ties"]
                        else ""
                    )
                    + (f"; it leans neither way in {s[d]['even']}" if s[d]["even"] else "")
                    + f"); in {s[d]['agree_strong']} of "
                    f"{s[d]['of_strong']} with at least {instruments.STRONG} claims; in "
                    f"{s[d]['agree_clear']} of {s[d]['of_clear']} whose samples' majority is "
                    "clear; "
                    f"mean TVD {_pct(tv)}"
                )
        if (k := s.get("constant")) and any(s[d]["of"] for d in designs):
            out.append(
                f"- baseline, the same answer in every cell: **{k['class']}** agrees in "
                f"**{k['agree']} of {k['of']}** cells with claims (in {k['agree_strong']} of "
                f"{k['of_strong']} with at least {instruments.STRONG} claims; in "
                f"{k['agree_clear']} of {k['of_clear']} clear); "
                + (
                    "one P(ai) for all (each cell given the median of the other cells' shares) "
                    f"has mean TVD {_pct(k['mean_tvd'])}"
                    if k["mean_tvd"] is not None
                    else "one cell alone: no other cell's share to give it, so no TVD baseline"
                )
                + ": a design tells cells apart only where it does better"
            )
        head = "".join(f" {d} P(ai) | {d} TVD [95% CI] |" for d in designs)
        out += [
            "",
            "| model | format | context | question | n | claims ai/human | samples P(ai) |" + head,
            "|---|---|---|---|---|---|---|" + "---|---|" * len(designs),
        ]
        for c in cs:
            cols = []
            for d in designs:
                if d not in c.fc:
                    cols += ["–", "–"]
                    continue
                t = c.tvd(d)
                mark = {True: " ✓", False: " ✗", None: ""}[c.agrees(d)]
                if c.agrees(d) is not None and c.fc_top(d) == "tie":
                    mark = " ≈"  # leans neither way: not counted as agreeing
                cols += [
                    f"{_shown(c.fc[d], c.fc_top(d))}{mark}",
                    "no claims" if t is None else f"{t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}]",
                ]
            out.append(
                f"| {md_inline(c.model)} | {md_inline(c.format)} | {md_inline(c.context)} | "
                f"{md_inline(c.question)} | {c.n} | {c.counts.get('ai', 0)}/"
                f"{c.counts.get('human', 0)} | {_pct(c.sample_ai)}"
                # A majority within its interval of an even split: agreeing with it is a toss.
                + ("" if c.clear or c.sample_ai is None else " (no clear majority)")
                + " | "
                + " | ".join(cols)
                + " |"
            )
        out.append("")
    return out


def _shown(p: float, top: str) -> str:
    """P(ai) for a table cell: two decimals, three near the band's edge, rounded to the side
    `fc_top` read it on ("0.55 ≈" for 0.549 beside "0.55 ✓" for 0.55, and 0.5496 showed
    "0.550 ≈")."""
    if abs(abs(p - 0.5) - instruments.EVEN) >= 0.005:
        return f"{p:.2f}"
    toward_half = top == "tie"
    down = toward_half == (p > 0.5)
    q = (math.floor if down else math.ceil)(round(p * 1000, 6)) / 1000
    return f"{q:.3f}"
