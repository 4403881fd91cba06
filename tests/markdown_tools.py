"""Test helper: the lines of a markdown document that are outside fenced code blocks."""

from __future__ import annotations

import re


def outside_fences(md: str) -> list[str]:
    out, fence = [], None
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            out.append(line)
    return out
