"""Model output is untrusted: make it inert before it reaches a terminal."""

from __future__ import annotations

import re

# C0/C1 control characters except newline and tab, plus DEL: ESC starts terminal escape sequences.
# Also the bidi embeddings, overrides and isolates: "\u202e.IA na ma I" is shown as "I am an
# AI." while the rules (and an annotator's label) read what the text holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_TYPED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# ESC in caret notation with what follows it in a colour or cursor sequence ("^[31m", "^[[0m").
_CARET_ESCAPE = re.compile(r"\^\[\[?[0-9;]*[A-Za-z]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(text: str) -> str:
    """Replace control characters with visible escapes (`\\x1b`, `\\u202e`), keeping newlines
    and tabs."""
    return _CONTROL.sub(_escape, text)


# For text a person edits in the lab: C0 controls and DEL as their Unicode pictures ("␛"), which
# a terminal draws and never runs (a text area passed ESC through: an OSC retitled the terminal).
_PICTURES = {chr(c): chr(0x2400 + c) for c in range(0x20) if chr(c) not in "\n\t"} | {
    "\x7f": "\u2421"
}


def editable(text: str) -> str:
    """`text` made inert for an input widget: controls as pictures, C1 as visible escapes."""
    return terminal_safe(text.translate({ord(c): p for c, p in _PICTURES.items()}))


def from_editable(edited: str, original: str) -> str:
    """Undo `editable` for the control characters `original` held, so text kept as it was
    shown is the text it was (an edit that changed nothing makes no new branch)."""
    if edited == editable(original):  # untouched: exactly the original, whatever it held
        return original
    held = set(_CONTROL.findall(original))
    back = {_PICTURES.get(c) or terminal_safe(c): c for c in held}
    for shown, raw in back.items():
        edited = edited.replace(shown, raw)
    return edited


def typed_controls(text: str, original: str = "") -> str | None:
    """Why a message a person typed or pasted is not taken as it is (None: it is): it holds a
    control character the `original` did not. A terminal's paste of an escape sequence reaches
    a text area out of order (a trial's "AB\\x1b[31mCD" arrived as "^[31mCDAB" and was kept as
    the user's turn): said, so the person can read what they would send."""
    # C0/C1 controls only: bidi marks come with right-to-left text copied from a page, and
    # are invisible (a notice naming them could not be acted on).
    held = set(_TYPED.findall(original))
    new = next((c for c in _TYPED.findall(text) if c not in held), None)
    if new is None:
        # An escape sequence in caret notation: a pasted ESC reaches the box as "^[" and the
        # paste's line break as Enter before the rest of the paste (seen under tmux, which a
        # trial found passes the paste on intact: the input parser splits it; a trial's
        # "Who are you?\x1b[31m red" sent "^[31m red" as the message).
        caret = next((m for m in _CARET_ESCAPE.findall(text) if m not in original), None)
        if caret is None:
            return None
        return (
            f"the text holds {caret!r}, an escape sequence a terminal wrote out (a pasted one "
            "can arrive garbled and out of order, its line break sending part of it); mend "
            "it, or write it otherwise"
        )
    name = "ESC, shown as ^[" if new == "\x1b" else terminal_safe(new)
    return (
        f"the text holds a control character ({name}): a pasted "
        "escape sequence can arrive garbled and out of order; delete it, or write it as "
        "visible text"
    )


def pasted(text: str) -> tuple[str, str | None]:
    """A paste as the message box takes it: line ends as newlines, any other control character
    as its picture (ESC as ␛), and a notice naming them (None: it held none). Drawn raw, a
    pasted "\x1b[31m" moved the terminal's cursor and the box drew lines over each other,
    where a person could not see what they deleted (a trial's)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    held = sorted(set(_TYPED.findall(text)))
    if not held:
        return text, None
    names = ", ".join("ESC" if c == "\x1b" else terminal_safe(c) for c in held[:3])
    more = f" and {len(held) - 3} more" if len(held) > 3 else ""
    return editable(text), (
        f"The paste held control characters ({names}{more}): shown as symbols (␛ for ESC), "
        "and sent as those symbols unless you delete them"
    )
