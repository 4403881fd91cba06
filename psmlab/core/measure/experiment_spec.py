"""An experiment file's schema (TOML): models x formats x contexts x questions x probes x evals x
seeds, with the measurement defaults (T=1, no truncation) and the lab's own limits."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)

from psmlab.core.domain.limits import MAX_SAMPLES
from psmlab.core.domain.tomlfile import read_toml
from psmlab.core.domain.types import MAX_SEED, SamplingParams
from psmlab.core.errors import UsageError


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    text: str
    prefill: str | None = None

    @field_validator("text")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():  # a unit that can never run: refused when the file is read
            raise ValueError("a question's text is empty; write the question")
        return v


class Context(BaseModel):
    """A named condition: a system prompt (for base-model frames, the document's header) and
    optionally steering, `FILE[:LAYERS][@ALPHA]` for every model or a table model id -> that
    (a control vector belongs to one model; models the table leaves out skip the context)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    system: str | None = None
    steer: str | dict[str, str] | None = None


class ExperimentSpec(BaseModel):
    # Strict numbers and booleans: a quoted "3" was read as 3 samples and "yes" as true.
    model_config = ConfigDict(extra="forbid")
    title: str
    models: list[str] = Field(
        default_factory=list,
        description="Ids or .gguf paths (a relative path is found next to the file first, then "
        "in the current directory); empty: the demo pair.",
    )
    formats: list[str] = Field(
        default_factory=lambda: ["default"], description="'default' = each model's own."
    )
    contexts: list[Context] = Field(default_factory=lambda: [Context(name="none")])
    questions: list[Question] = Field(default_factory=list)
    question_sets: list[str] = Field(
        default_factory=list, description="Probe sets used as open questions."
    )
    samples: StrictInt = Field(8, ge=1, le=MAX_SAMPLES)
    # The limits of --seed in ask (llama.cpp reads 0xFFFFFFFF as "random").
    seeds: list[Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]] = Field(
        default_factory=lambda: [1], min_length=1
    )
    # Measurement defaults: the model's own distribution (T=1, no truncation), the one forced
    # choice scores; a file that wants the lab's truncated sampling says so.
    temperature: StrictFloat = Field(1.0, ge=0)
    top_p: StrictFloat = Field(1.0, gt=0.0, le=1.0)
    top_k: StrictInt = Field(0, ge=0)
    min_p: StrictFloat = Field(0.0, ge=0.0, le=1.0)
    repeat_penalty: StrictFloat = Field(1.0, gt=0.0, le=5.0)
    max_tokens: StrictInt = Field(64, ge=1)
    probes: list[str] = Field(default_factory=list)

    @field_validator("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")
    @classmethod
    def _as_the_lab_samples(cls, v: Any, info: Any) -> Any:
        """The lab's own limits (SamplingParams'): a value it cannot sample with is refused when
        the file is read, not in the middle of a run (temperature = 7 failed after it started)."""
        try:
            SamplingParams.model_validate({info.field_name: v})
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"])) from None
        return v

    evals: list[str] = Field(default_factory=list, description="JSONL paths, relative to the file.")
    eval_limit: StrictInt | None = Field(None, ge=1)
    swap: StrictBool = Field(
        True,
        description="Also score (A)/(B) eval items with their choices swapped (counterbalanced); "
        "false: only as written, as Perez et al. did (like psmlab evals --no-swap).",
    )
    normalize: StrictBool = False
    choice: StrictBool = Field(
        False,
        description="Also ask each probe item as multiple choice (rotated options, by letter).",
    )
    opening: StrictBool = Field(
        False,
        description="Also score each self-identification probe item by the opening design (the "
        'model\'s own continuations of "I\'m" / "I am", read by the marker rules); local models '
        "only: a server model gets no walk.",
    )
    labeller: str = Field(
        "markers",
        description="Who gives the samples' self-id labels: markers (the phrase rules) or "
        "judge:MODEL (a registry id or .gguf path); archetypes are always the rules'.",
    )

    @field_validator(
        "questions", "contexts", "models", "formats", "probes", "question_sets", "evals", "seeds"
    )
    @classmethod
    def _distinct(cls, v: list[Any], info: Any) -> list[Any]:
        """An entry given twice made two units with one key: the error named a unit key
        ("sample|m|f|c|q|1"), not the entry; said here, when the file is read."""
        what, names = {
            "questions": ("question id", lambda: [q.id for q in v]),
            "contexts": ("context name", lambda: [c.name for c in v]),
        }.get(info.field_name, (info.field_name.rstrip("s").replace("_", " "), lambda: v))
        seen: set[Any] = set()
        for x in names():
            if info.field_name in ("evals", "models") and not str(x).startswith("http"):
                x = os.path.normpath(x)  # "./a.jsonl" is "a.jsonl": scored twice
            if x in seen:
                raise ValueError(f"{what} {x!r} is given twice (each runs once)")
            seen.add(x)
        return v


def load_experiment(path: Path) -> ExperimentSpec:
    return read_toml(
        path,
        ExperimentSpec,
        UsageError,
        what="experiment file",
        fix="fix the experiment file (psmlab experiment --example prints one with every key)",
    )


def example_experiment() -> str:
    """The shipped example experiment file's text (every key, commented): a wheel install has
    no checkout's experiments/ to copy from."""
    from psmlab.core.paths import shipped

    return (shipped("experiments") / "example.toml").read_text(encoding="utf-8")
