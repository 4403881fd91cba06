"""What a run was made with, by name, and how two runs' settings differ (the compare view and
the column header's "temperature not as run 1" both read them)."""

from __future__ import annotations

from psmlab.core.models.steering import record_label
from psmlab.core.session.schema import GenerationRecord

# In the order a researcher reads them.
_SETTINGS = ("model", "format", "system", "prefill")
_KNOBS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")


def run_settings(run: list[GenerationRecord]) -> dict[str, object]:
    """A run's settings, from its first sample, with every sample's seed."""
    g = run[0]
    out: dict[str, object] = {k: getattr(g, k) for k in _SETTINGS}
    out.update({k: g.params.get(k) for k in _KNOBS})
    out["steered"] = record_label(g.params.get("steer"))  # hal.gguf:12@4, or None
    out["seeds"] = ", ".join(str(x.seed) for x in run)
    return out


def differences(a: list[GenerationRecord], b: list[GenerationRecord]) -> list[str]:
    """`format: dialogue → chatml`, one line per setting that differs (seeds included)."""
    sa, sb = run_settings(a), run_settings(b)
    return [f"{k}: {sa[k]!r} → {sb[k]!r}" for k in sa if sa[k] != sb[k]]


def run_differs(runs: list[list[GenerationRecord]], k: int) -> tuple[str, ...]:
    """The settings run `k` was made with unlike run k-1 (seeds aside), by name."""
    if not 0 < k < len(runs) or not runs[k] or not runs[k - 1]:
        return ()
    now, was = run_settings(runs[k]), run_settings(runs[k - 1])
    return tuple(x for x in now if x != "seeds" and now[x] != was[x])
