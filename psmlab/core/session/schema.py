"""The session schema: transcript with adoptions, models with provenance, generations, annotations.

A generation is immutable once recorded; annotations point at it by id and never edit it.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from psmlab.core.domain.transcript import Transcript, Turn
from psmlab.core.domain.types import (
    AutoLabel,
    Continuation,
    Generation,
    MarkerHit,
    TokenLogprob,
)
from psmlab.core.errors import SessionError, UsageError

SCHEMA_VERSION = 1


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnRecord(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str
    adopted_from: str | None = Field(None, description="Generation id whose text became this turn.")
    adopted_model: str | None = None
    # How the answer was chosen: "key" (adopt pressed in a column), "picker" (chosen when sending),
    # "cli" (psmlab adopt); None in sessions from before it was recorded.
    adopted_how: str | None = None


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
    n_ctx: int
    n_threads: int
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
    """A `Generation` as the session keeps it: the same fields, plus which turn it answered, the
    system prompt, the prompt's digest and the history it saw. Mutable only for `history`."""

    turn: int = Field(ge=0, description="How many transcript turns the prompt held.")
    system: str | None = None
    prompt_sha256: str | None = None
    created: str = Field(default_factory=now)
    history: list[TurnRecord] | None = Field(
        None, description="The turns this generation saw, kept when the transcript is edited later."
    )
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


class AutoLabelRecord(AutoLabel):
    """An `AutoLabel` as the session keeps it, pointing at its generation."""

    model_config = ConfigDict(frozen=False)
    generation_id: str
    labels: list[str]  # type: ignore[assignment]
    hits: list[MarkerHit] = Field(default_factory=list)  # type: ignore[assignment]


class Session(_Strict):
    schema_version: Literal[1] = 1
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    title: str = "untitled"
    created: str = Field(default_factory=now)
    updated: str = Field(default_factory=now)
    turns: list[TurnRecord] = Field(default_factory=list)
    models: list[ModelRecord] = Field(default_factory=list)
    generations: list[GenerationRecord] = Field(default_factory=list)
    annotations: list[Annotation] = Field(default_factory=list)
    auto_labels: list[AutoLabelRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Session:
        ids = [g.id for g in self.generations]
        if len(set(ids)) != len(ids):
            raise ValueError("two generations share an id")
        known = set(ids)
        for a in self.annotations:
            if a.generation_id not in known:
                raise ValueError(
                    f"annotation {a.id} points at unknown generation {a.generation_id}"
                )
        return self

    # --- reading ------------------------------------------------------------------------------

    def transcript(self, upto: int | None = None) -> Transcript:
        turns = self.turns if upto is None else self.turns[:upto]
        return Transcript(tuple(Turn(t.role, t.content) for t in turns))

    def history_of(self, g: GenerationRecord) -> Transcript:
        """The transcript a generation continued (its own snapshot if the turns were edited since)."""
        turns = g.history if g.history is not None else self.turns[: g.turn]
        return Transcript(tuple(Turn(t.role, t.content) for t in turns))

    def edit_turn(self, index: int, content: str | None) -> None:
        """Change (or, with None, delete) a turn; generations that saw the old text keep a snapshot."""
        if not 0 <= index < len(self.turns):
            raise SessionError(
                f"there is no turn {index + 1}", f"turns run from 1 to {len(self.turns)}"
            )
        for g in self.generations:
            if g.turn > index and g.history is None:
                g.history = [t.model_copy() for t in self.turns[: g.turn]]
        if content is None:
            del self.turns[index]
        else:
            self.turns[index] = TurnRecord(role=self.turns[index].role, content=content)
        self.touch()

    def generation(self, gen_id: str) -> GenerationRecord:
        for g in self.generations:
            if g.id == gen_id:
                return g
        # Allow an unambiguous prefix, as with git commit ids.
        hits = [g for g in self.generations if g.id.startswith(gen_id)]
        if len(hits) == 1:
            return hits[0]
        raise SessionError(
            f"no generation '{gen_id}' in session '{self.title}'"
            + (" (the prefix is ambiguous)" if hits else ""),
            "list ids with psmlab export SESSION --format jsonl",
        )

    def model(self, model_id: str) -> ModelRecord | None:
        return next((m for m in self.models if m.id == model_id), None)

    def annotations_for(self, gen_id: str) -> list[Annotation]:
        return [a for a in self.annotations if a.generation_id == gen_id]

    def auto_label(self, gen_id: str) -> AutoLabelRecord | None:
        return next((x for x in self.auto_labels if x.generation_id == gen_id), None)

    # --- changing (each returns nothing and bumps `updated`) ---------------------------------

    def touch(self) -> None:
        self.updated = now()

    def upsert_model(self, record: ModelRecord) -> None:
        """Add a model, or replace its record where it stands (column order is kept)."""
        for i, m in enumerate(self.models):
            if m.id == record.id:
                self.models[i] = record
                return
        self.models.append(record)

    def add_generation(
        self,
        g: Generation,
        *,
        turn: int,
        system: str | None,
        prompt_tokens: list[int] | tuple[int, ...] | None,
    ) -> GenerationRecord:
        rec = GenerationRecord(
            **g.model_dump(exclude={"kind", "error", "token_logprobs"}),
            token_logprobs=list(g.token_logprobs) or None,
            turn=turn,
            system=system,
            prompt_sha256=tokens_sha256(prompt_tokens) if prompt_tokens else None,
        )
        self.generations.append(rec)
        self.touch()
        return rec

    def annotate(self, annotation: Annotation) -> Annotation:
        g = self.generation(annotation.generation_id)
        annotation = annotation.model_copy(update={"generation_id": g.id})
        if annotation.evidence and annotation.evidence.end > len(g.full_text):
            raise SessionError(
                f"evidence span {annotation.evidence.start}-{annotation.evidence.end} is past the end "
                f"of generation {g.id} ({len(g.full_text)} characters)",
                "give a range inside the text",
            )
        self.annotations.append(annotation)
        self.touch()
        return annotation

    def adopt(self, gen_id: str, how: str | None = None) -> TurnRecord:
        """Make one model's continuation the shared assistant turn; the conversation goes on from it.
        `how` records how it was chosen ("key", "picker", "cli")."""
        g = self.generation(gen_id)
        history = self.turns[: g.turn]
        if g.turn != len(self.turns):
            raise SessionError(
                f"generation {g.id} answers turn {g.turn}, but the conversation is at turn "
                f"{len(self.turns)}",
                "adopt a continuation of the latest turn",
            )
        # Neutral turns hold no edge whitespace: a frame writes "Assistant: " + content, and the
        # model's " I am" (its space belonged after "Assistant:") would otherwise become a double space.
        turn = TurnRecord(
            role="assistant",
            content=g.full_text.strip(),
            adopted_from=g.id,
            adopted_model=g.model,
            adopted_how=how,
        )
        if history and history[-1].role == "assistant":
            # The model continued a partial assistant turn: the adopted text replaces it.
            self.turns[-1] = turn
        else:
            self.turns.append(turn)
        self.touch()
        return turn


def tokens_sha256(tokens: list[int] | tuple[int, ...]) -> str:
    return hashlib.sha256(",".join(map(str, tokens)).encode()).hexdigest()


def quote_span(text: str, quote: str, *, what: str = "the quoted text") -> Span:
    """Evidence given as a quote: the span of its first occurrence in the generation's text."""
    at = text.find(quote) if quote else -1
    if at < 0:
        raise UsageError(f"{what} is not in the generation", "copy it exactly")
    return Span(start=at, end=at + len(quote))


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
