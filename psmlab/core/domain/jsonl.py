"""One JSONL reader for label files: each non-empty line one object, every failure one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psmlab.core.errors import UsageError


def read_objects(path: Path, what: str = "file") -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-empty line; a missing or unreadable file or a line
    that is not JSON is a one-line UsageError naming the file and line. Callers check the shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}", "give a UTF-8 JSONL file") from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path} line {i} is not JSON ({exc.msg})", "one object per line"
            ) from None
