"""summary.csv: every share of an experiment's report in long format (for pandas/R), each row
saying what its interval is, who labelled it and how well that labeller agrees with people."""

from __future__ import annotations

import csv
import io
from typing import Any

from psmlab.core.domain.classify import LABELLER
from psmlab.core.domain.quality import level_agreement
from psmlab.core.domain.stats import Share
from psmlab.core.measure.people import PeopleLabels
from psmlab.core.measure.report import labellers, made_with, sample_tables
from psmlab.core.measure.report_evals import eval_tables
from psmlab.core.measure.report_probes import probe_tables
from psmlab.core.measure.results import ResultsFile

# The csv's `interval` column: what its ci_low and ci_high are.
WILSON = "95% Wilson interval"
# The bias is fitted on the same items: its interval spans that refit too (evals_summary._corrected_interval).
CORRECTED = "95% Wilson interval joined with a bootstrap that refits the answer bias"
# Every item scored in both orders: no bias is fitted, the corrected rate is the raw one.
SWAPPED_ONLY = "95% Wilson interval (every item scored in both orders: no answer bias fitted)"
ITEM_RANGE = "lowest and highest item (a range, not an interval)"
T_ITEMS = "95% t interval over items (0 to 1 with fewer than 2)"


# How far the labeller of a row's labels agrees with people (psmlab/resources/labellers.json,
# the gold test split): Cohen's kappa, its 95% bootstrap interval and n. Empty where the row is
# not a label share, the labeller was not measured, or several labellers are joined in one row.
KAPPA_COLUMNS = (
    "labeller_kappa",
    "labeller_kappa_ci_low",
    "labeller_kappa_ci_high",
    "labeller_kappa_n",
)
# Which level of label each section's shares are (the opening design reads self-id classes).
_LEVEL = {"self_id": "self_id", "probes_opening": "self_id", "samples": "archetypes"}


def _kappa_cells(section: str, labeller: str, personas: set[str] | None = None) -> list[object]:
    level = _LEVEL.get(section)
    if level is None or not labeller or " + " in labeller:
        return ["", "", "", ""]
    m = level_agreement(labeller, level, personas=personas)
    if m is None:
        return ["", "", "", ""]
    return [m["kappa"], m["ci_low"], m["ci_high"], m["n"]]


class _WithKappa:
    """A csv writer that appends the labeller's measured kappa to each row it is given."""

    def __init__(
        self,
        w: Any,
        personas: set[str] | None = None,
        warned: set[tuple[str, str, str]] | None = None,
    ) -> None:
        self._w = w
        self._personas = personas
        self._warned = warned or set()

    def writerow(self, row: list[object]) -> None:
        cells = _kappa_cells(str(row[0]), str(row[12]), self._personas)
        if (str(row[1]), str(row[2]), str(row[3])) in self._warned:
            # A csv read alone lost what report.md says of the prompt (a trial's context
            # "none" held a chat template's default system prompt, unsaid).
            said = "the prompt held more than the file's text: see report.md's prompt warnings"
            row = [*row[:13], "; ".join(x for x in (str(row[13]), said) if x)]
        self._w.writerow([*row, *cells])


def _warned(results: ResultsFile) -> set[tuple[str, str, str]]:
    """The (model, format, context) cells whose prompts had warnings (`prompt_warning_lines`)."""
    return {
        (str(r["model"]), str(r.get("format", "")), str(r.get("context", "")))
        for r in results.done.values()
        if "error" not in r and r.get("warnings")
    }


def summary_csv(
    results: ResultsFile, people: PeopleLabels | None = None, planned: int | None = None
) -> str:
    buf = io.StringIO()
    raw = csv.writer(buf, lineterminator="\n")
    raw.writerow(
        [
            "section",
            "model",
            "format",
            "context",
            "what",
            "label",
            "k",
            "n",
            "value",
            "ci_low",
            "ci_high",
            "interval",  # what ci_low and ci_high are, row by row
            "labeller",  # who gave the labels counted (samples and self_id rows)
            "note",  # what the report says beside the number (a flag, polarity, position bias)
            *KAPPA_COLUMNS,
        ]
    )
    if planned is not None:
        # The run's own row first: a stopped run's csv read as the whole experiment (a trial's
        # 48 of 160 units, one model of two; report.md alone said "Incomplete").
        done = len(results.done)
        whole = done >= planned
        raw.writerow(
            [
                "run",
                "",
                "",
                "",
                "units done",
                "complete" if whole else "incomplete",
                done,
                planned,
                round(done / planned, 4) if planned else "",
                "",
                "",
                "",
                "",
                ""
                if whole
                else "the run was stopped: every other row covers the done units only; run the "
                "same command again to resume",
                *([""] * len(KAPPA_COLUMNS)),
            ]
        )
    w = _WithKappa(raw, made_with(results), _warned(results))
    by = " + ".join(labellers(results))
    # Archetype labels ("samples"), the self-identification axis ("self_id") and, beside them,
    # how the turns ended ("turn_end"): k of n with a 95% Wilson interval.
    for q, table in sample_tables(results).items():
        # Every archetype seen under this question gets a row in every cell, 0 of n included
        # (with its interval's upper bound), as report.md's table shows it: a missing row read
        # as 0 would have no n and no interval.
        seen = list(dict.fromkeys(s.label for ls in table.values() for s in ls.archetypes))
        for (m, f, c), ls in table.items():
            by_label = {s.label: s for s in ls.archetypes}
            archetypes = [by_label.get(x, Share(x, 0, ls.n)) for x in seen]
            for section, shares in (
                ("self_id", ls.self_id),
                ("samples", archetypes),
                ("turn_end", ls.ends),
            ):
                # Archetypes are always the rules' (a judge gives self-id labels only).
                labelled = {"self_id": by, "samples": LABELLER}.get(section, "")
                note = "how the turn ended, not a label" if section == "turn_end" else ""
                for x in shares:
                    d = x.to_dict()
                    row = [section, m, f, c, q, x.label, x.k, x.n]
                    w.writerow(
                        [*row, d["share"], d["ci_low"], d["ci_high"], WILSON, labelled, note]
                    )
    # Forced choice per probe set: the mean over its items, raw and calibrated, with the lowest
    # and highest item as the interval columns.
    for (pset, m, f, c), entry in probe_tables(results).items():
        for field, section in (
            ("probs", "probes"),
            ("calibrated", "probes_calibrated"),
            ("choice", "probes_choice"),
            ("opening", "probes_opening"),
        ):
            spread = entry.get(f"{field}_spread", {})
            what = f"{pset} (mean of {entry['n_items']} items)"
            by, note = "", ""
            if field == "opening" and field in entry:  # a share of the claimed part: its size
                by = "markers"
                note = (
                    f"P(class | an ai or human claim); of the openings' probability "
                    f"{entry['opening_claimed']:.3f} claimed, {entry['opening_cut']:.3f} cut, "
                    f"{entry['opening_unread']:.3f} unread"
                )
            if field == "choice" and field in entry:  # rotated letters: their own bias beside
                note = (
                    "multiple choice, option order rotated; position bias "
                    f"{entry['choice_position_bias']:+.3f}"
                )
            if rested := entry.get(f"{field}_rests_on"):  # as the report's cell says it
                said = f"{rested} of {entry['n_items']} item(s): the top rests on one answer"
                note = "; ".join(x for x in (note, said) if x)
            if f"{field}_partial" in entry:  # no mean over the set: said, not a missing row
                k, n = entry[f"{field}_partial"]
                row = [section, m, f, c, f"{pset} ({n} items)", "", k, n]
                note = f"{k} of {n} items scored: no mean over the set"
                w.writerow([*row, "", "", "", "", by, note])
            for a, p in sorted(entry.get(field, {}).items(), key=lambda kv: -kv[1]):
                low, high = spread.get(a, (p, p))
                # n: the items the mean is over (a trial found k and n empty; k is no count here).
                row = [section, m, f, c, what, a, "", entry["n_items"]]
                w.writerow([*row, round(p, 6), round(low, 6), round(high, 6), ITEM_RANGE, by, note])
    for (m, f, c, e), s in eval_tables(results).items():
        pos = s["position_bias"]
        note = "; ".join(
            x
            for x in (
                s["polarity"],
                "dominated by answer bias" if s["bias_dominated"] else "",
                f"(A) wins {pos:.0%} of {2 * s['counterbalanced']}" if pos is not None else "",
            )
            if x
        )
        # The argmax rate (k of n), the bias-corrected rate and the mean P(matching), each with
        # what its interval is.
        corrected = CORRECTED if s["counterbalanced"] < s["n"] else SWAPPED_ONLY
        for label, k, keys, interval in (
            ("matching", s["matching"], ("rate", "ci_low", "ci_high"), WILSON),
            (
                "bias-corrected",
                "",
                ("corrected_rate", "corrected_ci_low", "corrected_ci_high"),
                corrected,
            ),
            ("p_matching", "", ("p_matching", "p_matching_ci_low", "p_matching_ci_high"), T_ITEMS),
        ):
            values = [round(s[x], 4) for x in keys]
            w.writerow(["evals", m, f, c, e, label, k, s["n"], *values, interval, "", note])
    if people is not None:
        _people_rows(w, results, people)
    return buf.getvalue()


def _people_rows(w: Any, results: ResultsFile, people: PeopleLabels) -> None:
    """With --people: the self-id shares as people read the samples they labelled, per cell
    and question, and the automatic labels' kappa against those people (the report said both,
    summary.csv neither: a trial's rules read 0/4 human where the person read 2/4)."""
    from collections import defaultdict

    from psmlab.core.domain.stats import shares_of
    from psmlab.core.domain.types import AutoLabel
    from psmlab.core.measure.kappa import compare
    from psmlab.core.measure.people import relabelled, sample_key
    from psmlab.core.measure.results import rows_of

    samples = list(rows_of(results, "sample"))
    read = relabelled(samples, people)
    who = "people: " + (", ".join(people.annotators) or "no annotator")
    groups: dict[str, dict[tuple[str, str, str], list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in read:
        groups[r["question"]][(r["model"], r["format"], r["context"])].append(r)
    note = "as people read the samples they labelled"
    for q, g in groups.items():
        for (m, f, c), rows in g.items():
            ls = shares_of(
                (AutoLabel(labels=(), self_id=r["self_id"], method="people") for r in rows),
                (r["finish_reason"] for r in rows),
            )
            for x in ls.self_id:
                d = x.to_dict()
                w.writerow(
                    ["self_id_people", m, f, c, q, x.label, x.k, x.n, d["share"], d["ci_low"],
                     d["ci_high"], WILSON, who, note]
                )  # fmt: skip
    auto = {sample_key(r): str(r["self_id"]) for r in samples if r.get("self_id") is not None}
    pairs = [(auto[k], people.values[k]) for k in map(sample_key, read) if k in auto]
    if pairs:
        a = compare([p[0] for p in pairs], [p[1] for p in pairs])
        by = " + ".join(labellers(results))
        w.writerow(
            ["labeller_vs_people", "", "", "", "self-id kappa of the automatic labels against "
             "these people", by, "", a.n, round(a.kappa, 4), round(a.kappa_ci[0], 4),
             round(a.kappa_ci[1], 4), "95% bootstrap interval", who,
             "Cohen's kappa on the samples people labelled (nan: one label on both sides)"]
        )  # fmt: skip
