"""Streaming helpers shared by backends: stop strings, held-back text, token events, ids."""

from __future__ import annotations

import time
import uuid

from psmlab.core.backends.base import TokenEvent


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


def token_event(model_id: str, sample: int, text: str, n: int, t_first: float) -> TokenEvent:
    """A streamed piece of text, with the speed since the first token."""
    dt = time.perf_counter() - t_first if t_first else 0.0
    return TokenEvent(model_id, sample, text, n, round(n / dt, 1) if dt > 0 else 0.0)
