"""The records a session is made of: turns, models, generations, annotations, labels, forced choice.

Each is immutable once recorded, except that a model's record follows its column's latest settings.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from psmlab.core.domain.types import (
    AutoLabel,
    Continuation,
    MarkerHit,
    TokenLogprob,
)
from psmlab.core.errors import UsageError


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:12]


def title_of(message: str, width: int = 60) -> str:
    """A session's title from its first message: one line, cut at a word with "…" when long
    (it was cut mid-word with no mark: "... and [red")."""
    text = " ".join(message.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut[width // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


class TurnRecord(_Strict):
    """One node of the conversation tree."""

    id: str = Field(default_factory=lambda: new_id("t-"))
    parent: str | None = Field(None, description="The turn before this one; None for a first turn.")
    role: Literal["system", "user", "assistant"]
    content: str
    adopted_from: str | None = Field(None, description="Generation id whose text became this turn.")
    adopted_model: str | None = None
    # How the answer was chosen: "key" (adopt pressed in a column), "picker" (chosen when sending),
    # "cli" (psmlab adopt); None in sessions from before it was recorded.
    adopted_how: str | None = None
    # A turn whose text a person changed: the turn it is an edited copy of. An assistant turn
    # no model wrote must say so wherever it is shown, as an adopted one names its model.
    edited_from: str | None = None
    # An adopted answer that continued text it was given (the assistant turn it continued, or a
    # column's prefill): that text, which starts `content` and which the model did not write,
    # and the turn it continued (None: a prefill). Shown wherever the turn names its model.
    given: str | None = None
    continued: str | None = None
    created: str | None = Field(default_factory=now)
    # Trees imported from another tool: where from, and the fields psmlab does not model (kept so
    # an export writes them back).
    source: str | None = None
    meta: dict[str, Any] | None = None

    def same_as(self, other: TurnRecord) -> bool:
        """The same turn in the tree's sense: same speaker, text and origin."""
        return (self.role, self.content, self.adopted_from) == (
            other.role,
            other.content,
            other.adopted_from,
        )


class ModelRecord(_Strict):
    """A column: the model file and how it was asked (last settings used)."""

    id: str
    kind: Literal["base", "chat"]
    path: str
    sha256: str | None
    size: int
    source: str = "path"
    format: str
    system: str | None = None
    prefill: str | None = None
    steer: dict[str, Any] | None = Field(
        None, description="Control vector of the last run: file, sha256, layers, alpha."
    )
    n_ctx: int = Field(ge=1)  # a context of 0 or fewer tokens is a damaged record
    n_threads: int
    # Sampling settings changed in the lab since its last run (None: the last run's, which its
    # answers record): kept, so a reopened session runs as it was left. Written only when set.
    params: dict[str, Any] | None = None
    backend: str = "llama_cpp"
    llama_cpp_python: str | None = None
    error: str | None = None
    # Server models (backend "openai"): where, and what the server said it runs. Never the key.
    endpoint: str | None = None
    remote_model: str | None = None
    server_model: str | None = None
    server_version: str | None = None
    api_key_env: str | None = None


class GenerationRecord(Continuation):
    """A `Generation` as the session keeps it: the same fields, plus the tree node it continued,
    the run it belongs to, the system prompt and the prompt's digest."""

    turn: int = Field(ge=0, description="How many transcript turns the prompt held.")
    node: str | None = Field(
        None, description="The last turn the prompt held (its path is the history); None: none."
    )
    run: str | None = Field(
        None, description="One press of generate: the samples a column made together."
    )
    system: str | None = None
    prompt_sha256: str | None = None
    created: str = Field(default_factory=now)
    # Lists, not tuples: records are compared with and edited as JSON data.
    tokens: list[int] = Field(default_factory=list)  # type: ignore[assignment]
    warnings: list[str] = Field(default_factory=list)  # type: ignore[assignment]
    token_logprobs: list[TokenLogprob] | None = Field(  # type: ignore[assignment]
        None, description="Per token: log-probability and top alternatives (when asked for)."
    )


class Span(_Strict):
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end < self.start:
            raise ValueError("evidence end comes before start")
        return self


# `psmlab agreement SESSION.json:human` and `:auto` name the annotators' agreed label and the
# automatic labels, so no annotator may be called that.
RESERVED_ANNOTATORS = ("human", "auto")


def check_annotator(name: str) -> None:
    """Refuse a name `psmlab agreement` reads as something else than one annotator."""
    if name in RESERVED_ANNOTATORS:
        raise UsageError(
            f"'{name}' cannot name an annotator: psmlab agreement reads SESSION.json:{name} as "
            + ("the annotators' agreed label" if name == "human" else "the automatic labels"),
            "give a person's name or initials, e.g. alice",
        )


def notes_on(annotations: list[Annotation], new: Annotation) -> list[str]:
    """What adding `new` means for `psmlab agreement` that its author may not expect."""
    # Said, never silently taken: a name that differs from a known annotator's only in case is a
    # new annotator to agreement, and a second self-id label by the same person is the one
    # agreement reads from now on.
    who, gen = new.annotator, new.generation_id
    names = {a.annotator for a in annotations}
    alike = sorted(n for n in names if n != who and n.casefold() == who.casefold())
    notes = []
    if alike and who not in names:
        notes.append(f"'{who}' is a new annotator here; '{alike[0]}' is another (names are exact)")
    if new.self_id and any(
        a.annotator == who and a.generation_id == gen and a.self_id for a in annotations
    ):
        notes.append(f"{who} labelled {gen} before: agreement reads this newer self-id label")
    return notes


class Annotation(_Strict):
    id: str = Field(default_factory=lambda: "a-" + uuid.uuid4().hex[:12])
    generation_id: str
    labels: list[str] = Field(
        default_factory=list, description="Persona archetype ids or free text."
    )
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    note: str | None = None
    rating: int | None = Field(None, ge=1, le=5)
    evidence: Span | None = None
    annotator: str = "anonymous"
    created: str = Field(default_factory=now)
    blind: bool = False
    self_id: Literal["ai", "human", "mixed", "none"] | None = Field(
        None,
        description="What the continuation claims to be (the self-identification axis); None: unset.",
    )

    @field_validator("self_id", mode="before")
    @classmethod
    def _any_case(cls, v: Any) -> Any:
        """ "Human" written by hand in the file reads as annotate and agreement read it."""
        return v.strip().lower() if isinstance(v, str) else v


class AutoLabelRecord(AutoLabel):
    """An `AutoLabel` as the session keeps it, pointing at its generation."""

    model_config = ConfigDict(frozen=False)
    generation_id: str
    labels: list[str]  # type: ignore[assignment]
    hits: list[MarkerHit] = Field(default_factory=list)  # type: ignore[assignment]
    judge: dict[str, Any] | None = Field(
        None,
        description="A judge's self-id: its option probabilities, log-probabilities and record "
        "(model, prompt sha256, position bias); None for the marker rules.",
    )


class ForcedRecord(_Strict):
    """A forced-choice result as the lab showed it, with what was scored (kept, exported)."""

    id: str = Field(default_factory=lambda: new_id("f-"))
    model: str
    node: str | None = Field(description="The pending user turn the answers were scored after.")
    format: str
    system: str | None = None
    prefill: str | None = None
    steer: dict[str, Any] | None = Field(None, description="The control vector scored under.")
    measures: str
    result: dict[str, Any] = Field(description="ProbeResult.to_dict(): probabilities, log-probs.")
    warnings: list[str] = Field(default_factory=list)
    opening: dict[str, Any] | None = Field(
        None,
        description="The opening design after the same message (OpeningResult.to_dict()): the "
        'model\'s own continuations of "I\'m" / "I am" read on the self-identification axis.',
    )
    opening_note: str | None = Field(None, description="Why no opening walk was made, if none.")
    created: str = Field(default_factory=now)


class ProjectionRecord(_Strict):
    """One answer re-read with capture and projected on a control vector's unit direction, per
    layer (the mean over its answer tokens, and each token's value; a stop string's tokens,
    which a base frame's answer was cut at, are not the answer's)."""

    generation_id: str
    vector: dict[str, Any] = Field(
        description="The control vector: file, sha256, archetype (if psmlab built it), layers."
    )
    measures: str = (
        "l_out-L of each answer token (a stop string's left out) projected on the unit vector; "
        "projection = their mean"
    )
    projection: dict[str, float] = Field(default_factory=dict, description="Layer -> mean.")
    per_token: dict[str, list[float]] = Field(default_factory=dict)
    steered: bool = Field(False, description="Re-read under the answer's own control vector.")
    added: dict[str, float] = Field(
        default_factory=dict,
        description="Steered: per layer the vector adds to, the part of every token's value "
        "that is the added vector itself (subtract it to compare with unsteered answers).",
    )
    skipped: str | None = None
    note: str | None = Field(
        None, description="Why the numbers may mean little: the vector records another model."
    )
    baseline: str | None = Field(
        None,
        description="Why the vector's held-out means are not this answer's baseline: it was "
        "made in another format than the vector's answers, or with a system prompt or prefill.",
    )
    created: str = Field(default_factory=now)


def tokens_sha256(tokens: list[int] | tuple[int, ...]) -> str:
    return hashlib.sha256(",".join(map(str, tokens)).encode()).hexdigest()


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def quote_span(text: str, quote: str, *, what: str = "the quoted text", given: int = 0) -> Span:
    """Evidence given as a quote: the span of its first occurrence in the generation's text
    that reaches past the first `given` characters (the prefill: text the model was given, not
    its words, which evidence of what the model claims cannot rest on). Curly and straight
    quotes are one (a quote typed "I'm" finds the model's "I’m"; one character each, so the
    span is the text's own)."""
    text, quote = text.translate(_QUOTES), quote.translate(_QUOTES)
    at = text.find(quote) if quote else -1
    if at < 0:
        raise UsageError(f"{what} is not in the generation", "copy it exactly")
    while at >= 0 and at + len(quote) <= given:
        at = text.find(quote, at + 1)
    if at < 0:
        raise UsageError(
            f"{what} is in the prefill only: text the model was given, not its words",
            "quote what the model wrote after it",
        )
    return Span(start=at, end=at + len(quote))


def quote_evidence(
    text: str, quote: str, *, what: str = "the quoted text", given: int = 0
) -> tuple[Span, str | None]:
    """`quote_span`, and a note when the quote occurs again after it (the first is recorded;
    curly and straight quotes are one here too): the lab recorded the first unsaid."""
    span = quote_span(text, quote, what=what, given=given)
    # Every place it could be (overlapping: "ha ha" twice in "ha ha ha") past the prefill.
    plain, q = text.translate(_QUOTES), quote.translate(_QUOTES)
    times = sum(
        plain.startswith(q, i) and i + len(q) > given for i in range(span.start, len(plain))
    )
    if times < 2:
        return span, None
    return span, (
        f"{what} {quote!r} occurs {times} times in the answer; the first "
        f"({span.start}:{span.end}) is recorded: quote more words to choose another"
    )


def default_annotator() -> str:
    """Who annotates when nobody says: `PSMLAB_ANNOTATOR`, else `annotator` in the config file,
    else "anonymous". Never the login name: on a shared box or in a container ("root") it names
    an account, not the person reading."""
    env = os.environ.get("PSMLAB_ANNOTATOR", "").strip()
    if env:
        return env
    from psmlab.core.errors import ConfigError
    from psmlab.core.models.config import load_config

    try:
        name = (load_config().annotator or "").strip()
    except ConfigError:  # a broken config is reported where models are read, not here
        name = ""
    return name or "anonymous"


def added_note(added: dict[str, float] | dict[int, float]) -> str:
    """How much of a steered answer's value at each layer is the control vector itself:
    "the vector itself adds L12 +42.21" (empty when none was added at a layer read)."""
    if not added:
        return ""
    return (
        "the vector itself adds "
        + ", ".join(f"L{L} {v:+.2f}" for L, v in added.items())
        # Only the same layer's addition: steering at an earlier layer also moves this one
        # through the layers between (a trial measured +15 at L12 from L6 alone).
        + " at the layer read (what steering at earlier layers carries into it is not counted)"
    )


def reference_note(vector: dict[str, Any], layers: Sequence[str | int] | None = None) -> str:
    """The held-out answer means a projection on this vector is read against, as its build
    measured them: "held out: L6 default -27.48, induced -20.18" (with each side's sd, "± 3.10",
    where the file records it; empty when it records none). A value alone carries its layer's offset: -28 read as "anti-HAL" when the default
    answers sit at -27."""
    ref = vector.get("reference")
    if not isinstance(ref, dict):
        return ""
    keys = [str(L) for L in layers] if layers is not None else list(ref)
    given = vector.get("spread")
    spread: dict[str, Any] = given if isinstance(given, dict) else {}
    parts = []
    for L in keys:
        sides = ref.get(L)
        sds: dict[str, Any] = s if isinstance(s := spread.get(L), dict) else {}
        said = (
            [
                f"{k} {v:+.2f}" + (f" ± {sds[k]:.2f}" if _num(sds.get(k)) else "")
                for k, v in sides.items()
                if _num(v)
            ]
            if isinstance(sides, dict)
            else []
        )
        if said:  # a hand-edited record with no number in it says nothing, not "L6 "
            parts.append(f"L{L} " + ", ".join(said))
    out = "held out: " + "; ".join(parts) if parts else ""
    failed = failed_layers(vector, keys)
    if failed:
        out += ("; " if out else "") + "; ".join(
            f"L{L} failed its held-out test: {why}" for L, why in failed.items()
        )
    return out


def failed_layers(vector: dict[str, Any], layers: Sequence[str | int]) -> dict[str, str]:
    """Of `layers`, those whose held-out test the vector's file records as failed, and how
    (a projection there does not measure what the file is named for)."""
    failed = vector.get("failed")
    if not isinstance(failed, dict):
        return {}
    return {str(L): str(failed[str(L)]) for L in layers if str(L) in failed}


def _num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
