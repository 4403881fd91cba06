"""Small statistics for persona measurements: Wilson score intervals and label shares."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


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
