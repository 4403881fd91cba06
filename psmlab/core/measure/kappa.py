"""Chance-corrected agreement: Cohen's kappa (bootstrap interval), Krippendorff's alpha, per-class F1.

The record behind `psmlab agreement`, apart from where labels come from (`agreement`) and the
coefficients themselves (`coefficients`): two labellings of the same items in, an `Agreement` out (kappa, interval, alpha, accuracy, each
class's precision/recall/F1, the confusion matrix). Multi-label sources (archetypes) are compared
per label as present/absent. Deterministic: the bootstrap takes a seed, and the same pairs give
the same interval whatever order the items come in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.measure.coefficients import (
    Table,
    alpha_of,
    bootstrap_many,
    cohen_kappa,
    f1_of,
    f1_score,
    kappa_of,
    krippendorff_alpha,
    pair_tally,
)

PRESENT, ABSENT = "present", "absent"
PER_ARCHETYPE = "per archetype, present/absent"
# Below this many items a percentile bootstrap interval is too narrow to trust: resamples of a
# handful of items repeat the same few pairs, so the interval collapses (n=2 agreeing items give
# "1.00 to 1.00"). 30 is the usual rule of thumb for a bootstrap to start behaving.
SMALL_N = 30
# A kappa interval over fewer than 90% of the resamples (the rest drew one class only) is noted.
UNDEFINED_SHARE = 0.1


@dataclass(frozen=True)
class ClassScores:
    """How well one source finds one class of the reference source."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int  # items the reference gives this class
    # 95% percentile bootstrap interval of F1 (items resampled, as for kappa); resamples where
    # the reference lacks the class (F1 undefined) are left out, so it is conditional on the
    # class being drawn. NaN when not drawn.
    f1_ci: tuple[float, float] = (math.nan, math.nan)


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
    # Its bootstrap 95% interval, from the same resamples as kappa's (a trial saw alpha printed
    # bare beside an interval for kappa).
    alpha_ci: tuple[float, float] = (math.nan, math.nan)
    # "label": one label per item; PER_ARCHETYPE: each item x archetype is a present/absent
    # decision (kappa, alpha and the confusion pool them; `classes` holds one row per archetype).
    comparison: str = "label"
    # Per human source: how many of the compared items it labelled blind.
    blind: dict[str, int] = field(default_factory=dict)
    # What the comparison left out or assumed (items in one source only, null labels, matching
    # by position), and why a kappa is missing or its interval weak, in words: a kappa is read
    # together with which items it is over.
    notes: list[str] = field(default_factory=list)
    # Decisions kappa is over: n for one label per item; items x archetypes per archetype (the
    # confusion matrix sums to this, while the interval resamples the n items).
    decisions: int = -1  # -1: not given, i.e. one decision per item

    def __post_init__(self) -> None:
        if self.decisions < 0:
            self.decisions = self.n

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
            "decisions": self.decisions,
            "accuracy": none_if_nan(self.accuracy),
            # JSON has no NaN: an undefined value is null.
            "kappa": none_if_nan(self.kappa),
            "kappa_ci95": [none_if_nan(x) for x in self.kappa_ci],
            "unreliable": self.unreliable,
            "alpha": none_if_nan(self.alpha),
            "alpha_ci95": [none_if_nan(x) for x in self.alpha_ci],
            "blind": self.blind,
            "notes": self.notes,
            "classes": [_class_dict(c) for c in self.classes],
            "confusion": self.confusion,
        }


def _class_dict(c: ClassScores) -> dict[str, Any]:
    return {
        "label": c.label,
        "precision": none_if_nan(c.precision),
        "recall": none_if_nan(c.recall),
        "f1": none_if_nan(c.f1),
        "f1_ci95": [none_if_nan(x) for x in c.f1_ci],
        "support": c.support,
    }


def _class_scores(
    label: str,
    tp: int,
    predicted: int,
    support: int,
    f1_ci: tuple[float, float] = (math.nan, math.nan),
) -> ClassScores:
    # Undefined (NaN, shown as n/a) when the source never says it, or the reference never does.
    p = tp / predicted if predicted else math.nan
    rec = tp / support if support else math.nan
    if not support:
        # A class the reference never gives scores F1 0 in every resample: "0.00 to 0.00" read
        # as a measured certainty (a trial); there is nothing to draw an interval from.
        f1_ci = (math.nan, math.nan)
    return ClassScores(label, p, rec, f1_score(tp, predicted, support), support, f1_ci)


def _items(n: int) -> str:
    return "the one item" if n == 1 else f"all {n} items"


def small_n_note(n: int) -> str:
    """The warning for an interval over fewer than SMALL_N items (a number alone looks certain)."""
    return (
        f"n={n} is small: the bootstrap interval understates the uncertainty at this n (over "
        f"few items it can shrink to a single value); label more items (at least {SMALL_N})"
    )


def _statistics_notes(
    result: Agreement, undefined: str, dropped: int = 0, resamples: int = 0
) -> list[str]:
    """Why kappa is missing (`undefined`: the cause, in words), or that its interval is weak
    (few items, or many resamples where kappa was undefined: `dropped` of `resamples`)."""
    if math.isnan(result.kappa):
        # The per-class F1 intervals are still printed: over few items they look certain too.
        small = [small_n_note(result.n)] if 0 < result.n < SMALL_N else []
        return [undefined, *small] if result.n else []
    if result.n < SMALL_N and not math.isnan(result.kappa_ci[0]):
        return [small_n_note(result.n)]
    if resamples and dropped / resamples >= UNDEFINED_SHARE:
        # 29 'a' and one 'b' in both sources: kappa 1.0 [1.0, 1.0] from the resamples that drew
        # the 'b', with no word that a third of them could not be counted.
        return [
            f"kappa is undefined in {dropped / resamples:.0%} of the bootstrap resamples (they "
            "drew no item of a rare class), so its interval, over the rest, is too narrow; "
            "label more items of the rarer classes"
        ]
    return []


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
    # One bootstrap for kappa and every class's F1 (pairs in canonical order, as bootstrap_kappa
    # takes them, so the kappa interval is the one bootstrap_kappa gives).
    pairs = sorted(zip(source, reference, strict=True), key=repr)
    dropped: list[int] = []
    kappa_ci, alpha_ci, *f1_cis = bootstrap_many(
        n,
        [kappa_of, alpha_of, *(f1_of(c) for c in labels)],
        resamples=resamples,
        seed=seed,
        level=0.95,
        tally=pair_tally(pairs),
        undefined=dropped,
    )
    classes = [
        _class_scores(
            c,
            confusion[c][c],
            sum(confusion[r][c] for r in labels),
            sum(confusion[c].values()),
            ci,
        )
        for c, ci in zip(labels, f1_cis, strict=True)
    ]
    result = Agreement(
        source=source_name,
        reference=reference_name,
        n=n,
        accuracy=sum(s == r for s, r in zip(source, reference, strict=True)) / n if n else math.nan,
        kappa=cohen_kappa(source, reference),
        kappa_ci=kappa_ci,
        classes=classes,
        confusion=confusion,
        alpha=krippendorff_alpha(list(zip(source, reference, strict=True))),
        alpha_ci=alpha_ci,
    )
    # Kappa is undefined only when both sources give every item one and the same label: chance
    # agreement is then 1 and kappa is 0/0, however many items there are.
    one = labels[0] if labels else ""
    result.notes = _statistics_notes(
        result,
        f"kappa cannot be computed: both sources give {_items(n)} the label '{one}', so chance "
        "agreement is 1 (kappa is 0/0); compare on items where the labels vary (add items of "
        "other classes)",
        dropped[0] if dropped else 0,
        resamples,
    )
    if not math.isnan(result.kappa) and n > 1:
        # A source that gives every item one label has kappa 0 in every resample: its interval
        # [0.00, 0.00] read as a certain finding about the other source (a trial).
        for name, given in ((source_name, source), (reference_name, reference)):
            if len(set(given)) == 1:
                result.notes.append(
                    f"{name} gives {_items(n)} the label '{given[0]}': kappa is 0 by "
                    "construction, whatever the other source says, and so is its interval; "
                    "it measures nothing here (compare on items where both vary)"
                )
    return result


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

    # The resampler draws positions: items in canonical order make the interval independent of
    # the order they came in (sorted archetype names: frozenset order varies between processes).
    order = sorted(range(n), key=lambda i: (sorted(source[i]), sorted(reference[i])))
    source, reference = [source[i] for i in order], [reference[i] for i in order]
    a, b = flat(range(n))
    confusion = {r: {PRESENT: 0, ABSENT: 0} for r in (PRESENT, ABSENT)}
    for s, r in zip(a, b, strict=True):
        confusion[r][s] += 1
    # Per archetype: is it present in the source, in the reference (the pairs F1 resamples).
    present = {
        x: [(x in s, x in r) for s, r in zip(source, reference, strict=True)] for x in universe
    }
    # Each item's decisions, one (source, reference) pair per archetype: a resample's tables
    # count them (per archetype for F1, pooled for kappa) by how often each item was drawn.
    decisions = (
        [
            [(PRESENT if s else ABSENT, PRESENT if r else ABSENT) for s, r in row]
            for row in zip(*present.values(), strict=True)
        ]
        if universe
        else [[] for _ in range(n)]
    )

    def pooled_table(drawn: Counter[int]) -> Table:
        table: Table = {}
        for i, times in drawn.items():
            for pair in decisions[i]:
                table[pair] = table.get(pair, 0) + times
        return table

    def pooled(drawn: Counter[int]) -> float:
        return kappa_of(pooled_table(drawn))

    def pooled_alpha(drawn: Counter[int]) -> float:
        return alpha_of(pooled_table(drawn))

    def archetype_f1(k: int) -> Callable[[Counter[int]], float]:
        def stat(drawn: Counter[int]) -> float:
            table: Table = {}
            for i, times in drawn.items():
                pair = decisions[i][k]
                table[pair] = table.get(pair, 0) + times
            return f1_of(PRESENT)(table)

        return stat

    dropped: list[int] = []
    kappa_ci, alpha_ci, *f1_cis = bootstrap_many(
        n,
        [pooled, pooled_alpha, *(archetype_f1(k) for k in range(len(universe)))],
        resamples=resamples,
        seed=seed,
        level=0.95,
        tally=Counter,
        undefined=dropped,
    )
    classes = [
        _class_scores(
            x,
            sum(1 for s, r in present[x] if s and r),
            sum(1 for s, _ in present[x] if s),
            sum(1 for _, r in present[x] if r),
            ci,
        )
        for x, ci in zip(universe, f1_cis, strict=True)
    ]
    result = Agreement(
        source=source_name,
        reference=reference_name,
        n=n,
        accuracy=sum(s == r for s, r in zip(a, b, strict=True)) / len(a) if a else math.nan,
        kappa=cohen_kappa(a, b),
        kappa_ci=kappa_ci,
        classes=classes,
        confusion=confusion,
        alpha=krippendorff_alpha(list(zip(a, b, strict=True))),
        alpha_ci=alpha_ci,
        comparison=PER_ARCHETYPE,
        decisions=len(a),
    )
    # Undefined when there is no decision at all (no archetype used), or every one is the same in
    # both sources (every archetype present on every item): chance agreement is then 1.
    result.notes = _statistics_notes(
        result,
        f"kappa cannot be computed: neither source gives any of the {n} item(s) an archetype, so "
        "there is nothing to agree on; compare items that have archetype labels"
        if not universe
        else f"kappa cannot be computed: both sources give {_items(n)} every archetype "
        f"({', '.join(universe)}), so chance agreement is 1 (kappa is 0/0); compare on items "
        "where the archetypes vary",
        dropped[0] if dropped else 0,
        resamples,
    )
    return result
