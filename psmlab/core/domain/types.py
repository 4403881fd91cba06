"""The lab's nouns: sampling parameters, token events, timings, token log-probabilities, generations and scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

MAX_SEED = 2**32 - 2  # 0xFFFFFFFF means "random" to llama.cpp

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


def param_range(name: str) -> str:
    """A sampling knob's allowed values in words ("above 0 and at most 5"), from its field's
    bounds, for an error that gives the fix rather than the validator's wording."""
    field = SamplingParams.model_fields.get(name)
    if field is None:  # not one knob's bound: said without a range
        return "within the ranges psmlab ask --help gives"
    parts = []
    for bound in field.metadata:
        for attr, words in (
            ("ge", "at least"),
            ("gt", "above"),
            ("le", "at most"),
            ("lt", "below"),
        ):
            if (value := getattr(bound, attr, None)) is not None:
                parts.append(f"{words} {value:g}")
    return " and ".join(parts) or "of any size"


@dataclass(frozen=True)
class TokenEvent:
    """One streamed piece of text from one model's sample."""

    model_id: str
    sample: int
    text: str
    n_tokens: int
    tokens_per_s: float


class Timings(BaseModel):
    """How long a generation took."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt_s: float  # evaluating the prompt (after any reused prefix)
    gen_s: float  # sampling and decoding the continuation
    tokens_per_s: float
    prompt_tokens_evaluated: int = 0


class TokenLogprob(BaseModel):
    """One generated token: its probability under the model (before sampling filters) and the
    most likely alternatives at that position."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token: int
    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


class Continuation(BaseModel):
    """What every recorded continuation holds, whether fresh from a backend or in a session."""

    model_config = ConfigDict(extra="forbid")
    id: str
    model: str
    format: str
    sample: int = Field(ge=0)
    seed: int = Field(ge=0)
    text: str
    n_tokens: int = Field(ge=0)
    finish_reason: FinishReason
    role_leak: bool
    params: dict[str, Any]
    tokens: tuple[int, ...] = ()
    stop_string: str | None = None
    # None: not recorded (an experiment's rows keep no prompt; a session made from them said 0).
    prompt_tokens: int | None = None
    prefill: str | None = None
    timings: Timings | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    token_logprobs: tuple[TokenLogprob, ...] = ()
    # Of n_tokens, how many hold the stop string that ended the turn (recorded for replay, never
    # shown as the answer); None: no stop string ended it, or not recorded (older records). A
    # trial read "3 tok" beside "the model added nothing before the stop string".
    stop_tokens: int | None = Field(None, ge=0)

    @property
    def full_text(self) -> str:
        """What the assistant said: the prefill the model was given plus what it wrote."""
        return (self.prefill or "") + self.text

    def answer_tokens(self) -> int:
        """How many of the recorded tokens (`token_logprobs`, F7's cursor) hold the answer's
        text. Recorded by the stream where a stop string ended the turn, when its pieces are
        these tokens (a server may stream several tokens a piece, or one reply in all); else
        told from the tokens' own texts, where the stop string starts in them (a character
        split over byte tokens reads as "\ufffd" in each, so the answer's length in characters
        does not count them); else all of them."""
        toks = self.token_logprobs or ()
        if (k := self.stream_split(len(toks) if toks else None)) is not None:
            return k
        if not toks:
            return self.n_tokens
        joined = "".join(t.text for t in toks)
        at = joined.find(self.stop_string) if self.stop_string else -1
        if self.finish_reason != "stop_string" or len(toks) != self.n_tokens or at < 0:
            return len(toks)
        k, start = 0, 0
        for t in toks:  # a token that starts before the stop string holds some of the answer
            if start >= at:
                break
            k, start = k + 1, start + len(t.text)
        return k

    def stream_split(self, n_recorded: int | None = None) -> int | None:
        """How many tokens hold the answer by the stream's own record (n_tokens less the stop
        string's), where that count applies to `n_recorded` recorded tokens (None: to any);
        None where it was not recorded. The one rule F7's cursor, the footer and reading an
        answer's activations split by (test_stream_split checks it against the decode)."""
        if self.finish_reason != "stop_string" or self.stop_tokens is None:
            return None
        if n_recorded is not None and n_recorded != self.n_tokens:
            return None  # a server's pieces are not these tokens
        # max: a hand-edited count past n_tokens reads as no answer, never a negative one
        return max(0, self.n_tokens - self.stop_tokens)

    def token_words(self) -> str:
        """`26 tok`, or where a stop string ended the turn what of it is the stop's (`1 tok + 2
        of the stop string`), counted as `n_tokens` counts (the stream's pieces). An older
        record whose split is not known says `8 tok`, all it generated (said longer, it cut the
        labels from the footer of an 80x24 lab)."""
        n = self.n_tokens
        if self.finish_reason != "stop_string":
            return f"{n} tok"
        if (split := self.stream_split()) is not None:
            k = split
        elif len(self.token_logprobs or ()) == n:
            k = self.answer_tokens()
        else:  # where the answer ends in its tokens: not known
            k = n
        return f"{n} tok" if k == n else f"{k} tok + {n - k} of the stop string"


class Generation(Continuation):
    """One finished continuation, as a backend returns it, with everything needed to re-run it.
    A session stores it as a `GenerationRecord` (the same fields plus where it sits)."""

    model_config = ConfigDict(frozen=True)
    kind: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(mode="json")
        # Key order of the JSON that `ask --json` has always printed.
        order = ["id", "model", "kind", "format", "sample", "seed", "text", "n_tokens"]
        return {**{k: d[k] for k in order}, **d}


@dataclass(frozen=True)
class Score:
    """log P(continuation | prompt), summed over the continuation's tokens."""

    continuation: str
    logprob: float
    n_tokens: int
    token_logprobs: tuple[float, ...]
    # True when the continuation was scored with some of the prompt's last characters
    # (`merged_with`). A prompt ending in spaces (a prefill "Answer: ") is scored from before
    # them for every continuation: log P(spaces + continuation | the prompt before them), as
    # the model writes a word with its space. Any other merge (the prompt's last token re-
    # tokenized with the continuation's first): log P(prompt + continuation) - log P(prompt),
    # each under its own tokenization, from the last shared token.
    merged: bool = False
    merged_with: str = ""


class MarkerHit(BaseModel):
    """One rule hit: which archetype's marker matched where (character offsets in the text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    archetype: str
    marker: str
    start: int
    end: int


class AutoLabel(BaseModel):
    """Labels a labeller gave a text, at two levels: the self-identification label (`ai`, `human`,
    `mixed`, `none`; None in records made before it existed) and the archetype labels. Kept apart
    from human annotations, always automatic; `method` names the labeller."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: tuple[str, ...]
    hits: tuple[MarkerHit, ...] = ()
    method: str = "markers"
    automatic: Literal[True] = True
    self_id: str | None = None
    self_id_hits: tuple[MarkerHit, ...] = ()
    # Which version of the self-id rules gave the labels (`selfid_version.rules_fingerprint`):
    # a label of other rules is read again. None: a judge's, or made before it was recorded.
    rules: str | None = None

    def to_dict(self) -> dict[str, object]:
        d = self.model_dump(mode="json")
        keys = ("labels", "self_id", "automatic", "method", "hits", "self_id_hits", "rules")
        return {k: d[k] for k in keys}


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


class ModelFacts(Protocol):
    """What a prompt warns about from the model itself, beside its vocabulary (a `ModelSpec`)."""

    @property
    def trained_ctx(self) -> int | None: ...
    def kind_doubt(self) -> str | None: ...


OnToken = Callable[[TokenEvent], None]


def sample_seeds(base: int, n: int) -> list[int]:
    """The seeds of n samples: consecutive from `base`, wrapping inside the valid range."""
    return [(base + i) % (MAX_SEED + 1) for i in range(n)]
