"""The one place that knows where psmlab keeps its config, cache and sessions."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "psmlab"


def config_file() -> Path:
    """The user config TOML; `PSMLAB_CONFIG` points it elsewhere (tests use a temp file)."""
    env = os.environ.get("PSMLAB_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def cache_dir() -> Path:
    """Cache for model sha256 digests and similar; `PSMLAB_CACHE_DIR` overrides it."""
    env = os.environ.get("PSMLAB_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(APP))


def user_frames_dir() -> Path:
    """Extra base-model frames a user adds (`*.toml`), next to the config file."""
    return config_file().parent / "frames"
