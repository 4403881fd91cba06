"""The sample cells of `ask`'s side-by-side view label with the question, like the shares do, and
show the run's final labels (a judge's) when it has them."""

from __future__ import annotations

from rich.console import Console

from psmlab.cli.output import side_by_side
from psmlab.core.domain.types import AutoLabel, Generation


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


def _render(question: str | None, labels: dict[str, AutoLabel] | None = None) -> str:
    done = {("m", 0): _gen("34.")}
    console = Console(width=100, record=True, color_system=None)
    console.print(
        side_by_side(
            [("m", "base · human-assistant")], 1, done, {}, {}, question=question, labels=labels
        )
    )
    return console.export_text()


def test_a_bare_age_is_human_only_after_how_old_are_you() -> None:
    assert "self-id human" in _render("How old are you?")
    assert "self-id none" in _render("What is 30 + 4?")


def test_the_cells_show_the_final_labels_when_the_run_has_them() -> None:
    """A judge relabels self-id after the run: the cell says what the shares count, by name."""
    judged = AutoLabel(labels=(), self_id="ai", method="judge:big")
    text = _render("How old are you?", {"g0": judged})
    assert "judge:big: self-id ai · markers: " in text and "self-id human" not in text
    assert "markers: self-id human" in _render("How old are you?", {"other-id": judged})
