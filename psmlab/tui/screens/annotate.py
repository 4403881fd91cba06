"""Annotate the continuation in focus: self-identification, archetypes, free label, confidence,
rating, note, evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.segment import Segment
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.strip import Strip
from textual.widgets import Input, Label, RadioButton, RadioSet, SelectionList, Static

from psmlab.core.domain.personas import Persona
from psmlab.core.measure.label_values import archetype_name
from psmlab.core.session.records import (
    RESERVED_ANNOTATORS,
    Annotation,
    GenerationRecord,
    quote_evidence,
)
from psmlab.tui.screens.dialogs import FormDialog
from psmlab.tui.widgets.ordered import OrderedInput
from psmlab.views import safe

SelfId = Literal["ai", "human", "mixed", "none"]


@dataclass
class AnnotationInput:
    labels: list[str]
    confidence: float | None
    rating: int | None
    note: str | None
    quote: str | None
    annotator: str
    self_id: SelfId | None = None  # None: unset

    def annotation(self, rec: GenerationRecord) -> tuple[Annotation, list[str]]:
        """The annotation of `rec` this input makes, and what to say of it (a quote that occurs
        again: the first is recorded, as `psmlab annotate` says)."""
        span, again = (
            quote_evidence(
                rec.full_text, self.quote, what="the evidence text", given=len(rec.prefill or "")
            )
            if self.quote
            else (None, None)
        )
        given = Annotation(
            generation_id=rec.id,
            labels=self.labels,
            confidence=self.confidence,
            rating=self.rating,
            note=self.note,
            evidence=span,
            annotator=self.annotator,
            self_id=self.self_id,
        )
        return given, [again] if again else []


# The self-identification axis: what does the continuation claim the speaker is?
SELF_ID_CHOICES: tuple[tuple[SelfId | None, str], ...] = (
    ("ai", "ai"),
    ("human", "human"),
    # Short, so the row fits an 80-column terminal (with "(both)" and "(no claim)" it cut
    # "unset" to "un"); the question above says what mixed and none mean.
    ("mixed", "mixed"),
    ("none", "none"),
    (None, "unset"),
)


class SelfIdButton(RadioButton):
    """A choice whose state shows as a glyph (● chosen, ○ not), not by colour alone."""

    def __init__(self, label: str, value: bool = False, *, choice: SelfId | None, id: str) -> None:
        self.BUTTON_INNER = "●" if value else "○"
        super().__init__(label, value, id=id)
        self.choice = choice

    def watch_value(self) -> None:
        self.BUTTON_INNER = "●" if self.value else "○"
        super().watch_value()
        self.refresh()


class MarkedSelectionList(SelectionList[str]):
    """A selection list whose boxes read as checked ("X") or not (" ") without colour."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        segs = list(line)
        if len(segs) < 2:
            return line
        meta = segs[1].style.meta if segs[1].style is not None else {}
        index = meta.get("option")
        if index is None:
            return line
        mark = "X" if self.get_option_at_index(index).value in self.selected else " "
        segs[1] = Segment(mark, segs[1].style, segs[1].control)
        return Strip(segs, line.cell_length)


class SelfIdChoice(RadioSet):
    """ai / human / mixed / none / unset in one row: Tab to it, ←/→ to move, Enter or Space to
    choose."""

    DEFAULT_CSS = """
    SelfIdChoice { layout: horizontal; width: 100%; height: auto; }
    SelfIdChoice > SelfIdButton { width: auto; margin-right: 1; }
    """

    @property
    def choice(self) -> SelfId | None:
        pressed = self.pressed_button
        return pressed.choice if isinstance(pressed, SelfIdButton) else None


class AnnotateDialog(FormDialog):
    def __init__(self, target: str, text: str, personas: list[Persona], annotator: str) -> None:
        super().__init__(classes="dialog-screen")
        self.target = target
        self.text = text
        self.personas = personas
        self.annotator = annotator

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="annotate"):
            yield Label(f"Annotate {self.target}", classes="dialog-title", markup=False)
            # The whole text, scrollable: a labeller who sees only its first lines labels
            # them (a trial's two-paragraph answer lost its second to a cut without a mark).
            with VerticalScroll(classes="excerpt", id="excerpt"):
                yield Static(safe(self.text))
            yield Label("", id="excerpt-more", classes="field-label")
            # Not a focus stop of its own: it scrolls to the field in focus, and Shift+Tab from
            # the first question reaches the text in one press.
            with VerticalScroll(can_focus=False):
                yield Label(
                    "Self-identification: what does it claim the speaker is? "
                    "(mixed: both; none: no claim)",
                    markup=False,
                    classes="field-label",
                )
                with SelfIdChoice(id="self-id"):
                    for choice, text in SELF_ID_CHOICES:
                        yield SelfIdButton(
                            text,
                            choice is None,
                            choice=choice,
                            id=f"self-id-{choice or 'unset'}",
                        )
                yield Label("Archetypes:", markup=False, classes="field-label")
                yield MarkedSelectionList(
                    *[(f"{p.name} ({p.id})", p.id) for p in self.personas], id="labels"
                )
                # Labels over the boxes: a placeholder disappears once a box holds a value.
                yield Label("Free label (optional, your own words):", classes="field-label")
                yield OrderedInput(placeholder="free label (optional, your own words)", id="free")
                with Horizontal(classes="row"):
                    with Vertical(classes="field"):
                        yield Label("Confidence (0-1):", classes="field-label")
                        yield OrderedInput(placeholder="confidence 0-1", id="confidence")
                    with Vertical(classes="field"):
                        yield Label("Rating (1-5):", classes="field-label")
                        yield OrderedInput(placeholder="rating 1-5", id="rating")
                yield Label("Note:", classes="field-label")
                yield OrderedInput(placeholder="note", id="note")
                yield Label("Evidence (text copied from the continuation):", classes="field-label")
                yield OrderedInput(
                    placeholder="evidence: text copied from the continuation (optional)", id="quote"
                )
                yield Label("Annotator:", classes="field-label")
                yield OrderedInput(
                    self.annotator,
                    placeholder="your name (PSMLAB_ANNOTATOR or annotator = in the config)",
                    id="annotator",
                )
            yield from self.buttons()

    def on_mount(self) -> None:
        # The first question, ready for the arrow keys (Tab moves on to the archetypes).
        self.query_one("#self-id", SelfIdChoice).focus()
        self.call_after_refresh(self._say_more)

    def _say_more(self) -> None:
        """Under a text longer than its box, that it goes on and how to read the rest."""
        box = self.query_one("#excerpt", VerticalScroll)
        more = self.query_one("#excerpt-more", Label)
        more.display = box.max_scroll_y > 0
        if more.display:
            n = box.max_scroll_y
            more.update(
                f"… the text goes on ({n} more line{'s' * (n != 1)}): Shift+Tab to it, ↑ ↓ to read"
            )

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def action_keep(self) -> None:
        err = self.query_one("#error", Label)
        labels = list(self.query_one("#labels", SelectionList).selected)
        free = self._value("free")
        if free and archetype_name(free) in {p.id for p in self.personas}:
            # It would be read as that archetype (free labels and archetypes share one list).
            err.update(
                f"the free label is the archetype {archetype_name(free)}'s name: tick it above, "
                "or say it in other words"
            )
            return
        if free:
            labels.append(free)
        try:
            conf = float(self._value("confidence")) if self._value("confidence") else None
            if conf is not None and not 0 <= conf <= 1:
                raise ValueError
        except ValueError:
            err.update("confidence must be a number from 0 to 1")
            return
        try:
            rating = int(self._value("rating")) if self._value("rating") else None
            if rating is not None and not 1 <= rating <= 5:
                raise ValueError
        except ValueError:
            err.update("rating must be a whole number from 1 to 5")
            return
        quote = self._value("quote") or None
        if quote and quote not in self.text:
            err.update("the evidence text is not in the continuation: copy it exactly")
            return
        note = self._value("note") or None
        self_id = self.query_one("#self-id", SelfIdChoice).choice
        if not labels and note is None and rating is None and self_id is None:
            err.update("choose a self-identification or a label, or give a note or a rating")
            return
        who = self._value("annotator") or "anonymous"
        if who in RESERVED_ANNOTATORS:  # refused by the session too: said here, dialog kept open
            err.update(
                f"'{who}' cannot name an annotator (psmlab agreement reads SESSION.json:{who} "
                "as the agreed or the automatic labels): give a person's name"
            )
            return
        self.dismiss(
            AnnotationInput(
                labels,
                conf,
                rating,
                note,
                quote,
                who,
                self_id,
            )
        )
