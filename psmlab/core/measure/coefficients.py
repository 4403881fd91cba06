"""Agreement coefficients: Cohen's kappa, Krippendorff's alpha, F1, and their percentile bootstrap.

Pure statistics over label sequences or (source, reference) pair tables; `kappa` builds the
`Agreement` record of `psmlab agreement` from them. Deterministic: the bootstrap takes a seed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Any

Label = Hashable


def cohen_kappa(a: Sequence[Label], b: Sequence[Label]) -> float:
    """Cohen's kappa of two labellings of the same items; NaN when chance agreement is total (both
    sources used one and the same class for everything), where kappa is undefined."""
    if len(a) != len(b):
        raise ValueError("the two labellings have different lengths")
    n = len(a)
    if n == 0:
        return math.nan
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def _bootstrap(
    n: int,
    stat: Callable[[list[int]], float],
    *,
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `stat` over items resampled with replacement."""
    return bootstrap_many(n, [stat], resamples=resamples, seed=seed, level=level)[0]


def bootstrap_many(
    n: int,
    stats: Sequence[Callable[[Any], float]],
    *,
    resamples: int,
    seed: int,
    level: float,
    tally: Callable[[list[int]], Any] | None = None,
    undefined: list[int] | None = None,
) -> list[tuple[float, float]]:
    """Percentile bootstrap intervals of several statistics over the same resamples (each
    resample draws the same items for every statistic, so the intervals describe one bootstrap).
    A resample where a statistic is undefined (NaN) is left out of that statistic's interval.
    `tally`, when given, turns a resample's positions into what every statistic reads (counted
    once per resample instead of once per statistic). `undefined`, when given, receives how many
    resamples each statistic was undefined in: many of them make the interval too narrow (it is
    conditioned on the resamples that drew a rare class)."""
    if n == 0:
        return [(math.nan, math.nan)] * len(stats)
    rng = random.Random(seed)
    values: list[list[float]] = [[] for _ in stats]
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        drawn = tally(idx) if tally is not None else idx
        for v, stat in zip(values, stats, strict=True):
            k = stat(drawn)
            if not math.isnan(k):
                v.append(k)
    if undefined is not None:
        undefined.extend(resamples - len(v) for v in values)
    return [_percentiles(v, level) for v in values]


def _percentiles(values: list[float], level: float) -> tuple[float, float]:
    if not values:
        return (math.nan, math.nan)
    values.sort()
    lo = values[math.floor((1.0 - level) / 2 * (len(values) - 1))]
    hi = values[math.ceil((1.0 + level) / 2 * (len(values) - 1))]
    return (lo, hi)


def bootstrap_kappa(
    a: Sequence[Label],
    b: Sequence[Label],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa (items resampled with replacement). The
    interval depends on the pairs only, never on the order the items came in."""
    if len(a) != len(b):
        raise ValueError("the two labellings have different lengths")
    # The seeded resampler draws positions: pairs in canonical order make the same data (its lines
    # shuffled, or matched in another order) give the same interval. repr sorts any label type
    # the same way in every process (str labels: by their text).
    pairs = sorted(zip(a, b, strict=True), key=repr)
    return _bootstrap(
        len(pairs),
        lambda idx: cohen_kappa([pairs[i][0] for i in idx], [pairs[i][1] for i in idx]),
        resamples=resamples,
        seed=seed,
        level=level,
    )


def krippendorff_alpha(units: Sequence[Sequence[Label | None]]) -> float:
    """Krippendorff's alpha for nominal labels. `units` holds, per item, each coder's label or None
    (missing); items with fewer than two labels carry no pairable information and are skipped."""
    coincidence: Counter[tuple[Label, Label]] = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    coincidence[(c, k)] += 1.0 / (m - 1)  # type: ignore[assignment]
    totals: Counter[Label] = Counter()
    for (c, _k), o in coincidence.items():
        totals[c] += o  # type: ignore[assignment]
    n = sum(totals.values())
    if n <= 1:
        return math.nan
    disagree = sum(o for (c, k), o in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if expected == 0:
        return math.nan  # one class only: alpha is undefined
    return 1.0 - (n - 1) * disagree / expected


def bootstrap_alpha(
    groups: Sequence[Sequence[Sequence[Label | None]]],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Krippendorff's alpha, items resampled with replacement.
    `groups` holds per item its units (one for a single label, one per archetype for a set of
    them): an item is drawn whole. Items fewer than two coders labelled add nothing and are
    left out before drawing; the order the items came in never changes the interval."""
    kept = sorted(
        (g for g in groups if any(sum(v is not None for v in u) >= 2 for u in g)), key=repr
    )
    return _bootstrap(
        len(kept),
        lambda idx: krippendorff_alpha([u for i in idx for u in kept[i]]),
        resamples=resamples,
        seed=seed,
        level=level,
    )


def f1_score(tp: int, predicted: int, support: int) -> float:
    # F1 = 2 tp / (predicted + support): 0 for a source that never finds a class, and for one
    # that finds a class the reference never has (only false positives: scikit-learn's value
    # too; n/a there left it out of an average of the F1s); undefined where neither has it.
    return 2 * tp / (predicted + support) if predicted + support else math.nan


Table = dict[tuple[Label, Label], int]


def pair_tally(pairs: Sequence[tuple[Label, Label]]) -> Callable[[list[int]], Table]:
    """A resample's positions -> how often each (source, reference) pair was drawn: every
    statistic then reads a table of at most classes^2 cells instead of walking n items."""

    def tally(idx: list[int]) -> Table:
        drawn = Counter(idx)
        table: Table = {}
        for i, times in drawn.items():
            table[pairs[i]] = table.get(pairs[i], 0) + times
        return table

    return tally


def kappa_of(table: Table) -> float:
    """Cohen's kappa from a pair table: the same integer sums as cohen_kappa, so the same value."""
    n = sum(table.values())
    if n == 0:
        return math.nan
    observed = sum(c for (s, r), c in table.items() if s == r) / n
    ca: Counter[Label] = Counter()
    cb: Counter[Label] = Counter()
    for (s, r), c in table.items():
        ca[s] += c
        cb[r] += c
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if expected == 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def alpha_of(table: Table) -> float:
    """Krippendorff's alpha (nominal) of two coders from a pair table: krippendorff_alpha of the
    same pairs, so a resample's alpha is read from the table as its kappa is."""
    totals: Counter[Label] = Counter()
    disagree = 0
    for (s, r), c in table.items():
        totals[s] += c
        totals[r] += c
        disagree += 2 * c if s != r else 0  # each unit's two ordered pairs of values
    n = sum(totals.values())
    if n <= 1:
        return math.nan
    expected = n * n - sum(v * v for v in totals.values())
    if expected == 0:
        return math.nan
    return 1.0 - (n - 1) * disagree / expected


def f1_of(label: Label) -> Callable[[Table], float]:
    """F1 of one class over a resample's pair table."""

    def stat(table: Table) -> float:
        tp = predicted = support = 0
        for (s, r), c in table.items():
            predicted += c if s == label else 0
            support += c if r == label else 0
            tp += c if s == label and r == label else 0
        return f1_score(tp, predicted, support)

    return stat
