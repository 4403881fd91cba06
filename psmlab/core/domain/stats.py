"""Small statistics for persona measurements: Wilson score intervals and (automatic) label shares."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from psmlab.core.domain.classify import classify
from psmlab.core.domain.personas import Persona
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


def label_shares(label_sets: Iterable[Iterable[str]]) -> list[Share]:
    """Share of samples carrying each label (a sample may carry several), most common first."""
    sets = [set(x) for x in label_sets]
    counts: Counter[str] = Counter(lab for s in sets for lab in s)
    n = len(sets)
    return [Share(lab, k, n) for lab, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def auto_label_shares(
    generations: Iterable[Continuation], models: Iterable[str], personas: list[Persona]
) -> tuple[dict[str, AutoLabel], dict[str, list[Share]]]:
    """Each generation's automatic labels (by id), and per model the share of its samples
    carrying each label (every model listed, in the order given, even one with no samples)."""
    gens = list(generations)
    autos = {g.id: classify(g.text, personas, role_leak=g.role_leak) for g in gens}
    shares = {m: label_shares(autos[g.id].labels for g in gens if g.model == m) for m in models}
    return autos, shares
