"""Which psmlab code made a result: the version number stays 0.1.0 across commits and local edits."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import psmlab

# Files of the package that shape results: the code, and the formats, personas, probe sets and
# eval files it ships. The measured agreement numbers (labellers.json) change no result.
_SUFFIXES = (".py", ".toml", ".jinja", ".jsonl", ".json", ".tcss")
_LEFT_OUT = {"resources/labellers.json"}


@lru_cache(maxsize=4)
def code_fingerprint(root: Path | None = None) -> str:
    """12 hex digits of the package's files (the same for a checkout and a wheel of one commit;
    another for any edit): recorded beside the version, so two results of "0.1.0" made by
    other code are told apart."""
    base = root or Path(psmlab.__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if path.suffix not in _SUFFIXES or "__pycache__" in rel or rel in _LEFT_OUT:
            continue
        if not path.is_file():
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]
