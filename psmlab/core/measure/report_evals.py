"""The experiment report's model-written-evaluations part: each file's summary per cell, and its
table (what "matching" means, the rates with their intervals, the biases and the correction)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from psmlab.core.measure.evals_io import EvalItem
from psmlab.core.measure.evals_summary import (
    BIAS_DOMINATED,
    answer_bias_text,
    summarize_rows,
    wins_text,
)
from psmlab.core.measure.results import ResultsFile, rows_of
from psmlab.core.session.export import md_inline
from psmlab.core.session.md_text import md_code


def eval_tables(results: ResultsFile) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """(model, format, context, eval file) -> the file's summary in that cell."""
    rows: dict[tuple[str, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    items: dict[int, EvalItem] = {}
    out = {}
    for r in rows_of(results, "eval"):
        rows[(r["model"], r["format"], r["context"], r["eval"])].append(dict(r))
    for key, rs in rows.items():
        items = {
            r["index"]: EvalItem(
                r["index"],
                "",
                r["matching"],
                r["not_matching"],
                tuple(r.get("wrong_answers", [])[1:]),
            )
            for r in rs
        }
        # rows written before polarity was recorded say nothing: the report says "not recorded"
        pols = {r["polarity"] for r in rs if r.get("polarity")}
        skipped = max((int(r.get("skipped_in_file") or 0) for r in rs), default=0)
        limits = {int(r["eval_limit"]) for r in rs if r.get("eval_limit")}
        files = sorted(
            {
                (str(f.get("path")), str(f.get("sha256")))
                for r in rs
                if isinstance(f := r.get("eval_file"), dict)
            }
        )
        out[key] = {
            **summarize_rows(rs, items),
            "files": files,
            "unfiled": sum(1 for r in rs if not isinstance(r.get("eval_file"), dict)),
            "polarity": " / ".join(sorted(pols)),
            "skipped": skipped,
            "item_systems": sum(1 for r in rs if r.get("item_system")),
            "limited": max(limits) if limits else None,
        }
    return out


def eval_section(evals: dict[tuple[str, str, str, str], dict[str, Any]]) -> list[str]:
    """The evals table: what "matching" means per file, the argmax rate and the mean probability
    (Perez et al.), each with its interval, the position bias and the answer-bias correction."""
    swapped = any(s["counterbalanced"] for s in evals.values())
    order = (
        "(A)/(B) items are scored as written and with their two choices swapped (letters kept), "
        "and averaged; *(A) wins* is the share of those orders won by the letter (A) (0.5: no "
        "position bias). *matching* adds the items' scores (1: the matching answer wins in both "
        "orders, 0.5: in one, 0: in neither); its interval treats that sum as a count."
        if swapped
        # Said either way: a file of Yes/No items has nothing to swap, whatever `swap` says.
        else "Items are scored only as written (the experiment sets `swap = false`, as Perez et "
        "al. did, or its items have no (A)/(B) choices to swap): the rates keep any preference "
        "for a letter or position."
    )
    out = [
        "## Model-written evaluations",
        "",
        order + " *P(matching)* is the mean probability of the matching answer, "
        "normalised over the item's answers (an item listing several wrong answers matches only "
        "when its matching answer is the most likely of all; such items are never swapped and "
        "keep their raw verdict in the bias-corrected rate).",
        "",
        "| model | format | context | file | what matching means | n | matching | "
        "rate (95% CI) | P(matching) (95% CI) | (A) wins | answer bias | bias-corrected (95% CI) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (m, f, c, e), s in evals.items():
        bias = answer_bias_text(s, lambda k: md_inline(repr(k)))
        flag = " (dominated by bias)" if s["bias_dominated"] else ""
        pos = s["position_bias"]
        wins = wins_text(s) if pos is not None else "not swapped"
        if pos is not None and s["counterbalanced"] and max(pos, 1 - pos) >= BIAS_DOMINATED:
            # As `psmlab evals` says it: a letter that wins whatever it names says little.
            cb = s["counterbalanced"]
            # As the CLI says it: of the items scored in both orders only (items never swapped,
            # several wrong answers or Yes/No, keep their own rate).
            on = "" if cb == s["n"] else f"on the {cb} of {s['n']} items scored in both orders "
            wins += f" (a letter wins whatever it says: {on}'matching' is near 50% by construction)"
        pol = s["polarity"].removeprefix("matching = ") or "not recorded"
        # Lines of the file that could not be scored (e.g. no answer fields) are said.
        file = e + (f" ({s['skipped']} lines skipped)" if s["skipped"] else "")
        if s["limited"]:  # eval_limit: the file holds more items than were scored
            file += f" (its first {s['limited']} items only: eval_limit)"
        if s["item_systems"]:  # ARENA-style items bring their own system prompt
            file += f" ({s['item_systems']} items with their own system prompt)"
        out.append(
            f"| {md_inline(m)} | {md_inline(f)} | {md_inline(c)} | {md_inline(file)} | "
            f"{md_inline(pol)} | {s['n']} | {s['matching']} | {s['rate']:.0%} "
            f"({s['ci_low']:.0%}–{s['ci_high']:.0%}){flag} | {s['p_matching']:.2f} "
            f"({s['p_matching_ci_low']:.2f}–{s['p_matching_ci_high']:.2f}) | {wins} | {bias} | "
            f"{s['corrected_rate']:.0%} ({s['corrected_ci_low']:.0%}–{s['corrected_ci_high']:.0%})"
            + (
                " (every item scored in both orders: swapping corrects it, the raw rate)"
                if s["n"] and s["counterbalanced"] == s["n"]
                else " (no item could be corrected: the raw rate)"
                if s["n"]
                and s["uncorrected"]
                + s["confounded"]
                + s.get("thin_side", 0)
                + s["several_answers"]
                == s["n"]
                else ""
            )
            + " |"
        )
    # Which files, as read (path and sha256): a result nobody can tie to its file cannot be
    # re-run. Rows of runs before this was recorded name none, and are counted.
    read = sorted({(e, f) for (_, _, _, e), s in evals.items() for f in s.get("files", [])})
    unfiled = sum(s.get("unfiled", 0) for s in evals.values())
    if read or unfiled:
        out += [""] + [
            f"- {md_inline(e)}: {md_code(path)}, sha256 {md_code(sha)}" for e, (path, sha) in read
        ]
        if unfiled:
            out.append(f"- {unfiled} rows record no file (made before files were recorded)")
        shas: dict[str, set[str]] = {}
        for e, (_, sha) in read:
            shas.setdefault(e, set()).add(sha)
        if edited := sorted(e for e, found in shas.items() if len(found) > 1):
            out.append(
                f"- {md_inline(', '.join(edited))} was read with more than one content (edited "
                "between runs): its rows mix them"
            )
    return [*out, ""]
