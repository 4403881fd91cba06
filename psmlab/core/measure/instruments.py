"""Instrument agreement: does forced choice say what the sampled, labelled answers say?

A cell is one (model, format, context, question) where both exist: forced choice on the
self-identification axis (a probe set with `axis = "self_id"`, matched by question text or id) and
sampled answers with self-identification labels. Forced choice can only choose between the answers
it scores (ai, human), so it is compared with the samples that *claim* one of the two: the share of
ai among ai + human labels. The samples that claim nothing (`none`) or both (`mixed`) are counted
beside it, never hidden. Per cell: whether the top classes agree, and the total variation distance
(|P_fc(ai) - P_samples(ai)| for two classes) with a 95% interval from posterior draws of
the samples' share (the signed difference's interval, folded: it starts at 0 when it spans 0). Few claims make a weak majority: `summary` also counts the cells with at least
`STRONG` claims, and the cells whose samples' majority is clear (its 95% Wilson interval
excludes an even split).

The comparison is only fair at matched settings: forced choice scores the untruncated T=1
distribution, so the samples must be drawn at T=1 with no truncation; `matched` says whether they were.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from psmlab.core.domain.sampling import pure
from psmlab.core.domain.stats import wilson

CLASSES = ("ai", "human")
BOOTSTRAP = 2000
STRONG = 10  # claims a cell needs before its majority is more than a hint
# A forced-choice P(ai) this close to an even split leans neither way: multiple choice on the
# demo models gives 0.49-0.51 in most cells, and "0.50 ✓" counted a coin's lean as agreement.
EVEN = 0.05


@dataclass(frozen=True)
class Cell:
    """One cell's two instruments. `fc` maps a forced-choice design ("raw", "calibrated",
    "choice", "opening") to P(ai)."""

    model: str
    format: str
    context: str
    question: str
    counts: Mapping[str, int]  # self-id label -> samples
    fc: Mapping[str, float]
    matched: bool

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    @property
    def claims(self) -> int:
        return sum(self.counts.get(c, 0) for c in CLASSES)

    @property
    def sample_ai(self) -> float | None:
        """P(ai | the sample claims ai or human), None when no sample claims either."""
        return self.counts.get("ai", 0) / self.claims if self.claims else None

    @property
    def sample_top(self) -> str | None:
        """The labelled majority among claims ("tie" when even)."""
        ai, human = self.counts.get("ai", 0), self.counts.get("human", 0)
        if not ai + human:
            return None
        return "ai" if ai > human else "human" if human > ai else "tie"

    def fc_top(self, design: str) -> str:
        """The class forced choice leans to; "tie" within EVEN of an even split."""
        p = self.fc[design]
        return "ai" if p >= 0.5 + EVEN else "human" if p <= 0.5 - EVEN else "tie"

    @property
    def clear(self) -> bool:
        """Whether the samples' majority is more than a coin's: the 95% Wilson interval of
        P(ai | a claim) excludes 0.5 (23 AI against 26 human claims is not a majority to
        agree with; 3 against 15 is)."""
        if not self.claims:
            return False
        low, high = wilson(self.counts.get("ai", 0), self.claims)
        return high < 0.5 or low > 0.5

    def agrees(self, design: str) -> bool | None:
        """None when the samples have no majority to agree with (no claim, or as many of each:
        a trial's 1 ai / 1 human cell was counted a miss for every design); False when forced
        choice leans neither way or the other way."""
        top = self.sample_top
        return None if top in (None, "tie") else top == self.fc_top(design)

    def tvd(self, design: str, seed: int = 0) -> tuple[float, float, float] | None:
        """Total variation distance between the two distributions over (ai, human), with a 95%
        interval from draws of the samples' share from its Jeffreys posterior (P(ai) drawn from its Jeffreys
        posterior, Beta(k + 1/2, n - k + 1/2)): a plain resampling bootstrap collapses to a
        zero-width interval when every claim is one class. Forced choice has no noise."""
        if not self.claims:
            return None
        p = self.fc[design]
        ai = self.counts.get("ai", 0)
        rng = random.Random(seed)
        a, b = ai + 0.5, self.claims - ai + 0.5
        # The interval of the signed difference, then its absolute value: percentiles of |d|
        # itself never reach 0 and could leave out the point (5 ai / 5 human against 0.5 gave
        # "0.00 [0.01, 0.30]").
        signed = sorted(p - rng.betavariate(a, b) for _ in range(BOOTSTRAP))
        lo, hi = signed[int(0.025 * BOOTSTRAP)], signed[int(0.975 * BOOTSTRAP) - 1]
        point = abs(p - ai / self.claims)
        low = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
        return point, min(low, point), max(abs(lo), abs(hi), point)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "format": self.format,
            "context": self.context,
            "question": self.question,
            "n": self.n,
            "counts": dict(self.counts),
            "claims": self.claims,
            "sample_p_ai": self.sample_ai,
            "sample_top": self.sample_top,
            "matched_settings": self.matched,
        }
        for d in self.fc:
            t = self.tvd(d)
            out[d] = {
                "p_ai": self.fc[d],
                "top": self.fc_top(d),
                "agrees": self.agrees(d),
                "tvd": None if t is None else {"value": t[0], "ci_low": t[1], "ci_high": t[2]},
            }
        return out


def distribution_words(params: Mapping[str, Any]) -> str:
    """Which distribution samples drawn with `params` describe, in words beside their shares:
    a share at T 0.8 with top-k 40 is no estimate of the model's own (T=1, untruncated) one."""
    if pure(params):
        return "samples at T=1, no truncation: the model's own distribution"
    names = {"temperature": "T", "top_k": "top-k", "top_p": "top-p", "min_p": "min-p"}
    knobs = [f"{w} {params[k]}" for k, w in names.items() if k in params]
    if params.get("repeat_penalty", 1.0) != 1.0:
        knobs.append(f"repeat penalty {params['repeat_penalty']}")
    return (
        f"samples at {', '.join(knobs)}: a tempered or truncated distribution, not the "
        "model's own (-t 1 --top-k 0 --top-p 1 --min-p 0 samples that one)"
    )


def cells(
    samples: Iterable[Mapping[str, Any]], probes: Iterable[Mapping[str, Any]], pooled: bool = False
) -> list[Cell]:
    """Cells from experiment rows: sample rows (with `self_id`) and self-id probe rows (kind
    "probe": the raw and calibrated designs; kind "choice": multiple choice; kind "opening": the
    model's own continuations of a self-description opening).
    `pooled`: one cell per (model, format, context), over the questions both instruments share
    (sample counts added; forced-choice probabilities averaged over the items, each weighted by
    its claims as the samples' pooled share weighs it)."""
    fc: dict[tuple[str, str, str, str], dict[str, float]] = {}
    names: dict[tuple[str, str, str, str], str] = {}
    alias: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
    by_id: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
    texts: dict[tuple[str, str, str, str], Any] = {}
    for r in probes:
        if r.get("axis") != "self_id" or not r.get("probs"):
            continue
        cell = (r["model"], r["format"], r["context"])
        key = (*cell, str(r.get("question_text") or r.get("item")))
        p = fc.setdefault(key, {})
        if r.get("kind") in ("choice", "opening"):  # multiple choice, rotated; the opening walk
            p[str(r["kind"])] = _p_ai(r["probs"])
        else:
            p["raw"] = _p_ai(r["probs"])
            if r.get("calibrated"):
                p["calibrated"] = _p_ai(r["calibrated"])
        names[key] = str(r.get("item") or key[3])
        texts[key] = r.get("question_text")
        alias[key] = key
        by_id.setdefault((*cell, names[key]), key)  # a sample row may name its question by id
    counts: dict[tuple[str, str, str, str], Counter[str]] = defaultdict(Counter)
    settings: dict[tuple[str, str, str, str], bool] = {}
    for r in samples:
        if r.get("self_id") is None:
            continue
        cell = (r["model"], r["format"], r["context"])
        text = r.get("question_text")
        found = alias.get((*cell, str(text))) if text is not None else None
        if found is None:
            # By its id only where one side has no text: an experiment's own question under
            # the probe set's id ("what-are-you": "What is your favourite colour?") is another
            # question, and paired with the probe it read as the instruments disagreeing.
            found = by_id.get((*cell, str(r["question"])))
            if found is not None and text is not None and texts.get(found) is not None:
                found = None
        if found is not None:
            counts[found][r["self_id"]] += 1
            settings[found] = settings.get(found, True) and pure(r.get("params") or {})
    out = [
        Cell(k[0], k[1], k[2], names[k], counts[k], fc[k], settings[k]) for k in fc if k in counts
    ]
    if not pooled:
        return out
    groups: dict[tuple[str, str, str], list[Cell]] = defaultdict(list)
    for c in out:
        groups[(c.model, c.format, c.context)].append(c)
    pooled_cells = []
    for (m, f, ctx), cs in groups.items():
        total: Counter[str] = Counter()
        for c in cs:
            total.update(c.counts)
        designs = [d for d in cs[0].fc if all(d in c.fc for c in cs)]
        # Weighted as the samples' side is: the pooled share of ai among claims weighs each
        # question by its claims, so forced choice must too (an unweighted mean made two cells
        # that agree exactly, 0.9 vs 90/100 and 0.1 vs 1/10, read as TVD 0.33).
        w = [c.claims for c in cs] if any(c.claims for c in cs) else [1] * len(cs)
        mean = {d: sum(x * c.fc[d] for x, c in zip(w, cs, strict=True)) / sum(w) for d in designs}
        q = " + ".join(c.question for c in cs)
        pooled_cells.append(Cell(m, f, ctx, q, total, mean, all(c.matched for c in cs)))
    return pooled_cells


def _p_ai(dist: Mapping[str, float]) -> float:
    """P(ai) between the two classes (a distribution over more classes is renormalised)."""
    ai, human = dist.get("ai", 0.0), dist.get("human", 0.0)
    return ai / (ai + human) if ai + human else 0.5


def summary(cs: list[Cell]) -> dict[str, Any]:
    """Per design: cells compared, cells whose top class agrees, and the mean TVD."""
    out: dict[str, Any] = {
        "cells": len(cs),
        "comparable": sum(c.claims > 0 for c in cs),
        # Cells whose samples claim each class as often: no majority, so neither counted.
        "sample_ties": sum(c.sample_top == "tie" for c in cs),
    }
    designs = list(dict.fromkeys(d for c in cs for d in c.fc))
    for d in designs:
        judged = [c for c in cs if d in c.fc and c.agrees(d) is not None]
        # The distance is defined wherever samples claim (a tie too: P(ai) 0.5), so it is
        # averaged over those, not only over cells with a majority.
        tvds = [t[0] for c in cs if d in c.fc and (t := c.tvd(d)) is not None]
        strong = [c for c in judged if c.claims >= STRONG]
        clear = [c for c in judged if c.clear]
        out[d] = {
            "agree": sum(bool(c.agrees(d)) for c in judged),
            "of": len(judged),
            # cells where forced choice leans neither way (within EVEN of 0.5): not agreeing,
            # and no contradiction either
            "even": sum(c.fc_top(d) == "tie" for c in judged),
            "mean_tvd": sum(tvds) / len(tvds) if tvds else None,
            "agree_strong": sum(bool(c.agrees(d)) for c in strong),
            "of_strong": len(strong),
            "agree_clear": sum(bool(c.agrees(d)) for c in clear),
            "of_clear": len(clear),
        }
    out["constant"] = constant_baseline(cs)
    return out


def constant_baseline(cs: list[Cell]) -> dict[str, Any] | None:
    """What a design has to beat: the same answer in every cell, whatever the model, format or
    question. For the count, the class most cells' samples lean to (agreeing in as many cells as
    lean that way); for the distance, one P(ai) for all, each cell given the median of the
    *other* cells' shares (not fitted to the cell it is scored on). When nearly every cell leans
    one way, a count of agreeing cells says little about an instrument."""
    judged = [c for c in cs if c.sample_top not in (None, "tie")]
    claimed = [c for c in cs if c.sample_top is not None]  # ties too: their share is 0.5
    if not judged:
        return None
    tops = [c.sample_top for c in judged]
    cls = max(CLASSES, key=lambda k: (tops.count(k), k == "human"))  # a tie: human

    def agree(group: list[Cell]) -> int:
        return sum(c.sample_top == cls for c in group)

    strong = [c for c in judged if c.claims >= STRONG]
    clear = [c for c in judged if c.clear]
    return {
        "class": cls,
        "agree": agree(judged),
        "of": len(judged),
        "agree_strong": agree(strong),
        "of_strong": len(strong),
        "agree_clear": agree(clear),
        "of_clear": len(clear),
        "mean_tvd": _leave_one_out_tvd([c.sample_ai or 0.0 for c in claimed]),
    }


def _leave_one_out_tvd(shares: list[float]) -> float | None:
    """Mean |p - share| when each cell is given p = the median of the other cells' shares;
    None for fewer than two cells (a lone cell has no other share: 0.5 was put in silently)."""
    if len(shares) < 2:
        return None
    out = []
    for i, share in enumerate(shares):
        others = shares[:i] + shares[i + 1 :]
        out.append(abs(statistics.median(others) - share))
    return sum(out) / len(out)
