"""Sparklines: a series of numbers as one line of block characters (terminal and markdown)."""

from __future__ import annotations

import math

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 24) -> str:
    """Values as block characters, scaled between their own min and max (binned to `width`
    by averaging, so a long answer still fits a column). A value that is not a finite number
    (a NaN from a file an older psmlab wrote) is a gap, never a crash."""
    if not values:
        return ""
    if not all(math.isfinite(v) for v in values):
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return "·" * min(len(values), width)
        fill = sum(finite) / len(finite)
        drawn = sparkline([v if math.isfinite(v) else fill for v in values], width)
        if len(values) <= width:  # one cell per value: the gaps show where they are
            return "".join(
                " " if not math.isfinite(v) else c for v, c in zip(values, drawn, strict=True)
            )
        return drawn
    if len(values) > width:
        step = len(values) / width
        values = [
            sum(chunk) / len(chunk)
            for i in range(width)
            if (chunk := values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
        ]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return SPARK[3] * len(values)
    top = len(SPARK) - 1
    return "".join(SPARK[round((v - lo) / (hi - lo) * top)] for v in values)


def spark_scale(values: list[float]) -> str:
    """What a sparkline's lowest and highest blocks stand for ("-3.20..+5.10"): each line is
    scaled to its own range, so without it the blocks cannot be read against any other value
    (a trial). Empty when there is nothing finite to draw."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    return f"{min(finite):+.2f}..{max(finite):+.2f}"
