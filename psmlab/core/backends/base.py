"""The backend contract: sampling parameters, token events, generations and scores."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

FinishReason = Literal["eos", "stop_string", "length", "cancelled", "error"]


class SamplingParams(BaseModel):
    """Every sampling knob, set explicitly and recorded with each generation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="0 means greedy decoding.")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(40, ge=0, description="0 disables top-k.")
    min_p: float = Field(0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(1.0, gt=0.0, le=5.0)
    max_tokens: int = Field(128, ge=1, le=100_000)


@dataclass(frozen=True)
class TokenEvent:
    """One streamed piece of text from one model's sample."""

    model_id: str
    sample: int
    text: str
    n_tokens: int
    tokens_per_s: float


@dataclass(frozen=True)
class Timings:
    prompt_s: float  # evaluating the prompt (after any reused prefix)
    gen_s: float  # sampling and decoding the continuation
    tokens_per_s: float
    prompt_tokens_evaluated: int


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token: its probability under the model (before sampling filters) and the
    most likely alternatives at that position."""

    token: int
    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Generation:
    """One finished continuation with everything needed to re-run it."""

    id: str
    model: str
    kind: str
    format: str
    sample: int
    seed: int
    text: str
    n_tokens: int
    finish_reason: FinishReason
    role_leak: bool
    params: dict[str, Any]
    tokens: tuple[int, ...] = ()
    stop_string: str | None = None
    prompt_tokens: int = 0
    prefill: str | None = None
    timings: Timings | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    error: str | None = None
    token_logprobs: tuple[TokenLogprob, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tokens"] = list(self.tokens)
        d["warnings"] = list(self.warnings)
        return d


@dataclass(frozen=True)
class Score:
    """log P(continuation | prompt), summed over the continuation's tokens."""

    continuation: str
    logprob: float
    n_tokens: int
    token_logprobs: tuple[float, ...]
    # True when the continuation merged with the prompt's last token: then logprob is
    # log P(prompt + continuation) - log P(prompt), each under its own tokenization.
    merged: bool = False


class Tokenizer(Protocol):
    """What prompt rendering needs from a model's vocabulary."""

    @property
    def bos_id(self) -> int | None: ...
    @property
    def eos_id(self) -> int | None: ...
    @property
    def add_bos(self) -> bool: ...
    def tokenize(self, text: str, *, special: bool) -> list[int]: ...
    def is_control(self, token: int) -> bool: ...
    def piece(self, token: int) -> str: ...


OnToken = Callable[[TokenEvent], None]


class Backend(Protocol):
    """A loaded model: tokenize, generate (streaming), score."""

    def generate(
        self,
        prompt: Any,
        params: SamplingParams,
        seed: int,
        *,
        sample: int = 0,
        cancel: threading.Event | None = None,
        on_token: OnToken | None = None,
    ) -> Generation: ...

    def score(self, prompt: Any, continuations: Sequence[str]) -> list[Score]: ...
