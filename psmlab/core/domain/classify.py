"""Automatic persona labels from the archetypes' marker phrases: checkable, never a verdict.

Each label carries the spans that triggered it, so a person can check every rule hit. Automatic
labels are kept apart from human annotations and are always marked as automatic.
"""

from __future__ import annotations

import re
from functools import lru_cache

from psmlab.core.domain.personas import Persona
from psmlab.core.domain.types import AutoLabel, MarkerHit

ROLE_LEAK = "role_leak"
UNCLEAR = "unclear"


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
                hits.append(
                    MarkerHit(archetype=p.id, marker=m, start=found.start(), end=found.end())
                )
    hits.sort(key=lambda h: (h.start, h.archetype))
    labels = list(dict.fromkeys(h.archetype for h in hits))
    if role_leak:
        labels.append(ROLE_LEAK)
    return AutoLabel(labels=tuple(labels) or (UNCLEAR,), hits=tuple(hits))
