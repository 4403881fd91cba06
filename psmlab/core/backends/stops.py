"""Stop strings while streaming: find the first one, and hold back text that may begin one."""

from __future__ import annotations

import uuid


def new_generation_id() -> str:
    return "g-" + uuid.uuid4().hex[:12]


def find_stop(text: str, stops: list[str], start: int) -> tuple[int, str | None]:
    best, hit = len(text), None
    for s in stops:
        i = text.find(s, start)
        if i != -1 and i < best:
            best, hit = i, s
    return best, hit


def holdback(text: str, stops: list[str]) -> int:
    """How many trailing characters might be the start of a stop string (not safe to show yet)."""
    n = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), n, -1):
            if text.endswith(s[:k]):
                n = k
                break
    return n
