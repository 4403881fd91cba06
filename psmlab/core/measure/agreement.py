"""Agreement between label sources: Cohen's kappa (bootstrap interval), Krippendorff's alpha, F1.

Also per-class precision/recall and the confusion matrix. A labeller (marker rules, a judge model)
is only as good as its agreement with people; these are the numbers that say how good. Everything here is pure and deterministic (the bootstrap takes a seed).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.domain.jsonl import read_objects
from psmlab.core.errors import UsageError

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


def bootstrap_kappa(
    a: Sequence[Label],
    b: Sequence[Label],
    *,
    resamples: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Cohen's kappa (items resampled with replacement)."""
    n = len(a)
    if n == 0:
        return (math.nan, math.nan)
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        k = cohen_kappa([a[i] for i in idx], [b[i] for i in idx])
        if not math.isnan(k):
            values.append(k)
    if not values:
        return (math.nan, math.nan)
    values.sort()
    lo = values[math.floor((1.0 - level) / 2 * (len(values) - 1))]
    hi = values[math.ceil((1.0 + level) / 2 * (len(values) - 1))]
    return (lo, hi)


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

    @property
    def unreliable(self) -> bool:
        """True when the kappa interval includes 0: agreement indistinguishable from chance."""
        lo, hi = self.kappa_ci
        return math.isnan(lo) or lo <= 0.0 <= hi

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "reference": self.reference,
            "n": self.n,
            "accuracy": self.accuracy,
            "kappa": None if math.isnan(self.kappa) else self.kappa,
            "kappa_ci95": [None if math.isnan(x) else x for x in self.kappa_ci],
            "unreliable": self.unreliable,
            # JSON has no NaN: an undefined value is null.
            "classes": [
                {
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in vars(c).items()
                }
                for c in self.classes
            ],
            "confusion": self.confusion,
        }


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
    classes = []
    for c in labels:
        tp = confusion[c][c]
        predicted = sum(confusion[r][c] for r in labels)
        support = sum(confusion[c].values())
        # Undefined (NaN, shown as n/a) when the source never says c, or the reference never does.
        p = tp / predicted if predicted else math.nan
        rec = tp / support if support else math.nan
        # F1 (= 2 tp / (predicted + support)) needs the class in the reference; a source that
        # never finds it scores 0.
        f1 = math.nan if not support else (2 * tp / (predicted + support) if tp else 0.0)
        classes.append(ClassScores(c, p, rec, f1, support))
    return Agreement(
        source=source_name,
        reference=reference_name,
        n=n,
        accuracy=sum(s == r for s, r in zip(source, reference, strict=True)) / n if n else math.nan,
        kappa=cohen_kappa(source, reference),
        kappa_ci=bootstrap_kappa(source, reference, resamples=resamples, seed=seed),
        classes=classes,
        confusion=confusion,
    )


def read_labels(path: Path, field_name: str, key: str = "id") -> dict[str, str]:
    """Labels from a JSONL file, one object per line: `{key: ..., field_name: ...}`. A list label
    (e.g. archetypes) is compared as its sorted, comma-joined set. Bad lines are one-line errors."""
    out: dict[str, str] = {}
    for i, obj in read_objects(path, "label file"):
        if not isinstance(obj, dict) or key not in obj or field_name not in obj:
            raise UsageError(
                f"{path} line {i} lacks '{key}' or '{field_name}'",
                f"give each line an '{key}' and a '{field_name}' (or choose them with --key/--field)",
            )
        value = obj[field_name]
        label = ",".join(sorted(map(str, value))) if isinstance(value, list) else str(value)
        ident = str(obj[key])
        if ident in out:
            raise UsageError(f"{path} line {i} repeats {key} '{ident}'", "give each item one line")
        out[ident] = label
    if not out:
        raise UsageError(f"{path} holds no labels", "one JSON object per line")
    return out


def compare_files(
    source: Path, reference: Path, *, field_name: str = "self_id", key: str = "id", seed: int = 0
) -> Agreement:
    """Agreement of two JSONL label files over the items both label (the reference is gold)."""
    a = read_labels(source, field_name, key)
    b = read_labels(reference, field_name, key)
    common = [k for k in b if k in a]
    if not common:
        raise UsageError(
            f"{source} and {reference} share no '{key}'", "label the same items in both files"
        )
    return compare(
        [a[k] for k in common],
        [b[k] for k in common],
        source_name=str(source),
        reference_name=str(reference),
        seed=seed,
    )
