"""Small statistics for persona measurements: Wilson score intervals, (automatic) label shares and
the difference between two conditions' shares with a Newcombe interval.

A share is never shown without its n, and an absent label shows the upper bound of its interval
("0/12 (≤ 24%)"), never a bare 0%: twelve samples cannot show that a persona never occurs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from psmlab.core.domain.classify import archetypes, classify, turn_end_short
from psmlab.core.domain.personas import Persona
from psmlab.core.domain.selfid import SELF_IDS
from psmlab.core.domain.types import AutoLabel, Continuation


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials (0, 0 when n is 0)."""
    if n <= 0:
        return 0.0, 0.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Share:
    label: str
    k: int
    n: int

    @property
    def share(self) -> float:
        return self.k / self.n if self.n else 0.0

    @property
    def ci(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def to_dict(self) -> dict[str, float | int]:
        low, high = self.ci
        return {
            "k": self.k,
            "n": self.n,
            "share": round(self.share, 4),
            "ci_low": round(low, 4),
            "ci_high": round(high, 4),
        }


def fmt2(x: float) -> str:
    """Two decimals, with no "-0.00": a bound that rounds to zero is shown as 0.00."""
    out = f"{x:.2f}"
    return "0.00" if out == "-0.00" else out


def fmt_share(s: Share) -> str:
    """`3/12 25% (9%–53%)`; an absent label `0/12 (≤ 24%)`; no samples `0/0`."""
    if s.n == 0:
        return "0/0"
    low, high = s.ci
    if s.k == 0:
        return f"0/{s.n} (≤ {high:.0%})"
    return f"{s.k}/{s.n} {s.share:.0%} ({low:.0%}–{high:.0%})"


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = 1.959964) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10, 1998); ValueError if an n is 0."""
    for k, n in ((k1, n1), (k2, n2)):
        if n <= 0 or not 0 <= k <= n:
            raise ValueError(f"newcombe needs 0 <= k <= n and n > 0, got {k}/{n}")
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    low = d - math.hypot(p1 - l1, u2 - p2)
    high = d + math.hypot(u1 - p1, p2 - l2)
    return d, max(-1.0, low), min(1.0, high)


@dataclass(frozen=True)
class Diff:
    """Share of `label` in condition `a` minus its share in `b`, with a Newcombe 95% interval."""

    label: str
    a: str
    b: str
    k1: int
    n1: int
    k2: int
    n2: int
    diff: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of 0."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, object]:
        """The comparison as JSON: both counts, the difference and its interval (4 decimals)."""
        return {
            "label": self.label,
            "a": self.a,
            "b": self.b,
            "k_a": self.k1,
            "n_a": self.n1,
            "k_b": self.k2,
            "n_b": self.n2,
            "diff": round(self.diff, 4),
            "ci_low": round(self.low, 4),
            "ci_high": round(self.high, 4),
            "excludes_zero": self.excludes_zero,
        }


def differences(conditions: dict[str, list[Share]], label: str) -> list[Diff]:
    """Every pair of conditions (in the order given) for one label; a label missing from a
    condition's shares counts 0/n, and a condition with no samples is left out."""
    counts: dict[str, tuple[int, int]] = {}
    for name, shares in conditions.items():
        n = max((x.n for x in shares), default=0)
        if n > 0:
            counts[name] = (next((x.k for x in shares if x.label == label), 0), n)
    out = []
    for a, b in combinations(counts, 2):
        (k1, n1), (k2, n2) = counts[a], counts[b]
        d, low, high = newcombe(k1, n1, k2, n2)
        out.append(Diff(label, a, b, k1, n1, k2, n2, d, low, high))
    return out


def fmt_diff(d: Diff) -> str:
    """`+0.25 [+0.02, +0.45]`: the difference a - b and its 95% interval, signed, two decimals."""
    return f"{d.diff:+.2f} [{d.low:+.2f}, {d.high:+.2f}]"


def many_comparisons_note(n_comparisons: int) -> str | None:
    """A one-line warning when more than one comparison is shown (None for 0 or 1)."""
    if n_comparisons <= 1:
        return None
    # The chance that at least one 95% interval misses 0 when no difference is real: 1 - 0.95^n
    # for independent comparisons; comparisons that share samples can only make it smaller.
    chance = 1 - 0.95**n_comparisons
    expected = n_comparisons * 0.05
    many = f", and about {expected:.2g} of them would" if expected >= 1 else ""
    return (
        f"{n_comparisons} comparisons: with no real difference at all, the chance that at least "
        f"one of them excludes 0 is up to about {chance:.0%}{many}; treat single ones with care "
        "(no correction applied)."
    )


def fmt_ends(ends: list[Share]) -> str:
    """How turns ended, as counts out of n: `eos 3/8 · next speaker 5/8` (never a label)."""
    return " · ".join(f"{turn_end_short(x.label)} {x.k}/{x.n}" for x in ends) or "—"


def label_shares(label_sets: Iterable[Iterable[str]]) -> list[Share]:
    """Share of samples carrying each label (a sample may carry several), most common first."""
    sets = [set(x) for x in label_sets]
    counts: Counter[str] = Counter(lab for s in sets for lab in s)
    n = len(sets)
    return [Share(lab, k, n) for lab, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def overlapping(shares: Sequence[Share]) -> bool:
    """Whether some sample carries more than one of these labels (their shares then sum past
    100%, which a reader adding them up should be told)."""
    return bool(shares) and sum(x.k for x in shares) > shares[0].n


def self_id_shares(values: Iterable[str | None]) -> list[Share]:
    """Share of each self-identification class (all four, absent ones too, in `SELF_IDS` order);
    records from before the axis existed (None) are left out of n."""
    known = [v for v in values if v is not None]
    counts = Counter(known)
    return [Share(c, counts[c], len(known)) for c in SELF_IDS]


# Turn ends that leave a fragment, not a sample of what the model says: out of every share.
FRAGMENT_ENDS = ("cancelled", "error")


def answer_count(finish_reasons: Iterable[str]) -> str:
    """ "8 answers, 4 cancelled": a turn's generations, fragments counted apart (the lab's tree
    and `psmlab tree` said "8 answers" and "12 generations" of one turn)."""
    ends = list(finish_reasons)
    frags = Counter(e for e in ends if e in FRAGMENT_ENDS)
    n = len(ends) - sum(frags.values())
    said = [f"{n} answer{'s' * (n != 1)}"]
    said += [f"{k} {'cancelled' if why == 'cancelled' else 'failed'}" for why, k in frags.items()]
    return ", ".join(said)


@dataclass(frozen=True)
class LabelShares:
    """One model's automatic labels over its samples, both levels, and beside them (never among
    them) how its turns ended."""

    n: int
    self_id: list[Share]
    archetypes: list[Share]
    ends: list[Share]
    cancelled: int = 0  # answers cut off by the user: in `ends`, left out of the label shares
    failed: int = 0  # answers cut off by an error (a server gone mid-answer): likewise

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "n": self.n,
            "self_id": {x.label: x.to_dict() for x in self.self_id},
            "archetypes": {x.label: x.to_dict() for x in self.archetypes},
            "turn_ends": {x.label: x.to_dict() for x in self.ends},
        }
        if self.cancelled:
            out["cancelled_left_out"] = self.cancelled
        if self.failed:
            out["failed_left_out"] = self.failed
        return out


def shares_of(autos: Iterable[AutoLabel], ends: Iterable[str] = ()) -> LabelShares:
    """Both levels' shares over some samples' automatic labels (old `role_leak` labels dropped),
    and the shares of how the turns ended. `ends`, when given, is aligned with `autos`: an answer
    the user cancelled is a fragment, not a sample of what the model says, so its labels are left
    out of the shares (and counted) while its end is shown; so is an answer an error cut off."""
    autos, ends = list(autos), list(ends)
    if ends and len(ends) != len(autos):
        raise ValueError(f"{len(ends)} turn ends for {len(autos)} labels: give one per sample")
    kept = [a for i, a in enumerate(autos) if not ends or ends[i] not in FRAGMENT_ENDS]
    return LabelShares(
        n=len(kept),
        self_id=self_id_shares(a.self_id for a in kept),
        archetypes=label_shares(archetypes(a.labels) for a in kept),
        ends=label_shares([e] for e in ends),
        cancelled=ends.count("cancelled"),
        failed=ends.count("error"),
    )


def auto_label_shares(
    generations: Iterable[Continuation],
    models: Iterable[str],
    personas: list[Persona],
    question: str | None = None,
) -> tuple[dict[str, AutoLabel], dict[str, LabelShares]]:
    """Each generation's automatic labels (by id), and per model the shares of its samples at
    both levels and how they ended (every model listed, in the order given, even with no samples).
    `question`: what the generations answer (the last user turn), when known."""
    gens = list(generations)
    autos = {g.id: classify(g.text, personas, question=question, prefill=g.prefill) for g in gens}
    shares = {}
    for m in models:
        mine = [g for g in gens if g.model == m]
        shares[m] = shares_of((autos[g.id] for g in mine), (g.finish_reason for g in mine))
    return autos, shares


def self_id_differences(shares: Mapping[str, LabelShares]) -> list[Diff]:
    """Between each pair of models with more than one sample, the difference in share of each
    self-id class that occurs in any of them, with a Newcombe interval."""
    cols = {m: v.self_id for m, v in shares.items() if v.self_id and v.self_id[0].n > 1}
    if len(cols) < 2:
        return []
    labels = [x.label for x in next(iter(cols.values()))]
    seen = [lab for lab in labels if any(x.label == lab and x.k for v in cols.values() for x in v)]
    return [d for lab in seen for d in differences(cols, lab)]


def fmt_rate(tokens_per_s: float) -> str:
    """Tokens per second as read: a slow finished run is "0.4 tok/s", never "0 tok/s"."""
    return f"{tokens_per_s:.1f} tok/s" if tokens_per_s < 10 else f"{tokens_per_s:.0f} tok/s"
