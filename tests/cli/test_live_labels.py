"""The sample cells of `ask`'s side-by-side view label with the question, like the shares do."""

from __future__ import annotations

from rich.console import Console

from psmlab.cli.output import side_by_side
from psmlab.core.domain.types import Generation


def _gen(text: str) -> Generation:
    return Generation(
        id="g0",
        model="m",
        kind="base",
        format="human-assistant",
        sample=0,
        seed=1,
        text=text,
        n_tokens=2,
        finish_reason="eos",
        role_leak=False,
        params={},
    )


def _render(question: str | None) -> str:
    done = {("m", 0): _gen("34.")}
    console = Console(width=100, record=True, color_system=None)
    console.print(
        side_by_side([("m", "base · human-assistant")], 1, done, {}, {}, question=question)
    )
    return console.export_text()


def test_a_bare_age_is_human_only_after_how_old_are_you() -> None:
    assert "self-id human" in _render("How old are you?")
    assert "self-id none" in _render("What is 30 + 4?")
