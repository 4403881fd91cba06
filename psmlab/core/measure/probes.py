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

import threading
from collections.abc import Callable, Mapping
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
)
from psmlab.core.measure.probe_result import (
    ProbeResult,
    describe,
    distribution,
    logmeanexp,
    logsumexp,
    paraphrase_range,
    rests_on,
    summarize,
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
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

# The sets and their answers live in probe_sets.py, the result and its arithmetic in
# probe_result.py; re-exported here, where callers import them.
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
        model=backend.spec,
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
    kw: dict[str, Any] = {
        "model_id": backend.spec.id,
        "model": backend.spec,
        "n_ctx": backend.n_ctx,
    }
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
    texts: dict[str, list[str]] = {}
    for a, st in flat:  # in the order of `per`'s lists
        texts.setdefault(a, []).append(st)
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
        result.calibrated_rests_on = rests_on(use, texts)
    result.raw_rests_on = rests_on(per, texts)
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
