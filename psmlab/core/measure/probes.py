"""Forced-choice probes: which persona's answers does a model find most likely after a question?

For each item the prompt (transcript + question + optional prefill) is evaluated once per model; each
answer is then scored as a continuation. A class's (an archetype's, or a self-identification
class's) log-probability is the log-mean-exp over its answers, so a class with more paraphrases gets
no bonus (log-sum-exp would add log k); a softmax across classes gives a distribution with no
sampling noise, over the model's untruncated (T=1) distribution *restricted to these answers*.

Calibration (pointwise mutual information): the same answers are also scored after a content-free
question ("N/A") in the same format, system prompt and prefill, and each answer's log-probability
under it is subtracted before aggregating. That removes how likely a wording is whatever was asked
("I am a human." echoing "Are you a human?"); both the raw and the calibrated distribution are kept.

Length normalisation (optional, off by default) divides each answer's log-probability by its token
count: the result is a score, not a probability, and is labelled so.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.backends import Backend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.domain.personas import Persona
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import PsmlabError
from psmlab.core.measure.probe_answers import (
    after_prefill,
    continuation,
    not_continuing,
    prefill_note,
)
from psmlab.core.measure.probe_sets import (
    AXES,
    NULL_QUESTION,
    ProbeItem,
    ProbeSet,
    check_archetypes,
    load_probe_set,
    opened,
    probe_set_names,
    statements_for,
)
from psmlab.core.models.registry import ModelSpec
from psmlab.core.models.steering import Steering

# The sets and their answers live in probe_sets.py; re-exported here, where callers import them.
__all__ = [
    "AXES",
    "NULL_QUESTION",
    "ProbeItem",
    "ProbeResult",
    "ProbeSet",
    "after_prefill",
    "check_archetypes",
    "continuation",
    "describe",
    "distribution",
    "load_probe_set",
    "logmeanexp",
    "logsumexp",
    "opened",
    "paraphrase_range",
    "probe_models",
    "probe_prompt",
    "probe_set_names",
    "probe_transcript",
    "run_probe",
    "score_statements",
    "statements_for",
    "summarize",
]


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


def probe_prompt(
    backend: Backend,
    transcript: Transcript,
    item: ProbeItem,
    fmt: Format,
    *,
    system: str | None = None,
    question: str | None = None,
) -> RenderedPrompt:
    """The prompt after which the answers are scored (`question` replaces the item's: the
    calibration's content-free question is rendered exactly like the real one)."""
    tr = transcript.with_turn("user", item.question if question is None else question)
    return render(
        tr,
        fmt,
        backend.vocab,
        model_id=backend.spec.id,
        n_ctx=backend.n_ctx,
        system=system,
        prefill=item.prefill,
    )


def run_probe(
    backend: Backend,
    transcript: Transcript,
    item: ProbeItem,
    fmt: Format,
    personas: list[Persona],
    *,
    system: str | None = None,
    normalize: bool = False,
    axis: str = "archetype",
    calibrate: bool = False,
    null_question: str = NULL_QUESTION,
) -> ProbeResult:
    """Score every class's answers after one rendering of the prompt (and, calibrated, after the
    content-free question too)."""
    prompt = probe_prompt(backend, transcript, item, fmt, system=system)
    null = None
    if calibrate:
        null = probe_prompt(backend, transcript, item, fmt, system=system, question=null_question)
    table = statements_for(item, personas, axis)
    return score_statements(
        backend,
        prompt,
        table,
        item.id,
        normalize,
        null_prompt=null,
        axis=axis,
        null_question=null_question if calibrate else None,
    )


def probe_models(
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    items: tuple[ProbeItem, ...] | list[ProbeItem],
    transcript: Transcript,
    personas: list[Persona],
    *,
    system: str | None = None,
    normalize: bool = False,
    axis: str = "archetype",
    calibrate: bool = False,
    null_question: str = NULL_QUESTION,
    steering: Mapping[str, Steering | None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    errors: dict[str, PsmlabError] | None = None,
) -> list[ProbeResult]:
    """Every item on every model, model by model (`formats[id]` None: the model's default format;
    `steering[id]`: a control vector for that model). The models are loaded here and closed
    before returning. `errors` given: a model that fails is recorded there (its results
    dropped) and the others still run; else the first failure is raised."""
    pool = ModelPool()
    results: list[ProbeResult] = []
    try:
        for s in specs:
            try:
                results += _probe_one(
                    pool, s, formats, items, transcript, personas, system=system,
                    normalize=normalize, axis=axis, calibrate=calibrate,
                    null_question=null_question, steering=steering, progress=progress,
                )  # fmt: skip
            except PsmlabError as exc:
                if errors is None:
                    raise
                errors[s.id] = exc
    finally:
        pool.close()
    return results


def _probe_one(
    pool: ModelPool,
    s: ModelSpec,
    formats: dict[str, str | None],
    items: tuple[ProbeItem, ...] | list[ProbeItem],
    transcript: Transcript,
    personas: list[Persona],
    *,
    system: str | None,
    normalize: bool,
    axis: str,
    calibrate: bool,
    null_question: str,
    steering: Mapping[str, Steering | None] | None,
    progress: Callable[[int, int, str], None] | None,
) -> list[ProbeResult]:
    """Every item on one model."""
    results = []
    f = s.get_format(formats.get(s.id) or s.default_format)
    backend = pool.get(s, (steering or {}).get(s.id))
    for i, it in enumerate(items, 1):
        results.append(
            run_probe(
                backend,
                transcript,
                it,
                f,
                personas,
                system=system,
                normalize=normalize,
                axis=axis,
                calibrate=calibrate,
                null_question=null_question,
            )
        )
        if progress:
            progress(i, len(items), s.id)
    return results


def probe_transcript(
    backend: Backend,
    transcript: Transcript,
    fmt: Format,
    personas: list[Persona],
    *,
    system: str | None = None,
    prefill: str | None = None,
    normalize: bool = False,
    calibrate: bool = True,
    cancel: threading.Event | None = None,
) -> ProbeResult:
    """Forced choice for the current conversation: each archetype's identity statements as the
    assistant's next answer (the lab's distribution panel). Calibrated when the conversation ends
    with a user message: that message is swapped for the content-free question."""
    kw: dict[str, Any] = {"model_id": backend.spec.id, "n_ctx": backend.n_ctx}
    prompt = render(transcript, fmt, backend.vocab, system=system, prefill=prefill, **kw)
    null = None
    turns = transcript.turns
    if calibrate and turns and turns[-1].role == "user":
        blank = Transcript(turns[:-1]).with_turn("user", NULL_QUESTION)
        null = render(blank, fmt, backend.vocab, system=system, prefill=prefill, **kw)
    table = statements_for(ProbeItem("transcript", ""), personas)
    return score_statements(
        backend,
        prompt,
        table,
        "transcript",
        normalize,
        null_prompt=null,
        cancel=cancel,
        null_question=NULL_QUESTION if null else None,
    )


def score_statements(
    backend: Backend,
    prompt: RenderedPrompt,
    table: dict[str, list[str]],
    item_id: str,
    normalize: bool,
    *,
    null_prompt: RenderedPrompt | None = None,
    axis: str = "archetype",
    null_question: str | None = None,
    cancel: threading.Event | None = None,
) -> ProbeResult:
    every = [(a, s) for a, ss in table.items() for s in ss]
    flat = _continuing(prompt.prefill, every, set(table))

    def values(p: RenderedPrompt) -> dict[str, list[float]]:
        scores = backend.score(p, [continuation(p, s) for _, s in flat], cancel=cancel)
        per: dict[str, list[float]] = {}
        for (a, _), sc in zip(flat, scores, strict=True):
            per.setdefault(a, []).append(
                sc.logprob / max(1, sc.n_tokens) if normalize else sc.logprob
            )
        return per

    per = values(prompt)
    lps = {a: logmeanexp(v) for a, v in per.items()}
    result = ProbeResult(
        backend.spec.id,
        item_id,
        distribution(lps),
        lps,
        per,
        normalize,
        prompt,
        axis,
        null_question=null_question,
        not_continuing=not_continuing(prompt.prefill, [s for _, s in flat]),
        n_answers=len(flat),
        left_out=len(every) - len(flat),
    )
    use = per
    if null_prompt is not None:
        nul = values(null_prompt)
        use = {a: [x - y for x, y in zip(v, nul[a], strict=True)] for a, v in per.items()}
        cal = {a: logmeanexp(v) for a, v in use.items()}
        result.calibrated, result.calibrated_logprobs = distribution(cal), cal
        result.null_statements = nul
    result.paraphrase_range = paraphrase_range(use)
    return result


def _continuing(
    prefill: str | None, flat: list[tuple[str, str]], classes: set[str]
) -> list[tuple[str, str]]:
    """With a prefill, only the answers that begin with it, while every class keeps one: "I am"
    then "I'm a human." is no answer anyone writes, and a class whose answers all read so lost
    to one whose did not (all of them, warned of, when some class would be left with none)."""
    if not prefill or not prefill.strip():
        return flat
    keep = [(a, s) for a, s in flat if after_prefill(prefill, s) is not None]
    return keep if {a for a, _ in keep} == classes else flat


def paraphrase_range(per: dict[str, list[float]]) -> dict[str, tuple[float, float]] | None:
    """Per class, min and max probability over the paraphrase sets (answer j of every class)."""
    counts = {len(v) for v in per.values()}
    if len(counts) != 1 or counts == {1} or len(per) < 2:
        return None
    dists = [distribution({a: v[j] for a, v in per.items()}) for j in range(counts.pop())]
    return {a: (min(d[a] for d in dists), max(d[a] for d in dists)) for a in per}


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
