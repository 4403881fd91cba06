"""Markdown-safe text: model output in a table cell, a sentence, a code span or a fenced block
can never break the document or reach a terminal as control codes."""

from __future__ import annotations

import re

from psmlab.core.domain.textsafe import terminal_safe

# Markdown's own characters, and "#" anywhere (inline text can start a line: "- {model id}" or a
# warning's "- {text}" took "# X" as a heading inside the list item).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")
# What makes a line a block when it starts it and a space follows: a list item ("- ", "+ ",
# "1. ", "1) "), a setext underline ("="); a quote's ">" is already "&gt;".
_LINE_START = re.compile(r"^(\s*)(\d{0,9})([-+=.)])")


def md_inline(text: str | None, *, empty: str = "—") -> str:
    """Text for a table cell or a sentence: one line, markdown and HTML made literal."""
    if text is None or text == "":
        return empty
    s = terminal_safe(text).replace("\r", " ").replace("\n", " ⏎ ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    # Leading blanks kept as one space (callers join on it): four at a line's start made an
    # indented code block (showing the escapes below).
    s = (" " if s[:1] in (" ", "\t") else "") + s.lstrip(" \t")
    # The marker's punctuation escaped ("1\\." is text; "\\1." is not an escape).
    return _LINE_START.sub(_escape_start, s)


def _escape_start(m: re.Match[str]) -> str:
    lead, digits, mark = m.groups()
    if mark in ".)" and not digits:  # "." or ")" alone starts nothing
        return m.group(0)
    if mark in "-+=" and digits:  # "12-" starts nothing either
        return m.group(0)
    rest = m.string[m.end() :]
    if digits and rest[:1] not in ("", " ", "\t"):  # "0.3.36" is no ordered item
        return m.group(0)
    # "-", "+", "=" escaped whatever follows ("- --" was a rule, not a list item's text).
    return f"{lead}{digits}\\{mark}"


def md_heading(text: str | None) -> str:
    """md_inline for a heading: a closing run of "#" would be read as the heading's optional
    closing sequence and dropped ("Test #" showed as "Test")."""
    return md_inline(text.rstrip() if text else text)


def md_plain(md: str) -> str:
    """md_inline's text read back (escapes and entities undone), to quote a report's title in a
    terminal message; a line break md_inline wrote as " ⏎ " stays that mark."""
    s = re.sub(r"\\([\\`*_\[\]|~#\-+=.)])", r"\1", md)
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
