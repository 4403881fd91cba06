"""A transcript turn wraps under its text, not at the left edge (a trial read a wrapped line
as the start of another turn)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from psmlab.tui.widgets.transcript import Hanging


def _lines(renderable: object, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().rstrip("\n").split("\n")


def test_wrapped_and_broken_lines_start_under_the_text() -> None:
    head = Text(" 2 assistant ")
    body = Text("I am a loyal, no-nonsense AI who answers every question.\nSecond paragraph here.")
    lines = _lines(Hanging(head, body), 40)
    assert lines[0].startswith(" 2 assistant I am")
    assert len(lines) >= 4  # wrapped, and the newline kept
    for line in lines[1:]:
        assert line.startswith(" " * len(head.plain)) and line.strip(), line
    words = " ".join(x[len(head.plain) :].strip() for x in lines)
    assert words == " ".join(body.plain.split())  # nothing lost or cut
    assert str(Hanging(head, body)) == head.plain + body.plain  # what tests and search read


def test_a_window_too_narrow_to_hang_wraps_from_the_edge() -> None:
    head = Text(" 2 assistant ")
    lines = _lines(Hanging(head, Text("I am a loyal, no-nonsense AI.")), 20)
    assert lines[0].startswith(" 2 assistant")
    assert "".join(lines).replace(" ", "") == "2assistantIamaloyal,no-nonsenseAI."
