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
    values = _binned(values, width)
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return SPARK[3] * len(values)
    top = len(SPARK) - 1
    return "".join(SPARK[round((v - lo) / (hi - lo) * top)] for v in values)


def _binned(values: list[float], width: int) -> list[float]:
    """`values` averaged into `width` bins when there are more of them (as they are drawn)."""
    if len(values) <= width:
        return values
    step = len(values) / width
    return [
        sum(chunk) / len(chunk)
        for i in range(width)
        if (chunk := values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
    ]


def spark_scale(values: list[float], width: int | None = None) -> str:
    """What a sparkline's lowest and highest blocks stand for ("-3.20..+5.10"): each line is
    scaled to its own range, so without it the blocks cannot be read against any other value
    (a trial). `width`: the sparkline's, when it averaged the values into fewer blocks: the
    range is then the averages' and that is said ("-1.10..+2.40, 112 tokens in 24 blocks"; a
    trial's 112-token answer drawn in 9 blocks said nothing of it). Empty when there is nothing
    finite to draw."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    if width is None or len(values) <= width or len(finite) < len(values):
        return f"{min(finite):+.2f}..{max(finite):+.2f}"
    drawn = _binned(values, width)
    return f"{min(drawn):+.2f}..{max(drawn):+.2f}, {len(values)} tokens in {len(drawn)} blocks"
