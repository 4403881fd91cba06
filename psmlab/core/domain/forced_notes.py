"""Notes said beside a forced-choice result, read from its saved dict (the CLI, the lab's
panel, the markdown export and reports say them alike)."""

from __future__ import annotations


def rests_on_note(which: str, r: object) -> str | None:
    """One line saying a top class rests on one of its answers (`which`: "raw" or "calibrated";
    `r`: a `probe_result.rests_on` result, or whatever a saved file holds there)."""
    if not isinstance(r, dict) or not all(
        isinstance(r.get(k), str) for k in ("answer", "top", "without")
    ):
        return None
    answer = r["answer"] if len(r["answer"]) <= 60 else r["answer"][:59] + "…"
    return f"{which} top {r['top']} rests on one answer: without {answer!r}, {r['without']} leads"
