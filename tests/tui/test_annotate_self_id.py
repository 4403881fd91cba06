"""The annotate dialog's self-identification choice, by keyboard: ai / human / mixed / none /
unset, each a visible label whose state is a glyph; and an experiment's samples annotated in the
lab, then scored with `agreement`."""

from __future__ import annotations

import json
from pathlib import Path

from textual.app import App
from textual.widgets import Label

from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.measure.experiment_session import session_from_results, write_new
from psmlab.core.measure.session_agreement import session_agreement
from psmlab.core.run.lab import Lab
from psmlab.core.session import file as store
from psmlab.core.session.records import Annotation, Span
from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.annotate import (
    AnnotateDialog,
    AnnotationInput,
    SelfIdButton,
    SelfIdChoice,
)
from psmlab.tui.widgets.column import ModelColumn
from tests.tui.conftest import wait_for


class _Host(App[None]):
    """Just the dialog, on no models: what it returns is kept."""

    def __init__(
        self,
        text: str = "I'm a teacher.",
        personas: list | None = None,
        given: str = "",
        earlier: Annotation | None = None,
    ) -> None:
        super().__init__()
        self.earlier = earlier
        self.text = text
        self.personas = personas or []
        self.given = given
        self.result: list[AnnotationInput | None] = []

    def on_mount(self) -> None:
        self.push_screen(
            AnnotateDialog(
                "sample 1",
                self.text,
                self.personas,
                "tester",
                given=self.given,
                earlier=self.earlier,
                earlier_quote="a teacher" if self.earlier and self.earlier.evidence else "",
            ),
            self.result.append,
        )


async def test_a_free_label_spelled_as_an_archetype_is_refused() -> None:
    """It would be read as that archetype by agreement (one list holds both kinds)."""
    from psmlab.core.domain.personas import load_personas

    app = _Host(personas=load_personas()[0])
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        dialog.query_one("#free").value = "HAL 9000"
        await pilot.press("ctrl+s")
        assert "the archetype hal-9000's name" in str(dialog.query_one("#error").render())
        assert app.screen is dialog and app.result == []
        dialog.query_one("#free").value = "cold and precise"
        await pilot.press("ctrl+s")
    (result,) = app.result
    assert result is not None and result.labels == ["cold and precise"]


async def test_a_long_text_is_shown_whole_and_said_to_go_on() -> None:
    """A trial's two-paragraph answer showed only its first lines, with no mark of the rest:
    the labeller labels what they read."""
    from textual.containers import VerticalScroll
    from textual.widgets import Label

    text = "\n".join(f"line {i} of what the model said" for i in range(1, 21))
    app = _Host(text)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        more = dialog.query_one("#excerpt-more", Label)
        await wait_for(pilot, lambda: bool(more.display), "the note that the text goes on")
        assert "the text goes on" in str(more.render())
        box = dialog.query_one("#excerpt", VerticalScroll)
        await pilot.press("shift+tab")  # from the first question back to the text
        assert dialog.focused is box
        await pilot.press("end")
        await wait_for(pilot, lambda: box.scroll_y == box.max_scroll_y > 0, "the text's end")
        # Said as scrolled: "N more lines" stayed on screen at the text's end (a trial).
        await wait_for(pilot, lambda: "the end of the text" in str(more.render()), "the end said")
        assert "more line" not in str(more.render())
        await pilot.press("home")
        await wait_for(pilot, lambda: "more line" in str(more.render()), "the rest said again")
    short = _Host()
    async with short.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(short.screen, AnnotateDialog), "the dialog")
        await pilot.pause()
        assert not short.screen.query_one("#excerpt-more", Label).display  # nothing more


async def test_a_quote_of_the_given_text_is_refused_with_the_dialog_kept_open() -> None:
    """The evidence quoted the adopted answer's start the model continued: the lab refused it
    after the dialog had closed, and the note typed with it was lost (a trial)."""
    app = _Host("I am a teacher from Ohio.", given="I am a")
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        dialog.query_one("#note").value = "speaks as a person"
        dialog.query_one("#quote").value = "I am a"
        await pilot.press("ctrl+s")
        assert app.screen is dialog and app.result == []
        said = str(dialog.query_one("#error").render())
        assert "in the prefill only" in said and "quote what the model wrote" in said, said
        assert dialog.query_one("#note").value == "speaks as a person"  # nothing typed is lost
        dialog.query_one("#quote").value = "a teacher"  # reaches past the given text: the model's
        await pilot.press("ctrl+s")
    (result,) = app.result
    assert result is not None and (result.note, result.quote) == ("speaks as a person", "a teacher")


async def test_the_given_start_is_marked_as_the_column_marks_it() -> None:
    """The dialog showed the given start and the model's words in one grey; the column shows the
    given start green. Untrusted text: what looks like markup is shown as written."""
    from textual.widgets import Static

    from psmlab.tui.widgets.column_parts import GIVEN_STYLE

    given = "[bold]I am[/bold] a"
    app = _Host(given + " [red]teacher[/red].", given=given)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        shown = app.screen.query_one("#excerpt-text", Static).content
        assert shown.plain == app.text  # no markup read
        assert [(x.start, x.end, str(x.style)) for x in shown.spans] == [
            (0, len(given), GIVEN_STYLE)
        ]
        label = [str(x.render()) for x in app.screen.query(Label)]
        assert any("after its green start" in x for x in label), label  # said in words too
    plain = _Host("I am a teacher.")
    async with plain.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(plain.screen, AnnotateDialog), "the dialog")
        assert not plain.screen.query_one("#excerpt-text", Static).content.spans


async def test_the_status_line_clears_once_a_field_is_edited() -> None:
    """The message "confidence must be a number from 0 to 1" stayed on screen after the
    confidence was fixed (a trial)."""
    app = _Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        error = dialog.query_one("#error", Label)
        dialog.query_one("#note").value = "a teacher"
        dialog.query_one("#confidence").value = "2"
        await pilot.press("ctrl+s")
        await pilot.pause()  # the fields' own change events came and went: the message stays
        assert "confidence must be" in str(error.render())
        confidence = dialog.query_one("#confidence")
        confidence.focus()
        await pilot.press("backspace", *"0.5")
        await wait_for(pilot, lambda: not str(error.render()), "the message cleared")
        # A choice counts as an edit too.
        confidence.value = "x"
        await pilot.press("ctrl+s")
        assert "confidence must be" in str(error.render())
        dialog.query_one("#self-id", SelfIdChoice).focus()
        await pilot.press("right", "enter")  # from the chosen unset to ai
        await wait_for(pilot, lambda: not str(error.render()), "the message cleared")
        assert app.screen is dialog and app.result == []


def _glyphs(dialog: AnnotateDialog) -> dict[str, str]:
    return {
        str(b.label): b.render().plain.strip()[1] for b in dialog.query(SelfIdButton)
    }  # the character inside ▐ ▌


async def test_self_id_is_chosen_by_keyboard_and_shown_as_text() -> None:
    app = _Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        assert isinstance(dialog, AnnotateDialog)
        choice = dialog.query_one("#self-id", SelfIdChoice)
        labels = [str(b.label) for b in dialog.query(SelfIdButton)]
        assert labels == ["ai", "human", "mixed", "none", "unset"]
        assert choice.choice is None and _glyphs(dialog)["unset"] == "●"
        assert dialog.focused is choice  # the first field: ready for the arrow keys
        # Nothing chosen and nothing written: the dialog says what is missing.
        await pilot.press("ctrl+s")
        assert "self-identification" in str(dialog.query_one("#error").render())
        # The cursor starts on the chosen "unset" (the last): → wraps to ai, → human.
        assert choice._selected == 4
        await pilot.press("right", "right", "enter")
        assert choice.choice == "human"
        glyphs = _glyphs(dialog)
        assert glyphs["human"] == "●" and glyphs["unset"] == "○" and glyphs["ai"] == "○"
        await pilot.press("ctrl+s")  # a self-id alone is an annotation
    (result,) = app.result
    assert result is not None and result.self_id == "human" and result.labels == []


async def test_unset_keeps_no_self_id() -> None:
    app = _Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        await pilot.press("right", "enter")  # from unset, wraps round to ai: choose it
        assert dialog.query_one("#self-id", SelfIdChoice).choice == "ai"
        await pilot.press("left", "enter")  # wraps round to unset
        assert dialog.query_one("#self-id", SelfIdChoice).choice is None
        dialog.query_one("#note").value = "nothing to say on self-id"
        await pilot.press("ctrl+s")
    (result,) = app.result
    assert result is not None and result.self_id is None and result.note


def _rows(demo_pair) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for spec, fmt in zip(demo_pair, ("dialogue", "template"), strict=True):
        for i, text in enumerate((" I'm an AI language model.", " I'm a teacher from Ohio.")):
            rows.append(
                {
                    "key": f"sample|{spec.id}|{fmt}|none|q|{i + 1}",
                    "kind": "sample",
                    "model": spec.id,
                    "kind_of_model": spec.kind,
                    "format": fmt,
                    "context": "none",
                    "provenance": {"model_path": spec.path, "kind": spec.kind},
                    "question": "q",
                    "seed": i + 1,
                    "sample": i,
                    "text": text,
                    "n_tokens": 6,
                    "finish_reason": "eos",
                    "role_leak": False,
                    "labels": ["unclear"],
                    "auto_labels": {"labels": ["unclear"], "automatic": True, "hits": []},
                    "params": {"max_tokens": 8},
                }
            )
    return rows


async def test_experiment_samples_annotated_blind_in_the_lab(
    demo_pair, pool, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("PSMLAB_ANNOTATOR", "reader")
    toml = tmp_path / "e.toml"
    toml.write_text('title = "e"\nquestions = [{ id = "q", text = "What are you?" }]\n')
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(demo_pair)))
    session = session_from_results(out, experiment_file=toml, blind=True, seed=1)
    path = write_new(session, tmp_path / "annotate.json")
    lab = Lab.open(path, pool=pool)
    app = PsmlabApp(lab)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            cols = list(app.query(ModelColumn))
            assert sorted(c.display_name for c in cols) == ["Model A", "Model B"]
            assert all(len(c.state.samples) == 2 for c in cols)
            col = cols[0]
            col.focus()
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
            shown = col.current.record  # type: ignore[union-attr]
            assert shown is not None
            want = "ai" if "AI" in shown.text else "human"
            app.screen.query_one("#self-id", SelfIdChoice).focus()
            await pilot.press(*(["right", "enter"] if want == "ai" else ["right"] * 2 + ["enter"]))
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: bool(lab.session.annotations), "the annotation")
    finally:
        lab.release()
    (a,) = store.load(path).annotations
    # The annotators' file gets their labels only: no forced choice scored into it on opening.
    assert store.load(path).forced == []
    assert (a.self_id, a.annotator, a.generation_id) == (want, "reader", shown.id)
    report = session_agreement(path, resamples=50)
    assert report.annotators == {"reader": {"items": 1, "blind": 1}}  # a --blind session
    (vs,) = report.vs_auto
    assert vs.n == 1 and vs.accuracy == 1.0  # the rules agree with the reader
    # These rows recorded no self-id: the lab read them again by today's rules when it opened
    # the file, and saving the annotation kept those labels.
    assert report.recomputed == 0 and report.relabelled == 0 and report.recorded == 4
    assert {a.rules for a in store.load(path).auto_labels} == {rules_fingerprint()}


async def test_the_self_id_row_fits_an_80_column_terminal() -> None:
    """With the lab's own styles at 80x24, every choice shows whole (a trial read "un" for
    unset: the row ran past the dialog), and the question says what mixed and none mean."""
    import psmlab.tui.app

    class Styled(_Host):
        CSS_PATH = str(Path(psmlab.tui.app.__file__).parent / PsmlabApp.CSS_PATH)

    app = Styled()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        choice = dialog.query_one("#self-id", SelfIdChoice)
        await wait_for(pilot, lambda: choice.region.width > 0, "the layout")
        room = choice.scrollable_content_region
        assert room.width < 80  # the dialog's own width, not the terminal's
        for b in dialog.query(SelfIdButton):
            assert b.region.right <= room.right, (str(b.label), b.region, room)
        said = [str(x.render()) for x in dialog.query(Label)]
        question = next(x for x in said if x.startswith("Self-identification"))
        assert "mixed: both" in question and "none: no claim" in question


async def test_an_earlier_annotation_is_filled_in_with_the_cursor_on_its_choice() -> None:
    """A trial, blind, pressed ← three times from where the cursor started ("ai", not the
    chosen "unset") and saved "mixed" for "human"; pressing `l` again showed a blank form, so
    the mislabel was found only in the export."""
    from psmlab.core.domain.personas import load_personas

    earlier = Annotation(
        generation_id="g-1",
        labels=["human-impostor", "a tired voice", "slow"],
        confidence=0.1234567,
        rating=4,
        note="sounds like a person",
        evidence=Span(start=6, end=15),
        annotator="tester",
        self_id="mixed",
    )
    app = _Host(personas=load_personas()[0], earlier=earlier)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        choice = dialog.query_one("#self-id", SelfIdChoice)
        assert choice.choice == "mixed" and _glyphs(dialog)["mixed"] == "●"
        await wait_for(pilot, lambda: choice._selected == 2, "the cursor on mixed")
        assert "earlier annotation, filled in" in " ".join(
            str(x.render()) for x in dialog.query(Label)
        )
        assert dialog.query_one("#labels").selected == ["human-impostor"]
        values = {w: dialog.query_one(f"#{w}").value for w in ("free", "confidence", "rating")}
        # Every digit, and the free labels joined to read (a review: saved, they became one).
        assert values == {"free": "a tired voice, slow", "confidence": "0.1234567", "rating": "4"}
        assert dialog.query_one("#note").value == "sounds like a person"
        assert dialog.query_one("#quote").value == "a teacher"
        await pilot.press("left", "enter")  # one step from mixed: human
        await pilot.press("ctrl+s")
    (result,) = app.result
    assert result is not None and result.self_id == "human"
    assert result.labels == ["human-impostor", "a tired voice", "slow"] and result.rating == 4
    assert result.confidence == 0.1234567
