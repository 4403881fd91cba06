"""Persona archetypes: `personas/*.toml` files with a description, marker phrases and identity statements."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from psmlab.core import paths
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


@dataclass(frozen=True)
class Persona:
    id: str
    name: str
    description: str
    markers: tuple[str, ...]
    identity: tuple[str, ...]
    path: str


def persona_dirs() -> list[Path]:
    """Shipped archetypes first, then the user's own (`PSMLAB_PERSONAS_DIR` adds one more)."""
    dirs = [
        Path(__file__).resolve().parents[2] / "personas",
        paths.config_file().parent / "personas",
    ]
    env = os.environ.get("PSMLAB_PERSONAS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    return [d for d in dirs if d.is_dir()]


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return None


def load_persona(path: Path) -> Persona:
    """Parse one file; errors name the file and, where known, the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PersonaError(f"persona file {path} is not UTF-8", "save it as UTF-8") from None
    except OSError as exc:
        raise PersonaError(f"cannot read persona file {path}: {exc.strerror}", "check it") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PersonaError(f"persona file {path}: {exc}", "fix the TOML syntax") from None
    try:
        spec = _PersonaFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else ""
        line = _line_of(text, key)
        where = f"line {line}, " if line else ""
        raise PersonaError(
            f"persona file {path}: {where}'{key}': {err['msg']}",
            "see personas/helpful-assistant.toml for the fields (id, name, description, markers, identity)",
        ) from None
    return Persona(
        id=spec.id,
        name=spec.name,
        description=" ".join(spec.description.split()),
        markers=tuple(spec.markers),
        identity=tuple(spec.identity),
        path=str(path),
    )


def load_personas(dirs: list[Path] | None = None) -> tuple[list[Persona], list[PersonaError]]:
    """All archetypes; a broken file is reported and skipped, the others still load."""
    found: dict[str, Persona] = {}
    errors: list[PersonaError] = []
    for d in dirs if dirs is not None else persona_dirs():
        for path in sorted(d.glob("*.toml")):
            try:
                p = load_persona(path)
            except PersonaError as exc:
                errors.append(exc)
                continue
            found[p.id] = p  # a user's file with a shipped id replaces the shipped one
    return list(found.values()), errors
