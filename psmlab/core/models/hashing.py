"""sha256 of model files (a split GGUF's parts together), computed once and cached by path and stat."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from pathlib import Path

from psmlab.core import paths

_lock = threading.Lock()


def _cache_file() -> Path:
    return paths.cache_dir() / "sha256.json"


def _load() -> dict[str, dict[str, object]]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        # A missing or damaged cache only costs a re-hash.
        return {}


# A model split by gguf-split: llama.cpp loads every part from the first one's path.
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")


def parts(path: Path) -> list[Path]:
    """The files a model path stands for: itself, or for the first part of a split GGUF
    ("x-00001-of-00003.gguf") every part in order (those that exist; llama.cpp refuses a model
    with one missing, with its own words)."""
    m = _SPLIT.match(path.name)
    if m is None or int(m["i"]) != 1 or not path.exists():
        return [path]  # a missing file is said missing by its stat, never hashed as empty
    n = int(m["n"])
    found = [path.with_name(f"{m['stem']}-{i:05d}-of-{n:05d}.gguf") for i in range(1, n + 1)]
    return [x for x in found if x.exists()]


def _signature(files: list[Path]) -> list[list[int]]:
    """What must be unchanged for a cached digest to hold, per file: size, mtime, inode and
    ctime (a file replaced by another of the same size and mtime, `touch -r` then `mv`, kept
    its old digest when only size and mtime were compared)."""
    out = []
    for f in files:
        st = f.stat()
        out.append([st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns])
    return out


def total_size(path: str | Path) -> int:
    """Bytes of a model file, all parts of a split GGUF together."""
    return sum(f.stat().st_size for f in parts(Path(path).expanduser()))


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file (of a split GGUF's parts read one after another), from the
    cache while every part's size, mtime, inode and ctime still match."""
    p = Path(path).expanduser().resolve()
    files = parts(p)
    sig = _signature(files)
    key = str(p)
    with _lock:
        entry = _load().get(key)
        if entry and entry.get("sig") == sig:
            return str(entry["sha256"])
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()
    with _lock:
        data = _load()
        data[key] = {"sig": sig, "sha256": digest}
        target = _cache_file()
        with contextlib.suppress(OSError):  # a read-only cache dir must not break the lab
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, target)
    return digest


def cached_sha256(path: str | Path) -> str | None:
    """The cached digest if it is still valid, without hashing."""
    p = Path(path).expanduser().resolve()
    try:
        sig = _signature(parts(p))
    except OSError:
        return None
    entry = _load().get(str(p))
    if entry and entry.get("sig") == sig:
        return str(entry["sha256"])
    return None
