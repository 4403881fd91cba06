"""Annotate the continuation in focus: self-identification, archetypes, free label, confidence,
rating, note, evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.strip import Strip
from textual.widgets import Input, Label, RadioButton, RadioSet, SelectionList, Static

from psmlab.core.domain.personas import Persona
from psmlab.core.errors import UsageError
from psmlab.core.measure.label_values import archetype_name
from psmlab.core.session.records import (
    RESERVED_ANNOTATORS,
    Annotation,
    GenerationRecord,
    quote_evidence,
    quote_span,
)
from psmlab.tui.screens.dialogs import FormDialog
from psmlab.tui.widgets.column_parts import given_text
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


def _shown(x: float | int | None) -> str:
    return "" if x is None else str(x)  # every digit: `:g` cut 0.1234567 to 0.123457


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
    """`text`: the answer as the column shows it; `given`: its start the model was given (the
    prefill, or the answer it continued), which `text` starts with."""

    def __init__(
        self,
        target: str,
        text: str,
        personas: list[Persona],
        annotator: str,
        given: str = "",
        earlier: Annotation | None = None,
        earlier_quote: str = "",
    ) -> None:
        super().__init__(classes="dialog-screen")
        # This annotator's latest annotation of the text, filled in to edit: a blank form over
        # a saved label read as "nothing saved" (a trial, blind, found its mislabel only in
        # the export).
        self.earlier = earlier
        self.earlier_quote = earlier_quote
        ids = {p.id for p in personas}
        self._earlier_free = [x for x in (earlier.labels if earlier else []) if x not in ids]
        self._earlier_free_text = ", ".join(self._earlier_free)
        self.target = target
        self.text = text
        self.given = given if text.startswith(given) else ""
        self.personas = personas
        self.annotator = annotator
        # The fields as they were when the status line last refused them: an edit clears it.
        self._refused: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="annotate"):
            yield Label(f"Annotate {self.target}", classes="dialog-title", markup=False)
            if self.earlier is not None:
                yield Label(
                    f"{self.earlier.annotator}'s earlier annotation, filled in: saving adds this "
                    "one, which psmlab agreement reads from now on",
                    classes="field-label",
                    markup=False,
                )
            # The whole text, scrollable: a labeller who sees only its first lines labels
            # them (a trial's two-paragraph answer lost its second to a cut without a mark).
            with VerticalScroll(classes="excerpt", id="excerpt"):
                # The given start marked green as the column marks it: in one grey with the
                # model's words, a trial quoted it as evidence of what the model said.
                own = self.text[len(self.given) :]
                yield Static(Text.assemble(given_text(self.given), safe(own)), id="excerpt-text")
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
                was = self.earlier.self_id if self.earlier is not None else None
                with SelfIdChoice(id="self-id"):
                    for choice, text in SELF_ID_CHOICES:
                        yield SelfIdButton(
                            text,
                            choice == was,
                            choice=choice,
                            id=f"self-id-{choice or 'unset'}",
                        )
                yield Label("Archetypes:", markup=False, classes="field-label")
                had = set(self.earlier.labels) if self.earlier is not None else set()
                yield MarkedSelectionList(
                    *[(f"{p.name} ({p.id})", p.id, p.id in had) for p in self.personas],
                    id="labels",
                )
                # Labels over the boxes: a placeholder disappears once a box holds a value.
                yield Label("Free label (optional, your own words):", classes="field-label")
                yield OrderedInput(
                    self._earlier_free_text,
                    placeholder="free label (optional, your own words)",
                    id="free",
                )
                with Horizontal(classes="row"):
                    with Vertical(classes="field"):
                        yield Label("Confidence (0-1):", classes="field-label")
                        yield OrderedInput(
                            _shown(self.earlier.confidence if self.earlier else None),
                            placeholder="confidence 0-1",
                            id="confidence",
                        )
                    with Vertical(classes="field"):
                        yield Label("Rating (1-5):", classes="field-label")
                        yield OrderedInput(
                            _shown(self.earlier.rating if self.earlier else None),
                            placeholder="rating 1-5",
                            id="rating",
                        )
                yield Label("Note:", classes="field-label")
                yield OrderedInput(
                    (self.earlier.note or "") if self.earlier else "", placeholder="note", id="note"
                )
                yield Label(
                    "Evidence (text copied from what the model wrote after its green start):"
                    if self.given
                    else "Evidence (text copied from the continuation):",
                    classes="field-label",
                )
                yield OrderedInput(
                    self.earlier_quote,
                    placeholder="evidence: text copied from the continuation (optional)",
                    id="quote",
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
        self.call_after_refresh(self._cursor_on_choice)
        self.call_after_refresh(self._say_more)
        # Counted from where the text is scrolled to: "N more lines" stayed at its end.
        box = self.query_one("#excerpt", VerticalScroll)
        self.watch(box, "scroll_y", lambda _: self._say_more(), init=False)

    def _cursor_on_choice(self) -> None:
        """The arrow keys' cursor starts on the chosen answer ("unset" on a new annotation): it
        started on "ai", and a trial's three ← from there labelled "mixed" for "human"."""
        box = self.query_one("#self-id", SelfIdChoice)
        buttons = list(box.query(SelfIdButton))
        chosen = next((i for i, b in enumerate(buttons) if b.value), None)
        if chosen is not None:
            box._selected = chosen  # Textual's own cursor (no public setter in 8.x)

    def on_resize(self) -> None:
        self.call_after_refresh(self._say_more)

    def _say_more(self) -> None:
        """Under a text longer than its box, that it goes on and how to read the rest."""
        box = self.query_one("#excerpt", VerticalScroll)
        more = self.query_one("#excerpt-more", Label)
        more.display = box.max_scroll_y > 0
        if more.display:
            n = max(0, round(box.max_scroll_y - box.scroll_y))
            more.update(
                f"… the text goes on ({n} more line{'s' * (n != 1)}): Shift+Tab to it, ↑ ↓ to read"
                if n
                else "(the end of the text: ↑ to read back)"
            )

    def _refuse(self, problem: str) -> None:
        """Say what is wrong in the status line; the dialog stays open with what was typed."""
        self.query_one("#error", Label).update(problem)
        self._refused = self._state()

    def _edited(self) -> None:
        # A message that stayed after its field was fixed read as still wrong (a trial). Compared
        # with the fields as refused: a change event of a value set before Ctrl+S may come after.
        if self._refused is not None and self._state() != self._refused:
            self._refused = None
            self.query_one("#error", Label).update("")

    def on_input_changed(self, _: Input.Changed) -> None:
        self._edited()

    def on_selection_list_selected_changed(self, _: SelectionList.SelectedChanged[str]) -> None:
        self._edited()

    def on_radio_set_changed(self, _: RadioSet.Changed) -> None:
        self._edited()

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def action_keep(self) -> None:
        labels = list(self.query_one("#labels", SelectionList).selected)
        free = self._value("free")
        if free and archetype_name(free) in {p.id for p in self.personas}:
            # It would be read as that archetype (free labels and archetypes share one list).
            self._refuse(
                f"the free label is the archetype {archetype_name(free)}'s name: tick it above, "
                "or say it in other words"
            )
            return
        if free and free == self._earlier_free_text:
            # The earlier free labels, shown joined: kept as they were, not made one label.
            labels.extend(self._earlier_free)
        elif free:
            labels.append(free)
        try:
            conf = float(self._value("confidence")) if self._value("confidence") else None
            if conf is not None and not 0 <= conf <= 1:
                raise ValueError
        except ValueError:
            self._refuse("confidence must be a number from 0 to 1")
            return
        try:
            rating = int(self._value("rating")) if self._value("rating") else None
            if rating is not None and not 1 <= rating <= 5:
                raise ValueError
        except ValueError:
            self._refuse("rating must be a whole number from 1 to 5")
            return
        quote = self._value("quote") or None
        if quote:
            # The session's own rule, checked here: raised by the lab after the dialog closed,
            # a quote of the given text lost the note typed with it (a trial).
            try:
                quote_span(self.text, quote, what="the evidence text", given=len(self.given))
            except UsageError as exc:
                self._refuse(exc.one_line())
                return
        note = self._value("note") or None
        self_id = self.query_one("#self-id", SelfIdChoice).choice
        if not labels and note is None and rating is None and self_id is None:
            self._refuse("choose a self-identification or a label, or give a note or a rating")
            return
        who = self._value("annotator") or "anonymous"
        if who in RESERVED_ANNOTATORS:  # refused by the session too: said here, dialog kept open
            self._refuse(
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
