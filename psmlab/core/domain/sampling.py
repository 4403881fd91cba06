"""What a sample's settings say: whether they draw from the model's own distribution, and the
settings in short, as tables show them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pure(params: Mapping[str, Any]) -> bool:
    """Whether sampling settings are the model's own distribution (T=1, no truncation, no
    repeat penalty: a missing key is the default, 1)."""
    return (
        params.get("repeat_penalty", 1.0) == 1.0
        and params.get("temperature") == 1.0
        and params.get("top_k") == 0
        and params.get("top_p") == 1.0
        and params.get("min_p") == 0.0
    )


def sampling_text(params: Mapping[str, Any], steered: str | None = None) -> str:
    """The settings a sample was drawn with, shortly: "T 1, no truncation" or "T 0.8, top_p
    0.95, top_k 40, min_p 0.05", then a repeat penalty, the token limit and `steered` (the
    steering's short label, `steering.record_label`)."""

    def v(key: str, default: object = None) -> str:
        x = params.get(key, default)
        return f"{x:g}" if isinstance(x, float) else str(x)

    t = f"T {v('temperature')}"
    if pure(params):
        parts = [t, "no truncation"]
    else:
        parts = [t, f"top_p {v('top_p')}", f"top_k {v('top_k')}", f"min_p {v('min_p')}"]
    if params.get("repeat_penalty", 1.0) != 1.0:
        parts.append(f"repeat_penalty {v('repeat_penalty')}")
    if params.get("max_tokens") is not None:
        parts.append(f"max {v('max_tokens')} tokens")
    if steered:
        parts.append(f"steered {steered}")
    return ", ".join(parts)
