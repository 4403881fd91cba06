"""Model output is untrusted: make it inert before it reaches a terminal."""

from __future__ import annotations

import re

# C0/C1 control characters except newline and tab, plus DEL: ESC starts terminal escape sequences.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Replace control characters with visible escapes (`\\x1b`), keeping newlines and tabs."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
