"""sha256 of model files, computed once and cached by (path, size, mtime)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
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


def file_sha256(path: str | Path) -> str:
    """Return the hex sha256 of a file, from the cache when path, size and mtime still match."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = str(p)
    with _lock:
        entry = _load().get(key)
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return str(entry["sha256"])
    h = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _lock:
        data = _load()
        data[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
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
        st = p.stat()
    except OSError:
        return None
    entry = _load().get(str(p))
    if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return str(entry["sha256"])
    return None
