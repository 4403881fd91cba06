"""Chance-corrected agreement: Cohen's kappa (bootstrap interval), Krippendorff's alpha, per-class F1.

The statistics behind `psmlab agreement`, apart from where labels come from (`agreement`): two
labellings of the same items in, an `Agreement` out (kappa, interval, alpha, accuracy, each
class's precision/recall/F1, the confusion matrix). Multi-label sources (archetypes) are compared
per label as present/absent. Deterministic: the bootstrap takes a seed.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

Label = Hashable

PRESENT, ABSENT = "present", "absent"
PER_ARCHETYPE = "per archetype, present/absent"


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
    if n == 0:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        k = stat([rng.randrange(n) for _ in range(n)])
        if not math.isnan(k):
            values.append(k)
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
    """Percentile bootstrap interval of Cohen's kappa (items resampled with replacement)."""
    return _bootstrap(
        len(a),
        lambda idx: cohen_kappa([a[i] for i in idx], [b[i] for i in idx]),
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


@dataclass(frozen=True)
class ClassScores:
    """How well one source finds one class of the reference source."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int  # items the reference gives this class


def none_if_nan(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


@dataclass
class Agreement:
    """Two label sources compared item by item; `reference` is the one taken as right (gold)."""

    source: str
    reference: str
    n: int
    accuracy: float
    kappa: float
    kappa_ci: tuple[float, float]
    classes: list[ClassScores] = field(default_factory=list)
    # confusion[reference label][source label] = count
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    alpha: float = math.nan  # Krippendorff's alpha (nominal) over the same decisions
    # "label": one label per item; PER_ARCHETYPE: each item x archetype is a present/absent
    # decision (kappa, alpha and the confusion pool them; `classes` holds one row per archetype).
    comparison: str = "label"
    # Per human source: how many of the compared items it labelled blind.
    blind: dict[str, int] = field(default_factory=dict)
    # What the comparison left out or assumed (items in one source only, null labels, matching
    # by position), in words: a kappa is read together with which items it is over.
    notes: list[str] = field(default_factory=list)

    @property
    def unreliable(self) -> bool:
        """True when the kappa interval includes 0: agreement indistinguishable from chance."""
        lo, hi = self.kappa_ci
        return math.isnan(lo) or lo <= 0.0 <= hi

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reference": self.reference,
            "comparison": self.comparison,
            "n": self.n,
            "accuracy": none_if_nan(self.accuracy),
            # JSON has no NaN: an undefined value is null.
            "kappa": none_if_nan(self.kappa),
            "kappa_ci95": [none_if_nan(x) for x in self.kappa_ci],
            "unreliable": self.unreliable,
            "alpha": none_if_nan(self.alpha),
            "blind": self.blind,
            "notes": self.notes,
            "classes": [{k: none_if_nan(v) for k, v in vars(c).items()} for c in self.classes],
            "confusion": self.confusion,
        }


def _class_scores(label: str, tp: int, predicted: int, support: int) -> ClassScores:
    # Undefined (NaN, shown as n/a) when the source never says it, or the reference never does.
    p = tp / predicted if predicted else math.nan
    rec = tp / support if support else math.nan
    # F1 (= 2 tp / (predicted + support)) needs the class in the reference; a source that never
    # finds it scores 0.
    f1 = math.nan if not support else (2 * tp / (predicted + support) if tp else 0.0)
    return ClassScores(label, p, rec, f1, support)


def compare(
    source: Sequence[str],
    reference: Sequence[str],
    *,
    source_name: str = "source",
    reference_name: str = "reference",
    resamples: int = 2000,
    seed: int = 0,
) -> Agreement:
    """Every agreement number between two labellings of the same items."""
    if len(source) != len(reference):
        raise ValueError("the two labellings have different lengths")
    n = len(source)
    labels = sorted(set(source) | set(reference))
    confusion = {r: dict.fromkeys(labels, 0) for r in labels}
    for s, r in zip(source, reference, strict=True):
        confusion[r][s] += 1
    classes = [
        _class_scores(
            c,
            confusion[c][c],
            sum(confusion[r][c] for r in labels),
            sum(confusion[c].values()),
        )
        for c in labels
    ]
    return Agreement(
        source=source_name,
        reference=reference_name,
        n=n,
        accuracy=sum(s == r for s, r in zip(source, reference, strict=True)) / n if n else math.nan,
        kappa=cohen_kappa(source, reference),
        kappa_ci=bootstrap_kappa(source, reference, resamples=resamples, seed=seed),
        classes=classes,
        confusion=confusion,
        alpha=krippendorff_alpha(list(zip(source, reference, strict=True))),
    )


def compare_sets(
    source: Sequence[frozenset[str]],
    reference: Sequence[frozenset[str]],
    *,
    source_name: str = "source",
    reference_name: str = "reference",
    resamples: int = 2000,
    seed: int = 0,
) -> Agreement:
    """Two multi-label sources (e.g. archetypes) compared per label as present/absent.

    Every item x label pair (labels: those either source uses) is one decision; kappa, alpha,
    accuracy and the 2x2 confusion pool them, the interval resamples whole items, and `classes`
    holds each label's precision/recall/F1 (support: items the reference gives it)."""
    if len(source) != len(reference):
        raise ValueError("the two labellings have different lengths")
    n = len(source)
    universe = sorted(set().union(*source, *reference))

    def flat(idx: Sequence[int]) -> tuple[list[str], list[str]]:
        a = [PRESENT if x in source[i] else ABSENT for i in idx for x in universe]
        b = [PRESENT if x in reference[i] else ABSENT for i in idx for x in universe]
        return a, b

    a, b = flat(range(n))
    confusion = {r: {PRESENT: 0, ABSENT: 0} for r in (PRESENT, ABSENT)}
    for s, r in zip(a, b, strict=True):
        confusion[r][s] += 1
    classes = [
        _class_scores(
            x,
            sum(1 for s, r in zip(source, reference, strict=True) if x in s and x in r),
            sum(1 for s in source if x in s),
            sum(1 for r in reference if x in r),
        )
        for x in universe
    ]
    return Agreement(
        source=source_name,
        reference=reference_name,
        n=n,
        accuracy=sum(s == r for s, r in zip(a, b, strict=True)) / len(a) if a else math.nan,
        kappa=cohen_kappa(a, b),
        kappa_ci=_bootstrap(
            n, lambda idx: cohen_kappa(*flat(idx)), resamples=resamples, seed=seed, level=0.95
        ),
        classes=classes,
        confusion=confusion,
        alpha=krippendorff_alpha(list(zip(a, b, strict=True))),
        comparison=PER_ARCHETYPE,
    )
