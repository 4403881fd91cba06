"""Annotate the continuation in focus: archetypes, free label, confidence, rating, note, evidence."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, SelectionList, Static

from psmlab.core.domain.personas import Persona
from psmlab.tui.screens.dialogs import FormDialog
from psmlab.views import safe


@dataclass
class AnnotationInput:
    labels: list[str]
    confidence: float | None
    rating: int | None
    note: str | None
    quote: str | None
    annotator: str


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
            yield Static(safe(self.text), classes="excerpt")
            with VerticalScroll():
                yield SelectionList[str](
                    *[(f"{p.name} ({p.id})", p.id) for p in self.personas], id="labels"
                )
                yield Input(placeholder="free label (optional, your own words)", id="free")
                with Horizontal(classes="row"):
                    yield Input(placeholder="confidence 0-1", id="confidence")
                    yield Input(placeholder="rating 1-5", id="rating")
                yield Input(placeholder="note", id="note")
                yield Input(
                    placeholder="evidence: text copied from the continuation (optional)", id="quote"
                )
                yield Input(self.annotator, placeholder="annotator", id="annotator")
            yield from self.buttons()

    def _value(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value.strip()

    def action_keep(self) -> None:
        err = self.query_one("#error", Label)
        labels = list(self.query_one("#labels", SelectionList).selected)
        if self._value("free"):
            labels.append(self._value("free"))
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
        if not labels and note is None and rating is None:
            err.update("choose a label, or give a note or a rating")
            return
        self.dismiss(
            AnnotationInput(
                labels, conf, rating, note, quote, self._value("annotator") or "anonymous"
            )
        )
