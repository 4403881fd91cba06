"""Automatic persona labels from the archetypes' marker phrases: checkable, never a verdict.

Each label carries the spans that triggered it, so a person can check every rule hit. Automatic
labels are kept apart from human annotations and are always marked as automatic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from psmlab.core.personas import Persona

ROLE_LEAK = "role_leak"
UNCLEAR = "unclear"


@dataclass(frozen=True)
class MarkerHit:
    archetype: str
    marker: str
    start: int
    end: int


@dataclass(frozen=True)
class AutoLabel:
    labels: tuple[str, ...]
    hits: tuple[MarkerHit, ...] = field(default_factory=tuple)
    method: str = "markers"
    automatic: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "labels": list(self.labels),
            "automatic": True,
            "method": self.method,
            "hits": [
                {"archetype": h.archetype, "marker": h.marker, "start": h.start, "end": h.end}
                for h in self.hits
            ],
        }


@lru_cache(maxsize=512)
def _pattern(marker: str) -> re.Pattern[str]:
    # Case-insensitive and anchored at a word start, so "HAL" does not fire inside "shall"; short
    # markers (< 4 characters: HAL, DAN) must also end a word, longer ones may take a suffix
    # ("paperclip" matches "paperclips").
    left = r"(?<!\w)" if marker[:1].isalnum() else ""
    right = r"(?!\w)" if marker[-1:].isalnum() and len(marker.strip()) < 4 else ""
    return re.compile(left + re.escape(marker) + right, re.IGNORECASE)


def classify(text: str, personas: list[Persona], *, role_leak: bool = False) -> AutoLabel:
    """Archetypes whose markers occur in the text (with spans), `role_leak`, or `unclear`."""
    hits: list[MarkerHit] = []
    for p in personas:
        for m in p.markers:
            if not m.strip():
                continue
            for found in _pattern(m).finditer(text):
                hits.append(MarkerHit(p.id, m, found.start(), found.end()))
    hits.sort(key=lambda h: (h.start, h.archetype))
    labels = list(dict.fromkeys(h.archetype for h in hits))
    if role_leak:
        labels.append(ROLE_LEAK)
    return AutoLabel(tuple(labels) or (UNCLEAR,), tuple(hits))
