"""Persona archetypes: `personas/*.toml` files with a description, marker phrases and identity statements."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from psmlab.core import paths
from psmlab.core.domain.tomlfile import read_toml
from psmlab.core.errors import PersonaError

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _PersonaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_ID.pattern)
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    markers: list[str] = Field(
        default_factory=list, description="Phrases that indicate the persona."
    )
    identity: list[str] = Field(min_length=1, description="First-person identity statements.")
    induce: str | None = Field(
        None, min_length=1, description="A prompt that induces the persona (for persona vectors)."
    )
    self_id: list[Literal["ai", "human", "mixed", "none"]] | None = Field(
        None,
        min_length=1,
        description="The self-identification labels the archetype can go with: its markers "
        "count only in a text whose self-id label is one of these (default: any).",
    )


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    description: str
    markers: tuple[str, ...]
    identity: tuple[str, ...]
    path: str
    induce: str | None = None
    self_id: tuple[str, ...] | None = None  # None: the markers count whatever the text claims


def persona_dirs() -> list[Path]:
    """Shipped archetypes first (an error if they are missing), then the user's own."""
    return [paths.shipped("personas"), *paths.user_personas_dirs()]


def load_persona(path: Path) -> Persona:
    """Parse one file; errors name the file and, where known, the line."""
    spec = read_toml(
        path,
        _PersonaFile,
        PersonaError,
        what="persona file",
        fix="see personas/helpful-assistant.toml for the fields "
        "(id, name, description, markers, identity)",
    )
    return Persona(
        id=spec.id,
        name=spec.name,
        description=" ".join(spec.description.split()),
        markers=tuple(spec.markers),
        identity=tuple(spec.identity),
        path=str(path),
        induce=" ".join(spec.induce.split()) if spec.induce else None,
        self_id=tuple(spec.self_id) if spec.self_id else None,
    )


# Who hears of a broken persona file, once per file and process (the CLI sets it: a warning
# line). Most callers keep only the personas, so `label`, `ask` and `annotate` said nothing and
# labelled without the file's persona.
on_broken: Callable[[PersonaError], None] | None = None
_told: set[str] = set()


def load_personas(dirs: list[Path] | None = None) -> tuple[list[Persona], list[PersonaError]]:
    """All archetypes; a broken file is reported (to `on_broken`) and skipped, the others
    still load."""
    found: dict[str, Persona] = {}
    errors: list[PersonaError] = []
    for d in dirs if dirs is not None else persona_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else ():
            try:
                p = load_persona(path)
            except PersonaError as exc:
                errors.append(exc)
                if on_broken is not None and str(path) not in _told:
                    _told.add(str(path))
                    on_broken(exc)
                continue
            found[p.id] = p  # a user's file with a shipped id replaces the shipped one
    return list(found.values()), errors


def personas_fingerprint(personas: list[Persona]) -> str:
    """12 hex digits of what archetype labels and forced choice read from the persona files
    (ids, markers, identity statements, induce prompts, self-id gates): results made with
    other persona files are told apart, though the rules' fingerprint is the same."""
    parts = sorted(
        json.dumps([p.id, p.markers, p.identity, p.induce, p.self_id], ensure_ascii=False)
        for p in personas
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


@lru_cache(maxsize=1)
def shipped_fingerprint() -> str:
    """The shipped personas' fingerprint: the set the archetype labels were measured with."""
    return personas_fingerprint(load_personas([paths.shipped("personas")])[0])
