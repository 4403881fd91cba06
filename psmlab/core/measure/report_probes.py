"""Report sections for forced choice: tables per probe set, and instrument agreement with samples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from psmlab.core.domain.stats import LabelShares, differences, fmt_diff, many_comparisons_note
from psmlab.core.measure.results import ResultsFile, rows_of
from psmlab.core.session.export import md_inline
from psmlab.core.session.md_text import md_code

DESIGNS = ("raw", "calibrated", "choice", "opening")
ProbeKey = tuple[str, str, str, str]  # (probe set, model, format, context)


def probe_rows(results: ResultsFile) -> Iterator[dict[str, Any]]:
    """Probe rows, newest scoring only: a row from before paraphrases and calibration (key
    `probe|...`) is left out when the same unit was scored again (`probe2|...`)."""
    rows = list(rows_of(results, "probe"))
    newer = {r["key"].split("|", 1)[1] for r in rows if r["key"].startswith("probe2|")}
    for r in rows:
        if r["key"].startswith("probe|") and r["key"].split("|", 1)[1] in newer:
            continue
        yield r


def probe_tables(results: ResultsFile) -> dict[ProbeKey, dict[str, Any]]:
    """(probe set, model, format, context) -> mean raw and calibrated distributions over the
    set's items, each class's spread over items, and n items; the multiple-choice and opening
    designs where they ran. Sets are never averaged together (identity questions and a shutdown
    question measure different things)."""
    by: dict[str, dict[ProbeKey, list[dict[str, Any]]]] = {
        "probe": defaultdict(list),
        "opening": defaultdict(list),
        "choice": defaultdict(list),
    }
    for kind, rows_in in (
        ("probe", probe_rows(results)),
        ("opening", rows_of(results, "opening")),
        ("choice", rows_of(results, "choice")),
    ):
        for r in rows_in:
            pset, _ = _set_item(r)
            by[kind][(pset, r["model"], r["format"], r["context"])].append(r)
    # The set's items as the file plans them and as the run met them, in every cell and design,
    # failed units too: a cell whose ordinary probes all failed (a server without prompt
    # log-probabilities) still has its multiple choice, a cell a stopped run reached one item of
    # is short of the set (counted from the run alone, a stopped run's one item was "the set",
    # its score a mean), and a mean is only a mean over the set when every item is in it.
    items: dict[str, dict[str, None]] = defaultdict(dict)
    for key in sorted(results.planned):
        if key.split("|", 1)[0] in ("probe", "probe2", "opening", "choice"):
            pset, item = _set_item({"key": key})
            items[pset][item] = None
    cells: dict[ProbeKey, None] = {}
    for r in results.done.values():
        if r.get("kind") in by and all(
            r.get(f) is not None for f in ("model", "format", "context")
        ):
            pset, item = _set_item(r)
            items[pset][item] = None
            cells[(pset, r["model"], r["format"], r["context"])] = None
    out: dict[ProbeKey, dict[str, Any]] = {}
    for k in cells:
        scored = [r for kind in by for r in by[kind].get(k, [])]
        if not scored:
            continue  # every unit of the cell failed: the Errors section lists them
        n = len(items[k[0]])
        entry: dict[str, Any] = {"n_items": n, "axis": scored[0].get("axis", "archetype")}
        rows = by["probe"].get(k, [])
        for field in ("probs", "calibrated"):
            _mean_into(entry, field, [r[field] for r in rows if r.get(field)], n)
        for field in ("probs", "calibrated"):
            k_field = sum(bool(r.get(field)) for r in rows)
            if k_field and k_field < n:
                entry[f"{field}_partial"] = (k_field, n)
        for field, key in (("probs", "raw_rests_on"), ("calibrated", "calibrated_rests_on")):
            # Items whose top one answer decides (rows from before this was recorded say
            # nothing: counted only where every row of the cell says).
            if rows and all(key in r for r in rows):
                entry[f"{field}_rests_on"] = sum(bool(r[key]) for r in rows)
        for design in ("opening", "choice"):
            done = by[design].get(k, [])
            if not done:
                continue
            # A design that scored some items only (a stopped run, a failed unit, a prefilled
            # item, which is not walked): a mean over those is no mean over the set, and was
            # reported as "an item's walk claimed neither". Said as it is.
            if len(done) < n:
                entry[f"{design}_partial"] = (len(done), n)
                continue
            if _mean_into(entry, design, [r["probs"] for r in done if r["probs"]], n):
                if design == "choice":  # how much a letter gets whatever it names
                    entry["choice_position_bias"] = sum(
                        float(r.get("max_position_bias") or 0.0) for r in done
                    ) / len(done)
                    continue
                # The opening design: P(class | a claim), and how much of the openings' mass
                # claimed anything (a share over few claims is weak).
                for what, parts in (
                    ("claimed", ("ai", "human", "mixed")),
                    ("cut", ("cut",)),
                    ("unread", ("unread",)),
                ):
                    entry[f"opening_{what}"] = sum(
                        sum(r["masses"].get(c, 0.0) for c in parts) for r in done
                    ) / len(done)
            else:  # every item walked, and some item's walk claimed neither class
                entry[f"{design}_none"] = sum(not r["probs"] for r in done)
        out[k] = entry
    return out


def _set_item(r: dict[str, Any]) -> tuple[str, str]:
    """A probe, choice or opening row's (probe set, item): from its fields, or from its unit key
    ("kind|model|format|context|SET/ITEM"), which a failed unit's row has alone."""
    if r.get("probe_set") and r.get("item") is not None:
        return str(r["probe_set"]), str(r["item"])
    whole = str(r.get("probe") or r["key"].rsplit("|", 1)[-1])
    pset, _, item = whole.partition("/")
    return pset, item


def _mean_into(entry: dict[str, Any], field: str, dists: list[dict[str, float]], n: int) -> bool:
    """The mean distribution over items and each class's lowest and highest item, when every
    one of the n items has one."""
    if not dists or len(dists) != n:
        return False
    keys = list(dict.fromkeys(a for d in dists for a in d))
    entry[field] = {a: sum(d.get(a, 0.0) for d in dists) / len(dists) for a in keys}
    entry[f"{field}_spread"] = {
        a: (min(d.get(a, 0.0) for d in dists), max(d.get(a, 0.0) for d in dists)) for a in keys
    }
    return True


def _top3(probs: dict[str, float], spread: dict[str, tuple[float, float]] | None) -> str:
    top = sorted(probs.items(), key=lambda kv: -kv[1])[:3]
    parts = []
    for a, p in top:
        # "items", not a bare (a–b): beside Wilson intervals in the same report, a range of
        # items read as an interval (a trial); summary.csv says "a range, not an interval".
        rng = f" (items {spread[a][0]:.2f}–{spread[a][1]:.2f})" if spread and a in spread else ""
        parts.append(f"{md_inline(a)} {p:.2f}{rng}")
    return ", ".join(parts)


def probe_section(results: ResultsFile) -> list[str]:
    tables = probe_tables(results)
    if not tables:
        return []
    out = [
        "## Forced-choice probes",
        "",
        "Forced choice: P(class | one of the scored answers) under the model's untruncated T=1 "
        "distribution, no sampling. Each class's answers (paraphrases) are aggregated by "
        "log-mean-exp, so more paraphrases give no bonus. *Calibrated*: each answer's "
        'log-probability minus its log-probability after a content-free question ("N/A") in '
        "the same format and context (PMI). Each cell is the mean over the set's items, with "
        'the lowest and highest item in brackets ("items a–b": a range, not an interval) when '
        "there are several. A design that did "
        "not score every item of the set (a stopped run, a failed unit, or a prefilled item, "
        'which is not walked) shows how many it scored, not a mean. "The top rests on one '
        "answer\": leaving one answer out would change that item's top class (results.jsonl "
        "names it), so the class leads on one wording, not on its paraphrases.",
        "",
    ]
    if _ran(tables.values(), "choice"):
        out += [
            '*Multiple choice* (where the experiment asks for it): "Which best describes you? '
            '(A) … (B) …", one option per class, the answer started "(" and P(letter) read; '
            "every rotation of the option order is scored and averaged, so each option stands at "
            "each letter once. *Position bias*: how much more than an even share the most "
            "favoured letter gets whatever it names (mean over items); a large one means the "
            "letters, not the options, drive the answer.",
            "",
        ]
    if _ran(tables.values(), "opening"):
        out += [
            "*Opening* (self-identification sets, where the experiment asks for it): the answer is "
            'started "I\'m" or "I am" and the model\'s own continuations are walked best '
            "first and read by the marker rules; P(class | an ai or human claim) and, after the "
            "semicolon, the share of the openings' probability that made a claim (ai, human or "
            "mixed), that was still undecided after five tokens (cut) and that was not followed "
            "(unread); the rest ended without a claim. The share describes the claimed part only: "
            "a class spread over many rare wordings loses more to unread.",
            "",
        ]
    for pset in dict.fromkeys(k[0] for k in tables):
        rows = {k: v for k, v in tables.items() if k[0] == pset}
        first = next(iter(rows.values()))
        out += [
            f"### Probe set {md_code(pset)} ({first['axis']} axis, {first['n_items']} item(s))",
            "",
        ]
        extra = [d for d in ("choice", "opening") if _ran(rows.values(), d)]
        heads = {
            "choice": " multiple choice (position bias) |",
            "opening": " opening (P(class given an ai or human claim); mass claimed, cut, unread) |",
        }
        out += [
            "| model | format | context | raw | calibrated |" + "".join(heads[d] for d in extra),
            "|---|---|---|---|---|" + "---|" * len(extra),
        ]
        for (_, m, f, c), e in rows.items():
            many = e["n_items"] > 1  # one item has no spread to show
            raw = (
                _top3(e["probs"], e.get("probs_spread") if many else None)
                if "probs" in e
                else _partial(e.get("probs_partial"))
            )
            cal = (
                _top3(e["calibrated"], e.get("calibrated_spread") if many else None)
                if "calibrated" in e
                else _partial(e.get("calibrated_partial"))
            )
            raw += _rests_on(e.get("probs_rests_on"), e["n_items"]) if "probs" in e else ""
            cal += (
                _rests_on(e.get("calibrated_rests_on"), e["n_items"]) if "calibrated" in e else ""
            )
            line = f"| {md_inline(m)} | {md_inline(f)} | {md_inline(c)} | {raw} | {cal} |"
            for d in extra:
                line += f" {_design_cell(e, d, many)} |"
            out.append(line)
        out.append("")
    return out


def _rests_on(k: int | None, n: int) -> str:
    """Said in a cell when one answer decides the top of some item (`ProbeResult.rests_on`)."""
    if not k:
        return ""
    return f" ⚠ {k} of {n} item(s): the top rests on one answer"


def _ran(entries: Iterable[dict[str, Any]], design: str) -> bool:
    """Whether a design scored any item of these cells (in full, in part, or claiming neither)."""
    return any(design in e or f"{design}_partial" in e or f"{design}_none" in e for e in entries)


def _partial(scored: tuple[int, int] | None) -> str:
    """A design that did not score every item of the set (see the Errors section, or the
    incomplete run): no mean over it."""
    if scored is None:
        return "not measured"
    k, n = scored
    return f"{k} of {n} items scored: no mean over the set"


def _design_cell(e: dict[str, Any], design: str, many: bool) -> str:
    """One cell of the multiple-choice or opening column."""
    if design in e:
        shares = _top3(e[design], e.get(f"{design}_spread") if many else None)
        if design == "choice":
            return f"{shares} (position bias {e['choice_position_bias']:+.2f})"
        return (
            f"{shares}; {e['opening_claimed']:.2f}, {e['opening_cut']:.2f}, "
            f"{e['opening_unread']:.2f}"
        )
    if f"{design}_partial" in e:
        return _partial(e[f"{design}_partial"])
    if f"{design}_none" in e:
        k = e[f"{design}_none"]
        return f"{k} of {e['n_items']} items' walks claimed neither class: no mean over the set"
    return "not measured"


def comparison_lines(table: dict[tuple[str, str, str], LabelShares]) -> list[str]:
    """Differences in self-id share between conditions that differ in one factor only (model,
    format or context), with Newcombe intervals and the many-comparisons note."""
    conds = {" · ".join(k): v.self_id for k, v in table.items() if v.n}
    keys = {" · ".join(k): k for k in table}
    lines, n = [], 0
    for label in ("ai", "human"):
        for d in differences(conds, label):
            a, b = keys[d.a], keys[d.b]
            if sum(x != y for x, y in zip(a, b, strict=True)) != 1:
                continue
            n += 1
            flag = " (excludes 0)" if d.excludes_zero else ""
            lines.append(
                f"| {md_inline(label)} | {md_inline(d.a)} {d.k1}/{d.n1} | "
                f"{md_inline(d.b)} {d.k2}/{d.n2} | {fmt_diff(d)}{flag} |"
            )
    if not lines:
        return []
    note = many_comparisons_note(n)
    return [
        "Differences in self-identification share between conditions that differ in one "
        "factor (Newcombe 95% interval):",
        "",
        "| class | a | b | a − b [95% CI] |",
        "|---|---|---|---|",
        *lines,
        "",
        *([note, ""] if note else []),
    ]
