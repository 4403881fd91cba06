"""The one stream builder: a backend's raw pieces become token events, stop-string cuts and a Generation."""

from __future__ import annotations

import codecs
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from psmlab.core.domain.types import (
    FinishReason,
    Generation,
    OnToken,
    SamplingParams,
    Timings,
    TokenEvent,
    TokenLogprob,
)
from psmlab.core.errors import RemoteError

if TYPE_CHECKING:
    from psmlab.core.domain.prompt import RenderedPrompt
    from psmlab.core.models.spec import ModelSpec


class Piece(NamedTuple):
    """One step of a backend's stream: a token (llama.cpp) or a chunk of server text.

    Every piece counts as one token, even when its text is empty (a partial UTF-8 character)."""

    text: str
    token: int | None = None  # the token id, when the backend knows it
    logprobs: Sequence[TokenLogprob] = ()  # this piece's token log-probabilities, if asked for


@dataclass(slots=True)
class SourceReport:
    """What a piece source says besides its pieces, filled in as it runs."""

    # How the source ended by itself (eos, length, error, cancelled). While it is None, a cancel
    # ends the stream before the next piece; running out of pieces without one is a length stop.
    finish: FinishReason | None = None
    # Prompt tokens evaluated for this generation; None: cancelled before the prompt was
    # evaluated, and then the generation has no timings.
    evaluated: int | None = None
    error: str | None = None  # recorded on the Generation (e.g. a server's odd finish_reason)
    failure: RemoteError | None = None  # raised after the stream, with the partial generation
    tail: Callable[[], str] | None = None  # text still held by the source, unless a stop string hit


class Origin(Protocol):
    """The backend a generation comes from."""

    @property
    def spec(self) -> ModelSpec: ...

    def provenance(self) -> dict[str, Any]: ...


def new_generation_id() -> str:
    return "g-" + uuid.uuid4().hex[:12]


def find_stop(text: str, stops: list[str], start: int) -> tuple[int, str | None]:
    best, hit = len(text), None
    for s in stops:
        i = text.find(s, start)
        if i != -1 and i < best:
            best, hit = i, s
    return best, hit


def answer_token_count(pieces: Sequence[bytes], stops: Sequence[str]) -> int:
    """How many of a generation's leading tokens carry its answer: the stream decodes `pieces`
    (each token's bytes) as it did and cuts at the first stop string; the tokens after the ones
    that hold the text before it (a base frame's "\nUser:", the next speaker's line) are not
    the answer. A token holding both answer and stop text counts as the answer's."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    ends, text = [], ""
    for b in pieces:
        text += decoder.decode(b)
        ends.append(len(text))
    cut, hit = find_stop(text, list(stops), 0)
    if hit is None:
        return len(pieces)
    return next((k + 1 for k, end in enumerate(ends) if end >= cut), 0) if cut else 0


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
    """A streamed piece of text, with the speed since the first token (0 until a second token:
    one token over the microseconds since it arrived read as tens of thousands of tok/s)."""
    return TokenEvent(model_id, sample, text, n, _rate(n, time.perf_counter() - t_first, t_first))


def _rate(n: int, dt: float, t_first: float) -> float:
    """Tokens per second after the first token (the first one's time is the prompt's)."""
    return round((n - 1) / dt, 2) if t_first and n > 1 and dt > 0 else 0.0


def params_record(params: SamplingParams, seed: int, n_ctx: int, **extra: Any) -> dict[str, Any]:
    """The parameters a generation records: every sampling knob, the seed, n_ctx and `extra`."""
    return {**params.model_dump(), "seed": seed, "n_ctx": n_ctx, **extra}


def generation_from(
    pieces: Iterator[Piece],
    report: SourceReport,
    *,
    origin: Origin,
    prompt: RenderedPrompt,
    seed: int,
    sample: int,
    params: dict[str, Any],
    t0: float,
    cancel: threading.Event | None = None,
    on_token: OnToken | None = None,
    limit: int = sys.maxsize,
) -> Generation:
    """Stream `pieces` into token events and return the Generation they make (see StreamBuilder).

    The source is closed as soon as the stream ends (a server request with it); a
    `report.failure` is raised with the generation so far attached as its `partial`."""
    b = StreamBuilder(
        report,
        origin=origin,
        prompt=prompt,
        seed=seed,
        sample=sample,
        params=params,
        t0=t0,
        on_token=on_token,
        limit=limit,
    )
    try:
        while b.open(cancel):
            piece = next(pieces, None)
            if piece is None:
                break
            b.push(piece)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    return b.finish()


class StreamBuilder:
    """One generation's stream, fed a piece at a time: the pull loop of `generation_from` and the
    lock-step loop of parallel samples (one builder per sequence) share it.

    Before each piece (`open`): a cancel ends the stream (`cancelled`) unless the source already
    said how it ends, and `limit` pieces end it (`length`). After each piece (`push`): the text is
    cut at the first stop string (`stop_string`, a role leak), and what cannot be the start of one
    is streamed through `on_token`."""

    def __init__(
        self,
        report: SourceReport,
        *,
        origin: Origin,
        prompt: RenderedPrompt,
        seed: int,
        sample: int,
        params: dict[str, Any],
        t0: float,
        on_token: OnToken | None = None,
        limit: int = sys.maxsize,
    ) -> None:
        self.report = report
        self.origin, self.prompt, self.seed, self.sample = origin, prompt, seed, sample
        self.params, self.t0, self.on_token, self.limit = params, t0, on_token, limit
        self.model_id = origin.spec.id
        self.stops = [s for s in prompt.stop if s]
        self.longest = max((len(s) for s in self.stops), default=0)
        self.text, self.emitted, self.n = "", 0, 0
        self.tokens: list[int] = []
        # Where each piece's text ends in `text`: which pieces a stop string's cut leaves out.
        self.ends: list[int] = []
        self.tlps: list[TokenLogprob] = []
        self.finish_reason: FinishReason | None = None
        self.stop_hit: str | None = None
        self.t_first = 0.0
        # When the last piece came: a sample of a parallel group that ended early is finished
        # with the group, and timed to then it read 8.7 tok/s beside its siblings' 23.
        self.t_last = 0.0

    @property
    def ended(self) -> bool:
        return self.finish_reason is not None

    def open(self, cancel: threading.Event | None = None) -> bool:
        """May another piece come? Ends the stream (cancelled, length) when not."""
        if self.finish_reason is not None:
            return False
        if cancel is not None and cancel.is_set() and self.report.finish is None:
            self.finish_reason = "cancelled"
        elif self.n >= self.limit:
            self.finish_reason = "length"
        return self.finish_reason is None

    def end(self, finish: FinishReason) -> None:
        """The source ended the stream (eos): recorded unless it had already ended."""
        if self.finish_reason is None:
            self.report.finish = self.report.finish or finish
            self.finish_reason = finish

    def push(self, piece: Piece) -> bool:
        """Add one piece; False when it ended the stream (a stop string)."""
        chunk, tok, lps = piece
        self.n += 1
        self.t_last = time.perf_counter()
        if not self.t_first:
            self.t_first = self.t_last
        if tok is not None:
            self.tokens.append(tok)
        if lps:
            self.tlps.extend(lps)
        self.ends.append(len(self.text) + len(chunk))
        if not chunk:
            return True  # nothing new to cut or show
        self.text += chunk
        stops = self.stops
        if stops:
            cut, self.stop_hit = find_stop(self.text, stops, max(0, self.emitted - self.longest))
            if self.stop_hit is not None:
                self.text = self.text[:cut]
                self.finish_reason = "stop_string"
                return False
            safe = len(self.text) - holdback(self.text, stops)
        else:
            safe = len(self.text)
        if self.on_token is not None and safe > self.emitted:
            self.on_token(
                token_event(
                    self.model_id, self.sample, self.text[self.emitted : safe], self.n, self.t_first
                )
            )
            self.emitted = safe
        return True

    def _stop_tokens(self) -> int:
        """How many pieces after the answer's hold only the stop string: a piece whose text
        reaches into the answer (`text`, already cut) counts as the answer's, as
        `answer_token_count` counts them."""
        cut = len(self.text)
        k = next((i + 1 for i, end in enumerate(self.ends) if end >= cut), 0) if cut else 0
        return self.n - k

    def finish(self) -> Generation:
        """The Generation this stream made; raises `report.failure` with it attached."""
        report = self.report
        finish = self.finish_reason or report.finish or "length"
        text, n, t_first = self.text, self.n, self.t_first
        if finish != "stop_string" and report.tail is not None:
            text += report.tail()
        if self.on_token is not None and len(text) > self.emitted and finish != "error":
            self.on_token(token_event(self.model_id, self.sample, text[self.emitted :], n, t_first))
        timings = None
        if report.evaluated is not None:
            t_end = self.t_last or time.perf_counter()
            t_first = t_first or t_end
            gen_s = t_end - t_first
            timings = Timings(
                prompt_s=round(t_first - self.t0, 4),
                gen_s=round(gen_s, 4),
                tokens_per_s=_rate(n, gen_s, t_first),
                prompt_tokens_evaluated=report.evaluated,
            )
        spec = self.origin.spec
        prompt = self.prompt
        g = Generation(
            id=new_generation_id(),
            model=spec.id,
            kind=spec.kind,
            format=prompt.format,
            sample=self.sample,
            seed=self.seed,
            text=text,
            n_tokens=n,
            finish_reason=finish,
            role_leak=finish == "stop_string",
            stop_tokens=self._stop_tokens() if finish == "stop_string" else None,
            params=self.params,
            tokens=tuple(self.tokens),
            stop_string=self.stop_hit,
            prompt_tokens=len(prompt.tokens),
            prefill=prompt.prefill,
            timings=timings,
            provenance=self.origin.provenance(),
            warnings=prompt.warnings,
            error=report.error,
            token_logprobs=tuple(self.tlps),
        )
        if report.failure is not None:
            report.failure.partial = g
            raise report.failure
        return g
