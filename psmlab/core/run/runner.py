"""Run one transcript on several models at once, each column with its own format and parameters.

Per-model threads, interleaved token events, N samples with recorded seeds, cancellation, and
errors kept in their own column.
"""

from __future__ import annotations

import os
import queue
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from psmlab.core.backends import open_vocab
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import RenderedPrompt, render, split_prefill
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Generation, SamplingParams, TokenEvent, sample_seeds
from psmlab.core.errors import ExitCode, PsmlabError, TranscriptError, UsageError
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering


@dataclass(frozen=True)
class Column:
    """One model in a run and how it is asked: format, system prompt, prefill, sampling
    parameters and steering. The one column type: the CLI, the lab (its settings dialog) and
    replay use it."""

    spec: ModelSpec
    format: str | None = None
    system: str | None = None
    prefill: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)
    steering: Steering | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def format_name(self) -> str:
        return self.format or self.spec.default_format


# --- events sent to the front end ---------------------------------------------------------


@dataclass(frozen=True)
class ModelLoading:
    model_id: str


@dataclass(frozen=True)
class ModelReady:
    model_id: str
    load_s: float
    prompt: RenderedPrompt


@dataclass(frozen=True)
class ModelFailed:
    model_id: str
    error: PsmlabError


@dataclass(frozen=True)
class GenerationDone:
    generation: Generation


Event = ModelLoading | ModelReady | ModelFailed | TokenEvent | GenerationDone


@dataclass
class RunResult:
    generations: list[Generation] = field(default_factory=list)
    prompts: dict[str, RenderedPrompt] = field(default_factory=dict)
    errors: dict[str, PsmlabError] = field(default_factory=dict)
    cancelled: bool = False
    base_seed: int = 0

    def exit_code(self) -> ExitCode:
        if not self.errors:
            return ExitCode.OK
        # Nothing ran: the first error's own code (as probe and evals do), even when the models
        # failed differently; PARTIAL says that some results were made.
        # The text a failing model streamed before it failed is kept, but it is no answer: a
        # lone server that died mid-answer is that failure (14); finished samples are results.
        if all(g.finish_reason == "error" for g in self.generations):
            return next(iter(self.errors.values())).exit_code
        return ExitCode.PARTIAL


def pick_seed() -> int:
    return random.SystemRandom().randint(1, 2**31 - 1)


def differing_settings(columns: list[Column]) -> list[str]:
    """The settings that differ between columns (system prompt, prefill, steering, sampling):
    each shows in its column (a prefill in green, "steered") and tells blind columns apart."""
    seen: dict[str, set[object]] = {
        "system prompt": {c.system for c in columns},
        "prefill": {c.prefill for c in columns},
        "steering": {c.steering.key if c.steering else None for c in columns},
        "sampling settings": {c.params.model_dump_json() for c in columns},
    }
    return [name for name, values in seen.items() if len(values) > 1]


def render_prompts(
    transcript: Transcript, columns: list[Column], *, reserve: int = 0
) -> list[RenderedPrompt]:
    """The exact prompt each column's model would receive, from its vocabulary alone (no weights
    are loaded): what `psmlab render` prints."""
    prompts = []
    for c in columns:
        tok, free = open_vocab(c.spec)
        try:
            prompts.append(
                render(
                    transcript,
                    c.spec.get_format(c.format_name),
                    tok,
                    model_id=c.spec.id,
                    model=c.spec,
                    n_ctx=c.spec.n_ctx,
                    system=c.system,
                    prefill=c.prefill,
                    reserve=reserve,
                )
            )
        finally:
            free()
    return prompts


def validate(transcript: Transcript, columns: list[Column]) -> dict[str, PsmlabError]:
    """Check before anything loads. Problems with the transcript raise; a column whose format
    cannot be used is returned, so the other columns still run (all failing raises the first)."""
    if not transcript.turns and not any(c.prefill for c in columns):
        raise TranscriptError("the transcript is empty", "give a message or --transcript FILE")
    bad: dict[str, PsmlabError] = {}
    for c in columns:
        # A header read, not a model load: unknown formats fail before anything slow starts. A
        # column's own prefill that cannot follow the transcript is that column's error too:
        # it stopped every column (an adopted answer, then F5, ran none).
        try:
            split_prefill(transcript, c.prefill)
            c.spec.get_format(c.format_name)
        except PsmlabError as exc:
            bad[c.spec.id] = exc
    if bad and len(bad) == len(columns):
        raise next(iter(bad.values()))
    return bad


def run(
    transcript: Transcript,
    columns: list[Column],
    *,
    n: int = 1,
    seed: int | None = None,
    pool: ModelPool | None = None,
    cancel: threading.Event | None = None,
    on_event: Callable[[Event], None] | None = None,
    logprobs: int = 0,
) -> RunResult:
    """Run every column at once and return when all are done (or cancelled)."""
    result = RunResult(base_seed=seed if seed is not None else pick_seed())
    cancel = cancel or threading.Event()
    events = stream(
        transcript,
        columns,
        n=n,
        seed=result.base_seed,
        pool=pool,
        cancel=cancel,
        logprobs=logprobs,
    )
    try:
        for event in events:
            _collect(result, event, on_event)
    except KeyboardInterrupt:
        # Ctrl+C means "stop generating": keep what finished and what streamed so far.
        cancel.set()
        for event in events:
            _collect(result, event, on_event)
    result.cancelled = cancel.is_set()
    order = [c.spec.id for c in columns]
    result.generations.sort(key=lambda g: (order.index(g.model), g.sample))
    return result


def _collect(result: RunResult, event: Event, on_event: Callable[[Event], None] | None) -> None:
    if isinstance(event, GenerationDone):
        result.generations.append(event.generation)
    elif isinstance(event, ModelReady):
        result.prompts[event.model_id] = event.prompt
    elif isinstance(event, ModelFailed):
        result.errors[event.model_id] = event.error
    if on_event is not None:
        on_event(event)


def stream(
    transcript: Transcript,
    columns: list[Column],
    *,
    n: int,
    seed: int,
    pool: ModelPool | None = None,
    cancel: threading.Event | None = None,
    logprobs: int = 0,
) -> Iterator[Event]:
    """Yield events from all columns as they happen; one worker thread per column."""
    bad = validate(transcript, columns)
    ids = [c.spec.id for c in columns]
    if len(set(ids)) != len(ids):
        raise UsageError(
            "the same model was given twice",
            # The way to a model beside itself (steered and not, two settings) is two names.
            "pass each model once; to set one model beside itself, give its file a second "
            "name in the config ([models.NAME] path = ...)",
        )
    pool = pool or ModelPool()
    cancel = cancel or threading.Event()
    events: queue.Queue[Event | None] = queue.Queue()
    # Several models share the cores: give each a fair share of threads.
    share = max(1, (os.cpu_count() or 1) // max(1, len(columns)))
    seeds = sample_seeds(seed, n)

    def work(col: Column) -> None:
        p = col.params
        try:
            events.put(ModelLoading(col.spec.id))
            model = pool.get(col.spec)
            fmt = col.spec.get_format(col.format_name)
            prompt = render(
                transcript,
                fmt,
                model.vocab,
                model_id=col.spec.id,
                model=col.spec,
                n_ctx=model.n_ctx,
                system=col.system,
                prefill=col.prefill,
                reserve=p.max_tokens,
            )
            events.put(ModelReady(col.spec.id, model.load_s, prompt))
            threads = min(col.spec.n_threads, share) if len(columns) > 1 else col.spec.n_threads
            # N samples of one prompt are decoded together where the backend can (llama.cpp:
            # parallel sequences of one context), one after another where it cannot.
            model.generate_many(
                prompt,
                p,
                seeds,
                cancel=cancel,
                on_token=events.put,
                on_done=lambda g: events.put(GenerationDone(g)),
                n_threads=threads,
                logprobs=logprobs,
                steering=col.steering,
            )
        except PsmlabError as exc:
            partial = getattr(exc, "partial", None)
            if isinstance(partial, Generation):  # what streamed before a server failed is kept
                events.put(GenerationDone(partial))
            events.put(ModelFailed(col.spec.id, exc))
        except Exception as exc:  # a crash in one column must not take down the others
            events.put(ModelFailed(col.spec.id, PsmlabError(f"{col.spec.id} failed: {exc!r}")))
        finally:
            events.put(None)

    for model_id, exc in bad.items():
        events.put(ModelFailed(model_id, exc))
    threads = [
        threading.Thread(target=work, args=(c,), daemon=True)
        for c in columns
        if c.spec.id not in bad
    ]
    for t in threads:
        t.start()
    running = len(threads)
    try:
        while running:
            try:
                ev = events.get()
            except KeyboardInterrupt:
                # Ctrl+C while waiting: cancel the workers and keep draining their last events.
                cancel.set()
                continue
            if ev is None:
                running -= 1
            else:
                yield ev
    finally:
        # On an early exit (Ctrl+C, a closed generator) stop the workers at the next token.
        if running:
            cancel.set()
        for t in threads:
            t.join()
