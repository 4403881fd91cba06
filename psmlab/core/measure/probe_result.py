"""A forced-choice result and the arithmetic over it: log-mean-exp aggregation, the softmax over
classes, the spread over paraphrase sets and the per-model summary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.measure.probe_answers import prefill_note


@dataclass
class ProbeResult:
    model: str
    item: str
    probs: dict[str, float]
    logprobs: dict[str, float]
    statements: dict[str, list[float]] = field(default_factory=dict)
    normalized: bool = False
    # The prompt the statements were scored after (its format, system text, prefill, warnings).
    prompt: RenderedPrompt | None = field(default=None, repr=False, compare=False)
    axis: str = "archetype"
    # PMI: each answer's log-probability minus its log-probability after the content-free question.
    calibrated: dict[str, float] | None = None
    calibrated_logprobs: dict[str, float] | None = None
    null_statements: dict[str, list[float]] | None = None
    null_question: str | None = None
    # Per class, the lowest and highest probability over paraphrase sets (the j-th answer of every
    # class scored alone); None when the classes have different numbers of answers.
    paraphrase_range: dict[str, tuple[float, float]] | None = None
    # Of `n_answers`, how many do not begin with the prompt's prefill (scored after it as
    # written: "I am I'm an AI."); 0 with no prefill.
    not_continuing: int = 0
    n_answers: int = 0
    left_out: int = 0  # answers not scored: they do not begin with the prefill
    # The one answer whose leaving out changes the top class (`rests_on`), raw and calibrated:
    # a trial's calibrated "human" rested on one answer with log-prob -52.6 after "N/A".
    raw_rests_on: dict[str, str] | None = None
    calibrated_rests_on: dict[str, str] | None = None

    @property
    def top(self) -> str:
        return max(self.probs, key=lambda k: self.probs[k])

    @property
    def top_calibrated(self) -> str | None:
        c = self.calibrated
        return max(c, key=lambda k: c[k]) if c else None

    @property
    def measures(self) -> str:
        """What the numbers are, in one line (shown with them)."""
        return describe(self.normalized, self.calibrated is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "item": self.item,
            "axis": self.axis,
            "measures": self.measures,
            "aggregation": "log-mean-exp",
            "probs": self.probs,
            "logprobs": self.logprobs,
            "calibrated": self.calibrated,
            "calibrated_logprobs": self.calibrated_logprobs,
            "null_question": self.null_question,
            "statement_logprobs": self.statements,
            "null_statement_logprobs": self.null_statements,
            "paraphrase_range": self.paraphrase_range,
            "length_normalized": self.normalized,
            "answers_not_continuing_prefill": self.not_continuing,
            "n_answers": self.n_answers,
            "answers_left_out": self.left_out,
            # The words the table says beside it, in the JSON too (a trial's --json held the
            # count alone, and its prompt warnings did not say it).
            "prefill_note": self.prefill_note(),
            "raw_rests_on": self.raw_rests_on,
            "calibrated_rests_on": self.calibrated_rests_on,
        }

    def prefill_note(self) -> str | None:
        """Said beside the result when answers do not continue the prefill."""
        pre = self.prompt.prefill if self.prompt is not None else None
        return prefill_note(pre, self.n_answers, self.left_out, self.not_continuing)


def describe(normalized: bool, calibrated: bool) -> str:
    """What a forced-choice distribution measures (the TUI, the CLI and reports show it)."""
    what = (
        "softmax of per-token mean log-probs (a score, not a probability)"
        if normalized
        else "P(class | one of these answers)"
    )
    cal = ", calibrated by a content-free question (PMI)" if calibrated else ""
    return f"forced choice: {what}{cal}, under the untruncated T=1 distribution"


def logsumexp(xs: list[float]) -> float:
    top = max(xs)
    return top + math.log(sum(math.exp(x - top) for x in xs))


def logmeanexp(xs: list[float]) -> float:
    """log of the mean probability: paraphrases count once as a set, whatever their number."""
    return logsumexp(xs) - math.log(len(xs))


def distribution(per_archetype: dict[str, float]) -> dict[str, float]:
    z = logsumexp(list(per_archetype.values()))
    return {k: math.exp(v - z) for k, v in per_archetype.items()}


def paraphrase_range(per: dict[str, list[float]]) -> dict[str, tuple[float, float]] | None:
    """Per class, min and max probability over the paraphrase sets (answer j of every class)."""
    counts = {len(v) for v in per.values()}
    if len(counts) != 1 or counts == {1} or len(per) < 2:
        return None
    dists = [distribution({a: v[j] for a, v in per.items()}) for j in range(counts.pop())]
    return {a: (min(d[a] for d in dists), max(d[a] for d in dists)) for a in per}


def rests_on(per: dict[str, list[float]], texts: dict[str, list[str]]) -> dict[str, str] | None:
    """The answer of the top class whose leaving out changes the top, or None when none does.

    Only the top class's own answers: under log-mean-exp, leaving out a rival's weakest
    paraphrase raises the rival by up to log 2, so every close item would be flagged, for a
    reason that is not the top's (a review). A class with one answer keeps it. Of several that
    would, the one after whose leaving out the new top leads by most. Returned as `class` (the
    answer's: the top), `answer` (its text), `top` and `without` (the top without it)."""
    if len(per) < 2 or any(not v or not all(map(math.isfinite, v)) for v in per.values()):
        return None
    full = {a: logmeanexp(v) for a, v in per.items()}
    top = max(full, key=lambda k: full[k])
    mine = per[top]
    best: tuple[float, int, str] | None = None
    for j in range(len(mine) if len(mine) > 1 else 0):
        rest = {**full, top: logmeanexp(mine[:j] + mine[j + 1 :])}
        new = max(rest, key=lambda k: rest[k])
        margin = rest[new] - rest[top]
        if new != top and (best is None or margin > best[0]):
            best = (margin, j, new)
    if best is None:
        return None
    _, j, new = best
    answers = texts.get(top, [])
    return {
        "class": top,
        "answer": answers[j] if j < len(answers) else "",
        "top": top,
        "without": new,
    }


def summarize(results: list[ProbeResult]) -> dict[str, dict[str, Any]]:
    """Per model: the mean distribution over items (raw and, where measured, calibrated), its top
    class, and each class's spread over items (lowest and highest item probability)."""
    out: dict[str, dict[str, Any]] = {}
    for model in dict.fromkeys(r.model for r in results):
        rs = [r for r in results if r.model == model]
        keys = list(dict.fromkeys(k for r in rs for k in r.probs))
        mean = {k: sum(r.probs.get(k, 0.0) for r in rs) / len(rs) for k in keys}
        spread = {
            k: (min(r.probs.get(k, 0.0) for r in rs), max(r.probs.get(k, 0.0) for r in rs))
            for k in keys
        }
        entry: dict[str, Any] = {
            "top": max(mean, key=lambda k: mean[k]),
            "probs": mean,
            "spread": spread,
            "n_items": len(rs),
            "measures": rs[0].measures,
        }
        cals = [r.calibrated for r in rs if r.calibrated is not None]
        if len(cals) == len(rs):
            cmean = {k: sum(c.get(k, 0.0) for c in cals) / len(cals) for k in keys}
            entry["calibrated"] = cmean
            entry["top_calibrated"] = max(cmean, key=lambda k: cmean[k])
            entry["calibrated_spread"] = {
                k: (min(c.get(k, 0.0) for c in cals), max(c.get(k, 0.0) for c in cals))
                for k in keys
            }
        out[model] = entry
    return out
