"""The one place that knows every directory psmlab reads or writes, and where its shipped data lives.

Shipped data (frames, templates, probe sets, persona archetypes) is package data under
`psmlab/resources/`, found with `importlib.resources`, so an installed wheel has it as well as a
checkout. The user's directories add to it and override it by name.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

from psmlab.core.errors import PsmlabError

APP = "psmlab"
RESOURCE_KINDS = ("frames", "templates", "probes", "personas", "experiments")


def config_file() -> Path:
    """The user config TOML; `PSMLAB_CONFIG` points it elsewhere (tests use a temp file)."""
    env = os.environ.get("PSMLAB_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def config_dir() -> Path:
    """The directory of the config file: the user's frames, probes and personas live beside it."""
    return config_file().parent


def cache_dir() -> Path:
    """Cache for model sha256 digests and similar; `PSMLAB_CACHE_DIR` overrides it."""
    env = os.environ.get("PSMLAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP))


def sessions_dir() -> Path:
    """Where sessions are saved and bare names are looked up: `PSMLAB_SESSIONS_DIR`, else `./sessions`."""
    env = os.environ.get("PSMLAB_SESSIONS_DIR")
    return Path(env).expanduser() if env else Path.cwd() / "sessions"


def user_frames_dir() -> Path:
    """Extra base-model frames a user adds (`*.toml`), next to the config file."""
    return config_dir() / "frames"


def user_probes_dir() -> Path:
    """Extra probe sets a user adds (`*.toml`), next to the config file."""
    return config_dir() / "probes"


def user_personas_dirs() -> list[Path]:
    """The user's persona archetypes: next to the config file, then `PSMLAB_PERSONAS_DIR`."""
    dirs = [config_dir() / "personas"]
    env = os.environ.get("PSMLAB_PERSONAS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    return dirs


def shipped(kind: str) -> Path:
    """The shipped data directory of one kind; a missing or empty one is an install error, never
    an empty list (a wheel without its data would otherwise label everything `unclear`)."""
    if kind not in RESOURCE_KINDS:
        raise ValueError(f"unknown resource kind {kind!r}")
    root = resources.files("psmlab.resources").joinpath(kind)
    # Wheels and checkouts install as plain directories; zipped installs are not supported.
    path = Path(str(root))
    if not path.is_dir() or not any(path.iterdir()):
        raise PsmlabError(
            f"psmlab's shipped {kind} are missing ({path})",
            "reinstall psmlab: the package data did not install",
        )
    return path


def shipped_files(kind: str, suffix: str) -> dict[str, Path]:
    """Shipped files of one kind by name (file name without `suffix`), sorted."""
    return {p.name.removesuffix(suffix): p for p in sorted(shipped(kind).glob(f"*{suffix}"))}


def user_files(directory: Path, suffix: str) -> dict[str, Path]:
    """A user's files by name; a user directory that does not exist simply adds nothing."""
    if not directory.is_dir():
        return {}
    return {p.name.removesuffix(suffix): p for p in sorted(directory.glob(f"*{suffix}"))}
