"""Markdown-safe text: model output in a table cell, a sentence, a code span or a fenced block
can never break the document or reach a terminal as control codes."""

from __future__ import annotations

import re

from psmlab.core.domain.textsafe import terminal_safe

# Inline text never starts a line, so list and heading markers (- + . #) are harmless mid-line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_inline(text: str | None, *, empty: str = "—") -> str:
    """Text for a table cell or a sentence: one line, markdown and HTML made literal."""
    if text is None or text == "":
        return empty
    s = terminal_safe(text).replace("\r", " ").replace("\n", " ⏎ ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_heading(text: str | None) -> str:
    """md_inline for a heading: a closing run of "#" would be read as the heading's optional
    closing sequence and dropped ("Test #" showed as "Test")."""
    s = md_inline(text)
    return s[:-1] + "\\#" if s.endswith("#") else s


def md_plain(md: str) -> str:
    """md_inline's text read back (escapes and entities undone), to quote a report's title in a
    terminal message; a line break md_inline wrote as " ⏎ " stays that mark."""
    s = re.sub(r"\\([\\`*_\[\]|~#])", r"\1", md)
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def md_block(text: str, info: str = "text") -> str:
    """Text as a fenced code block whose fence is longer than any backtick run inside it."""
    body = terminal_safe(text)
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def md_code(text: str) -> str:
    """Inline code span that survives backticks in the text."""
    body = terminal_safe(text).replace("\n", "\\n")
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{tick}{pad}{body}{pad}{tick}"
