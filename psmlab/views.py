"""Rich renderables shared by the CLI and the TUI. Untrusted text is never parsed as markup."""

from __future__ import annotations

import difflib
from typing import Any

from rich.console import Group
from rich.text import Text

from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.textsafe import terminal_safe

PIECE_STYLES = {
    "bos": "bold magenta",
    "special": "bold magenta",
    "format": "cyan",
    "content": "",
    "prefill": "italic green",
}


def safe(text: str, style: str = "") -> Text:
    """Untrusted text as a Text object: no markup parsing, control characters made visible."""
    return Text(terminal_safe(text), style=style)


def prompt_text(p: RenderedPrompt) -> Text:
    """The prompt with its pieces styled: control tokens, format text, messages, prefill."""
    body = Text()
    for piece in p.pieces:
        body.append_text(safe(piece.text, PIECE_STYLES.get(piece.kind, "")))
    return body


def prompt_view(p: RenderedPrompt, *, show_tokens: bool = False, name: str | None = None) -> Group:
    head = Text()
    # A model id can come from a file name: control characters made visible, as everywhere.
    head.append_text(safe(name or p.model_id, "bold"))
    head.append_text(
        safe(f"  format {p.format} ({p.format_kind})  {p.tokens_label}  n_ctx {p.n_ctx}")
    )
    parts: list[Any] = [
        head,
        Text("─" * 40, style="dim"),
        prompt_text(p),
        Text("─" * 40, style="dim"),
    ]
    if p.stop:
        # Where a turn ends: the next speaker's line (how a turn ended is never a persona label).
        stops = ", ".join(repr(s) for s in p.stop)
        parts.append(safe(f"stops at the next speaker's turn: {stops}", "dim"))
    for w in p.warnings:
        parts.append(safe(f"warning: {w}", "yellow"))
    if show_tokens:
        parts.append(safe("tokens: " + " ".join(str(t) for t in p.tokens), "dim"))
    return Group(*parts)


def prompt_diff(a: RenderedPrompt, b: RenderedPrompt, name_a: str, name_b: str) -> Text:
    """A line diff of two models' exact prompts (- only in the first, + only in the second)."""
    out = Text()
    out.append(f"--- {name_a}\n+++ {name_b}\n", style="bold")
    lines_a = a.text.splitlines(keepends=True)
    lines_b = b.text.splitlines(keepends=True)
    for line in difflib.ndiff(lines_a, lines_b):
        tag, body = line[:2], line[2:]
        if tag == "? ":
            continue
        style = {"- ": "red", "+ ": "green"}.get(tag, "dim")
        out.append_text(safe(tag + body if body.endswith("\n") else tag + body + "\n", style))
    return out
