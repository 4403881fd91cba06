"""Probe sets: `resources/probes/*.toml` (and the user's), their items and the answers each class is scored on."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from psmlab.core import paths
from psmlab.core.domain.personas import Persona, load_personas
from psmlab.core.domain.tomlfile import read_toml
from psmlab.core.errors import UsageError

AXES = ("archetype", "self_id")
NULL_QUESTION = "N/A"  # the content-free question of the calibration (as in Zhao et al. 2021)


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    question: str
    prefill: str | None = None
    statements: dict[str, list[str]] | None = Field(
        None,
        description="Answers per class (archetype or self-id class); default: each persona's "
        "identity statements.",
    )
    openings: list[str] = Field(
        default_factory=list,
        description='Openings that fit the question ("Honestly, "), each put before every '
        'persona identity statement to make paraphrases; "" keeps the statement as written.',
    )

    @field_validator("id")
    @classmethod
    def _no_bar(cls, v: str) -> str:
        # '|' parts an experiment's unit key ("probe2|model|format|context|SET/ITEM"): an item
        # "ai|human" was read back as another set's item, and a stopped run's report miscounted.
        if "|" in v or not v.strip():
            raise ValueError(f"an item id is a name without '|' (it is {v!r})")
        return v


class _Set(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    mode: str = Field("score", pattern="^(score|sample)$")
    axis: str = Field("archetype", pattern="^(archetype|self_id)$")
    null_question: str = NULL_QUESTION
    items: list[_Item] = Field(min_length=1)


@dataclass(frozen=True)
class ProbeItem:
    id: str
    question: str
    prefill: str | None = None
    statements: dict[str, list[str]] | None = None
    openings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeSet:
    name: str
    description: str
    mode: str
    items: tuple[ProbeItem, ...]
    axis: str = "archetype"
    null_question: str = NULL_QUESTION


def _set_files() -> dict[str, Path]:
    """Shipped probe sets, then the user's (a user's set with a shipped name replaces it)."""
    return {
        **paths.shipped_files("probes", ".toml"),
        **paths.user_files(paths.user_probes_dir(), ".toml"),
    }


def probe_set_names() -> list[str]:
    return sorted(_set_files())


def load_probe_set(name: str) -> ProbeSet:
    files = _set_files()
    if name not in files:
        raise UsageError(
            f"unknown probe set '{name}'", f"choose one of: {', '.join(sorted(files))}"
        )
    path = files[name]
    spec = read_toml(path, _Set, UsageError, what="probe set", fix="fix the probe file")
    items = tuple(
        ProbeItem(i.id, i.question, i.prefill, i.statements, tuple(i.openings)) for i in spec.items
    )
    if spec.axis == "self_id":
        bare = [i.id for i in items if not i.statements]
        if bare:
            raise UsageError(
                f"{path}: self_id probe item(s) {', '.join(bare)} have no answers",
                "give each item [items.statements] with ai = [...] and human = [...]",
            )
    return ProbeSet(name, spec.description, spec.mode, items, spec.axis, spec.null_question)


def check_archetypes(pset: ProbeSet) -> None:
    """Before a set's answers are scored: an answer class that names no persona would be
    dropped from the distribution, which then looks complete over the classes left. Refused,
    naming the nearest persona (a set read for its questions alone is not checked)."""
    if pset.axis != "archetype":
        return
    path = _set_files().get(pset.name, pset.name)
    known = sorted(p.id for p in load_personas()[0])
    for it in pset.items:
        for k in it.statements or {}:
            if k not in known:
                near = difflib.get_close_matches(k, known, n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                raise UsageError(
                    f"{path}: probe item {it.id} scores answers for '{k}', which is no persona",
                    f"{hint}name a persona ({', '.join(known)}), or add one in personas/",
                )


def statements_for(
    item: ProbeItem, personas: list[Persona], axis: str = "archetype"
) -> dict[str, list[str]]:
    """The answers scored for each class: the item's own (archetype ids must be known personas;
    self-id classes are taken as given), else each persona's identity statements, each put
    after every opening of the item."""
    if item.statements is not None:
        known = {p.id for p in personas}
        return {
            k: list(v)
            for k, v in item.statements.items()
            if v and (axis != "archetype" or k in known)
        }
    openings = item.openings or ("",)
    return {
        p.id: list(dict.fromkeys(opened(o, s) for s in p.identity for o in openings))
        for p in personas
        if p.identity
    }


def opened(opening: str, statement: str) -> str:
    """`statement` after `opening` ("Honestly, " + "My name is X." -> "Honestly, my name is X.");
    "I" and names keep their capital: only a capitalised common first word is lowered."""
    if not opening or _SPEAKER.match(statement):  # "User: ..." writes the next turn: as is
        return statement
    first = statement.split(" ", 1)[0]
    keep = first in ("I", "I'm", "I’m", "I've", "I'd", "I'll") or not first[:1].isupper()
    if not keep and first[1:].islower() and first.rstrip(".,!?") not in _PROPER:
        statement = statement[:1].lower() + statement[1:]
    return opening + statement


_PROPER = {"HAL", "Skynet"}
_SPEAKER = re.compile(r"^\w[\w ]{0,20}:")
