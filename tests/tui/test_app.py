"""The lab driven by keys (Textual Pilot) on the real demo models: assertions on state, not pixels."""

from __future__ import annotations

import os
import re
from pathlib import Path

from psmlab.core.models.registry import spec_from_path
from psmlab.core.run.lab import Lab
from psmlab.core.session import file as store
from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.adopt_picker import AdoptPicker
from psmlab.tui.screens.annotate import AnnotateDialog, AnnotationInput
from psmlab.tui.screens.dialogs import Confirm
from psmlab.tui.screens.inspector import Inspector
from psmlab.tui.widgets.column import ModelColumn
from tests.tui.conftest import CEILING, notices, settle, type_and_send, wait_for

SIZE = (120, 40)


async def test_send_streams_into_both_columns_and_autosaves(make_lab) -> None:
    lab = make_lab(max_tokens=48)
    app = PsmlabApp(lab)
    partial: list[tuple[str, str]] = []
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        original = screen._flush_tokens

        def spy() -> None:
            original()
            for m, st in screen.states.items():
                for s in st.samples:
                    if s.text and s.record is None:
                        partial.append((m, s.text))

        screen._flush_tokens = spy  # type: ignore[method-assign]
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        assert [t.content for t in lab.turns] == ["What are you?"]
        for st in screen.states.values():
            (sample,) = st.samples
            assert sample.record is not None and sample.text == sample.record.text
        assert {m for m, _ in partial} == set(screen.states), (
            "tokens did not stream into every column"
        )
        assert lab.path is not None and len(store.load(lab.path).generations) == 2
        assert app.query_one("#composer").text == ""


async def test_cancel_keeps_what_streamed(make_lab) -> None:
    lab = make_lab(max_tokens=400)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await type_and_send(pilot, "Tell me a very long story about the sea.")
        await wait_for(
            pilot,
            lambda: any(s.text for st in screen.states.values() for s in st.samples),
            "the first streamed tokens",
        )
        await pilot.press("escape")
        await settle(pilot, app)
        recs = [s.record for st in screen.states.values() for s in st.samples if s.record]
        assert any(r.finish_reason == "cancelled" for r in recs)
        for st in screen.states.values():
            for s in st.samples:
                assert s.record is None or s.text == s.record.text


async def test_n_samples_step_adopt_and_continue(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        app.screen.query_one("#value").value = "3"
        await pilot.press("enter")
        assert lab.n_samples == 3
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        cols = list(app.query(ModelColumn))
        assert all(len(c.state.samples) == 3 for c in cols)
        assert [s.record.seed for s in cols[0].state.samples] == [7, 8, 9]
        cols[1].focus()
        await pilot.press("right_square_bracket")
        assert cols[1].state.shown == 1
        chosen = cols[1].state.samples[1].record
        await pilot.press("a")
        assert lab.turns[-1].adopted_from == chosen.id and lab.turns[-1].role == "assistant"
        assert lab.turns[-1].adopted_how == "key"
        await type_and_send(pilot, "Why?")
        await settle(pilot, app)
        assert [t.role for t in lab.turns] == ["user", "assistant", "user"]
        assert {g.turn for g in lab.session.generations} == {1, 3}


async def test_the_column_and_the_transcript_say_which_answer_went_on_and_where(make_lab) -> None:
    """A trial adopted one model's run 1 sample 2, then another model's answer (a second
    branch): back at the turn, nothing in the column said which sample was adopted where, and
    the transcript named the model but not the run or sample."""
    from psmlab.tui.widgets.transcript import TranscriptView

    lab = make_lab(max_tokens=4)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        first, second = list(app.query(ModelColumn))
        footer = lambda c: str(c.query_one(".col-footer").render())  # noqa: E731
        second.focus()
        await pilot.press("right")
        chosen = second.current.record.id
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].adopted_from == chosen, "the adoption")
        await wait_for(pilot, lambda: " · adopted" in footer(second), "the column's mark")
        line = str(app.query_one(TranscriptView).get_option_at_index(1).prompt)
        assert f"← {second.state.model_id} · run 1 · sample 2" in line, line
        await pilot.press("left")  # the other sample: not adopted
        await pilot.pause()
        assert "adopted" not in footer(second), footer(second)
        await pilot.press("right")
        first.focus()
        await pilot.press("a")  # the first model's answer: a second branch from the question
        await wait_for(
            pilot, lambda: lab.turns[-1].adopted_from == first.current.record.id, "the branch"
        )
        await wait_for(
            pilot, lambda: "adopted on another branch" in footer(second), "the other branch"
        )
        assert "· adopted" in footer(first) and "another branch" not in footer(first)


async def _send_to_picker(pilot, text: str) -> AdoptPicker:
    """Type a message while an answer is pending: the picker opens and nothing is adopted yet."""
    composer = pilot.app.query_one("#composer")
    composer.focus()
    composer.insert(text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AdoptPicker), "the answer picker")
    return pilot.app.screen


async def test_sending_with_an_answer_pending_asks_which_answer_continues(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        first, second = list(app.query(ModelColumn))
        second.focus()
        await pilot.press("down")  # in the column, reading: the picker's default
        picker = await _send_to_picker(pilot, "Really?")
        assert [t.role for t in lab.turns] == ["user"]  # nothing adopted without a choice
        ol = picker.query_one("#choices")
        assert ol.get_option_at_index(ol.highlighted).id == second.state.samples[0].record.id
        await pilot.press("escape")  # cancel: nothing sent, the message stays in the box
        assert [t.role for t in lab.turns] == ["user"]
        assert app.query_one("#composer").text == "Really?"
        app.query_one("#composer").clear()
        picker = await _send_to_picker(pilot, "Really?")
        # The first column's answer, chosen explicitly; up again stays on it (the list used to
        # wrap round to "send without adopting", one key from the first answer).
        await pilot.press("up", "up", "up", "enter")
        await wait_for(pilot, lambda: len(lab.turns) == 3, "the message sent")
        await settle(pilot, app)
        assert [t.role for t in lab.turns] == ["user", "assistant", "user"]
        assert lab.turns[1].adopted_model == first.state.model_id
        assert lab.turns[1].adopted_how == "send"
        await _send_to_picker(pilot, "And without an answer?")
        await pilot.press("end", "enter")  # the last option: send without adopting
        await wait_for(pilot, lambda: len(lab.turns) == 4, "the message sent")
        await settle(pilot, app)
        assert [t.role for t in lab.turns] == ["user", "assistant", "user", "user"]
        assert store.load(lab.path).turns[1].adopted_how == "send"
        # The transcript follows the conversation: the newest turn is highlighted, in view.
        from psmlab.tui.widgets.transcript import TranscriptView

        assert app.query_one(TranscriptView).highlighted == 3


async def test_which_sample_is_shown_stays_in_view_when_the_footer_is_cut(make_lab) -> None:
    """With N=3 in a short window the footer had one row and read "… sample details: 2 lines
    cut": which sample was on screen was not said; later the forced choice's lines left it one
    row, and the sample's label was cut. Its first lines stay (which sample, then its label: the
    labels panel leaves the footer up to 3 rows), the last one kept saying what was cut."""
    lab = make_lab(max_tokens=24)
    lab.n_samples = 3
    app = PsmlabApp(lab)
    async with app.run_test(size=(120, 20)) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)

        def feet() -> list[str]:
            return [str(c.query_one(".col-footer").render()) for c in app.query(ModelColumn)]

        # "(+2 lines cut)", or "(+1 line cut)": the chat model's warning line is one too many
        cut = re.compile(r"\(\+\d+ lines? cut\)")
        await wait_for(pilot, lambda: any(cut.search(f) for f in feet()), "a cut footer")
        for foot in feet():
            first, label, *rest = foot.splitlines()
            assert first.startswith("sample 1/3 · seed ") and label.startswith("markers: self-id ")
            assert not any(cut.search(x) for x in [first, *rest[:-1]]), foot


async def test_a_taller_window_shows_the_whole_forced_choice_panel(make_lab) -> None:
    """An audit at 130x70 with rows to spare still read "… 7 more lines cut" (a fixed 14-line
    panel): the comparison with the samples and the opening design were never on screen, while
    the README says a taller window shows the rest. The panel takes what the column leaves
    it, fitted again on a resize; a short window still cuts it, and says so."""
    lab = make_lab(max_tokens=16)
    lab.n_samples = 6
    app = PsmlabApp(lab)
    async with app.run_test(size=(130, 30)) as pilot:
        await type_and_send(pilot, "Are you a human?")
        await settle(pilot, app)
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: all(st.forced is not None and st.auto_self_id for st in screen.states.values()),
            "the forced choice and the labels",
        )

        def panels() -> list[str]:
            return [str(c.query_one(".col-dist").render()) for c in app.query(ModelColumn)]

        await wait_for(pilot, lambda: all("lines cut" in p for p in panels()), "cut panels")
        await pilot.resize_terminal(130, 70)
        # Whole: the comparisons with the samples and the opening design, nothing cut.
        await wait_for(
            pilot,
            lambda: all("lines cut" not in p for p in panels()),
            "whole panels",
        )
        for panel in panels():
            flat = " ".join(panel.split())
            assert "vs 6 samples:" in flat and 'self-id after "I\'m":' in flat, panel
            assert flat.count("vs 6 samples:") == 2, panel  # with the archetypes and the walk
        await pilot.resize_terminal(130, 30)  # short again: cut again, with its note
        await wait_for(pilot, lambda: all("lines cut" in p for p in panels()), "cut again")


async def test_the_template_warning_fits_its_column(make_lab) -> None:
    """The chat template's warning was cut at every size ('… (a de…'): a column says it in
    words that fit, and F2 shows the text."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    for size, said in (((120, 40), "template added text you did not write"), ((80, 40), "F2")):
        async with app.run_test(size=size) as pilot:
            if not lab.turns:
                await type_and_send(pilot, "What are you?")
            await settle(pilot, app)
            chat = app.lab_screen.column_widget("smollm2-135m-instruct")
            assert chat is not None

            def warned(c: ModelColumn = chat) -> list[str]:
                foot = str(c.query_one(".col-footer").render())
                return [x for x in foot.splitlines() if x.startswith("⚠")]

            # Fitted to the column's width once it is laid out (a first draw may precede it).
            await wait_for(pilot, lambda s=said: any(s in x for x in warned()), f"{said!r}")
            (line,) = warned()
            assert said in line and not line.endswith("…"), (size, line)
        app = PsmlabApp(lab)


async def test_the_picker_highlights_only_a_whole_answer_looked_at(make_lab) -> None:
    """A trial looked last at a cancelled fragment: the picker highlighted it, and one Enter
    adopted "I'm a chat-"; an audit, having looked at none, had the first column's answer
    highlighted. The looked-at answer is the default only when it is whole; else nothing is
    highlighted, Enter does nothing, and the line above the list says so."""
    from textual.widgets import OptionList

    from psmlab.tui.screens.adopt_picker import Choice

    def picker(default: str | None, cut: tuple[bool, ...]) -> AdoptPicker:
        return AdoptPicker(
            [Choice(f"g{i}", "m", i + 1, 3, f"text {i}", cut=c) for i, c in enumerate(cut)],
            default,
        )

    app = PsmlabApp(make_lab())
    async with app.run_test(size=SIZE) as pilot:
        for default, cut, want in [
            ("g1", (False, False, False), 1),  # whole: the one looked at
            ("g1", (False, True, False), None),  # cut off: nothing (not the first whole one)
            ("g0", (True, True, False), None),
            (None, (False, False, False), None),  # none looked at: nothing, never the first
            ("g9", (False, False, False), None),  # one looked at that is not listed
        ]:
            screen = picker(default, cut)
            app.push_screen(screen)
            await wait_for(
                pilot,
                lambda s=screen: (
                    app.screen is s
                    and bool(s.query(OptionList))
                    and s.query_one(OptionList).has_focus
                ),  # focused once its default is set
                "the picker",
            )
            ol = screen.query_one(OptionList)
            said = str(screen.query_one("#enter-does").render())
            assert ol.highlighted == want, (default, cut)
            if want is None:
                assert said.startswith("No answer chosen"), said
                await pilot.press("enter")  # nothing chosen: nothing happens
                await pilot.pause()
                assert app.screen is screen
            else:
                assert said == "Enter adopts m · sample 2/3 (looked at last) and sends", said
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.lab_screen, "the lab")


async def test_the_picker_falls_back_on_the_answer_looked_at_before_a_cut_one(make_lab) -> None:
    """A trial looked at sample 2 of one column, then Tabbed through another whose shown answer
    was cancelled on the way to the message box: the picker highlighted nothing. The answer
    looked at before the cut one is the default then. A column only passed through on the way
    is not looked at (a later trial's picker offered such an answer "looked at last")."""
    from dataclasses import replace

    lab = make_lab(max_tokens=4)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        first, second = list(app.query(ModelColumn))
        first.focus()
        await pilot.press("right")  # its sample 2
        await pilot.pause()
        looked = first.current.record.id
        second.focus()  # passed through on the way to the message box
        await pilot.pause()
        passed = second.current.record.id
        app.query_one("#composer").focus()
        await pilot.pause()
        choices = screen.adoptable()
        assert screen.last_viewed_id(choices) == looked  # passing through is not looking
        second.focus()
        await pilot.press("down")  # in the column, reading it
        app.query_one("#composer").focus()
        await pilot.pause()
        assert screen.last_viewed_id(choices) == passed  # whole: the one looked at last
        # The passed-through column's answer cut off (cancelled): the one looked at before it.
        cut = [replace(c, cut=c.gen_id == passed) for c in choices]
        assert screen.last_viewed_id(cut) == looked
        gone = [replace(c, cut=c.gen_id in (passed, looked)) for c in choices]
        assert screen.last_viewed_id(gone) is None  # never an answer nobody looked at


async def test_the_picker_highlights_no_answer_the_user_has_not_looked_at(make_lab) -> None:
    """An audit reopened a session whose answers were not adopted and sent a message without
    entering a column: the picker highlighted the first column's answer (after N=6 at 80x24,
    an empty one), and an Enter a moment later adopted it. Nothing is highlighted until the
    user has been in a column since its answers came; the dialog says what Enter does."""
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
    path = lab.path
    lab.release()
    again = Lab.open(path, pool=lab.pool)
    app2 = PsmlabApp(again)
    try:
        async with app2.run_test(size=SIZE) as pilot:
            screen = app2.lab_screen
            cols = lambda: list(screen.query(ModelColumn))  # noqa: E731
            await wait_for(
                pilot,
                lambda: len(cols()) == 2 and all(c.current and c.current.record for c in cols()),
                "the reopened answers",
            )
            first, second = cols()
            picker = await _send_to_picker(pilot, "Quick question")
            ol = picker.query_one("#choices")

            def said() -> str:
                return str(picker.query_one("#enter-does").render())

            assert ol.highlighted is None and said().startswith("No answer chosen"), said()
            await pilot.pause(0.6)
            await pilot.press("enter")  # the audit's second Enter: nothing adopted or sent
            await pilot.pause(0.2)
            assert app2.screen is picker and [t.role for t in again.turns] == ["user"]
            await pilot.press("down")  # the first answer, chosen: Enter says what it does
            assert ol.get_option_at_index(ol.highlighted).id == first.current.record.id
            assert said() == f"Enter adopts {first.state.model_id} · sample 1/1 and sends"
            await pilot.press("escape")
            # Passed through on Tab: still nothing highlighted.
            second.focus()
            await pilot.pause()
            picker = await _send_to_picker(pilot, "")  # the message stayed in the box
            assert picker.query_one("#choices").highlighted is None
            await pilot.press("escape")
            # In a column, acting there, then back in the message box: its answer is the one
            # highlighted.
            second.focus()
            await pilot.press("down")
            await pilot.pause()
            picker = await _send_to_picker(pilot, "")  # the message stayed in the box
            ol = picker.query_one("#choices")
            looked = second.current.record.id
            assert ol.get_option_at_index(ol.highlighted).id == looked
            assert said().endswith("sample 1/1 (looked at last) and sends"), said()
            await pilot.press("enter")
            await wait_for(pilot, lambda: len(again.turns) == 3, "the message sent")
            await settle(pilot, app2)
            assert again.turns[1].adopted_from == looked
            # New answers came while the user was in the message box: none of them was looked
            # at, so again nothing is highlighted.
            picker = await _send_to_picker(pilot, "And now?")
            assert picker.query_one("#choices").highlighted is None
            await pilot.press("escape")
    finally:
        again.release()


async def test_the_picker_scrolls_to_its_last_choice_on_a_small_screen(make_lab) -> None:
    """At 80x24, eight answers and "Send without adopting" ran past the bottom of the screen:
    the highlight moved onto rows that were not drawn. The list scrolls inside the dialog."""
    from textual.widgets import OptionList

    from psmlab.tui.screens.adopt_picker import WITHOUT, Choice

    app = PsmlabApp(make_lab())
    async with app.run_test(size=(80, 24)) as pilot:
        # Lines as long as a real column's: each wraps to two rows at this width.
        choices = [
            Choice(f"g{i}", "smollm2-135m-instruct", i % 4 + 1, 4, "Hello there! " * 9, "none",
                   run=i // 4 + 1, runs=2)
            for i in range(8)
        ]  # fmt: skip
        screen = AdoptPicker(choices, "g0")
        app.push_screen(screen)
        await wait_for(
            pilot,
            lambda: (
                app.screen is screen
                and bool(screen.query(OptionList))
                and screen.query_one(OptionList).has_focus
            ),
            "the picker",
        )
        ol = screen.query_one(OptionList)
        dialog = screen.query_one(".dialog")
        # What Enter does, in two lines here (a long model id), leaves the list whole too.
        said = str(screen.query_one("#enter-does").render())
        assert said.startswith("Enter adopts smollm2-135m-instruct · run 1/2 · sample 1/4"), said
        await pilot.pause()
        assert ol.region.bottom <= dialog.content_region.bottom, (ol.region, dialog.content_region)
        await pilot.press("end")
        await wait_for(pilot, lambda: ol.highlighted == ol.option_count - 1, "the last choice")
        await pilot.pause()
        # The dialog fits the screen, and the highlighted row is inside the list's window.
        assert dialog.region.bottom <= 24 and ol.max_scroll_y > 0
        # Not cut off by the dialog: the list's last rows are drawn (they were clipped below).
        assert ol.region.bottom <= dialog.content_region.bottom, (ol.region, dialog.content_region)
        assert ol.get_option_at_index(ol.highlighted).id == WITHOUT
        assert ol.scroll_y == ol.max_scroll_y
        await pilot.press("escape")


async def test_annotate_and_blind_mode(make_lab, monkeypatch) -> None:
    monkeypatch.setenv("PSMLAB_ANNOTATOR", "tester")  # the annotator field's default
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await pilot.press("ctrl+b")
        assert lab.blind
        names = sorted(c.display_name for c in app.query(ModelColumn))
        assert names == ["Model A", "Model B"]
        # Nothing on screen gives a model away: no id, kind, format, stop string or template text.
        import html
        import re

        def on_screen() -> str:
            svg = app.export_screenshot()
            rows = re.findall(r"<text[^>]*>(.*?)</text>", svg)
            return "".join(html.unescape(re.sub(r"<[^>]+>", "", r)) for r in rows).replace(
                "\xa0", " "
            )

        await wait_for(pilot, lambda: "Model B" in on_screen(), "the columns drawn blind")
        screen = on_screen()
        for tell in ("gemma", "smollm", "· base", "· chat", "dialogue", "template", "im_start"):
            assert tell not in screen, tell
        assert "Model A" in screen and "Model B" in screen
        col = app.query(ModelColumn).first()
        col.focus()
        await pilot.press("f2")  # the inspector would show formats and control tokens
        await pilot.pause()
        assert not isinstance(app.screen, Inspector)
        # The markdown export names every model and its labels: not written while blind.
        await pilot.press("ctrl+e")
        # Once the lab answered Ctrl+E, nothing was written.
        await wait_for(pilot, lambda: any("leave blind mode" in m for m in notices(app)))
        sessions = Path(os.environ["PSMLAB_SESSIONS_DIR"])
        assert not list(sessions.rglob("*.md")) if sessions.exists() else True
        await pilot.press("l")
        dialog = app.screen
        assert isinstance(dialog, AnnotateDialog)
        # Its excerpt as the column shows it blind: no leading space (a base frame's answer
        # has one, a chat template's has none; a trial told the kinds apart by it).
        shown = col.state.samples[0].record
        assert dialog.text == shown.full_text.lstrip() and not dialog.text[:1].isspace()
        dialog.query_one("#labels").select("human-impostor")
        await pilot.pause()
        lst = dialog.query_one("#labels")
        lines = [lst.render_line(y).text for y in range(lst.size.height)]
        # Checked or not reads without colour: "X" in the box only for the chosen archetype.
        assert any("X" in ln[:3] and "human-impostor" in ln for ln in lines), lines
        assert any("X" not in ln[:3] and "(" in ln for ln in lines), lines
        dialog.query_one("#note").value = "says it is a person"
        dialog.query_one("#rating").value = "2"
        dialog.query_one("#confidence").value = "0.8"
        rec = col.state.samples[0].record
        quote = rec.full_text.strip()[:5]
        dialog.query_one("#quote").value = quote
        await pilot.press("ctrl+s")
        (a,) = lab.session.annotations
        assert a.labels == ["human-impostor"] and a.blind and a.rating == 2 and a.confidence == 0.8
        assert a.generation_id == rec.id and a.annotator == "tester"
        if quote:  # the evidence is the quote's span in the generation's text
            assert a.evidence is not None
            assert rec.full_text[a.evidence.start : a.evidence.end] == quote
        assert col.state.labels["human-impostor"] == 1
        assert store.load(lab.path).annotations[0].id == a.id  # autosaved
        # What psmlab annotate says, the TUI says: a second self-id label by the same person is
        # the one agreement reads (the session's rule, not the CLI's).
        for self_id in ("ai", "human"):
            await pilot.press("l")
            app.screen.dismiss(AnnotationInput([], None, None, None, None, "tester", self_id))
        await wait_for(
            pilot,
            lambda: any(f"tester labelled {rec.id} before" in m for m in notices(app)),
        )
        assert len(lab.session.annotations) == 3
        # A quote found twice: the first is recorded and said so, as `psmlab annotate` says.
        text = rec.full_text[len(rec.prefill or "") :]
        again = max(text, key=text.count)  # 24 tokens: some character occurs twice
        await pilot.press("l")
        app.screen.dismiss(AnnotationInput([], None, None, None, again, "tester"))
        await wait_for(pilot, lambda: any("times in the answer" in m for m in notices(app)))
        # Opened again, the latest is filled in; saved as it is, nothing is added twice.
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        assert app.screen.earlier is not None and app.screen.query_one("#quote").value == again
        app.screen.query_one("#note").value = "a quote and a note"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: lab.session.annotations[-1].note == "a quote and a note")
        count = len(lab.session.annotations)
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        assert app.screen.query_one("#note").value == "a quote and a note"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("Annotation unchanged" in m for m in notices(app)))
        assert len(lab.session.annotations) == count


async def test_a_sighted_annotation_is_not_filled_in_blind(make_lab, monkeypatch) -> None:
    """A trial's label made with the names shown came back filled in under blind mode, and one
    Ctrl+S recorded a copy of it as blind."""
    from psmlab.core.session.records import Annotation

    monkeypatch.setenv("PSMLAB_ANNOTATOR", "tester")
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        for g in lab.session.generations:  # every answer labelled with the names shown
            lab.annotate(Annotation(generation_id=g.id, self_id="human", annotator="tester"))
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: lab.blind, "blind")
        await settle(pilot, app)
        app.query(ModelColumn).first().focus()
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        assert app.screen.earlier is None
        assert app.screen.query_one("#self-id").choice is None


async def test_export_says_what_lies_beyond_the_current_branch(make_lab) -> None:
    """After going back and editing a turn, Ctrl+E wrote the current branch and said only
    "Exported": the other turns (in the file's tree section) seemed lost."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: any("Exported" in m for m in notices(app)))
        first = [m for m in notices(app) if "Exported" in m]
        assert first[-1].endswith("the current branch, 1 turn(s)"), first
        lab.edit_turn(0, "Who are you?")
        app.lab_screen.reload()
        from psmlab.tui.widgets.transcript import TranscriptView

        view = app.query_one(TranscriptView)
        await wait_for(pilot, lambda: view.option_count == 1, "the edited branch")
        assert "✎ edited" in str(view.get_option_at_index(0).prompt)  # no one wrote it as sent
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: any("more turn" in m for m in notices(app)))
        (msg,) = [m for m in notices(app) if "more turn" in m]
        assert "the current branch, 1 turn(s); 1 more turn(s)" in msg and "tree section" in msg
        assert "What are you?" in lab.path.with_suffix(".md").read_text()  # the other branch too


async def test_annotate_dialog_validates(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Hi")
        await settle(pilot, app)
        list(app.query(ModelColumn))[1].focus()
        await pilot.press("l")
        app.screen.query_one("#rating").value = "9"
        app.screen.query_one("#note").value = "x"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, AnnotateDialog)
        assert "rating" in str(app.screen.query_one("#error").render())
        # A name psmlab agreement reads as a source is refused here too, as by the CLI.
        app.screen.query_one("#rating").value = ""
        app.screen.query_one("#annotator").value = "human"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, AnnotateDialog)
        assert "cannot name an annotator" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")  # typed into: it asks before the typing is thrown away
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the discard question")
        await pilot.click("#discard")
        await wait_for(pilot, lambda: not isinstance(app.screen, AnnotateDialog), "closed")
        assert not lab.session.annotations
        # Evidence that is not in the text (the dialog checks it too) is reported, not a crash.
        await pilot.press("l")
        app.screen.dismiss(AnnotationInput([], None, None, "x", "no such words", "me"))
        await wait_for(
            pilot,
            lambda: any("not in the generation" in m for m in notices(app)),
            "the notification",
        )
        assert app.is_running and not lab.session.annotations


async def test_a_quote_of_the_prefill_keeps_the_dialog_and_its_note(make_lab) -> None:
    """A trial quoted the given start of a continued answer: the dialog closed with a toast and
    the note typed was lost. Now the dialog says it and keeps everything; the start is green."""
    from textual.widgets import Static

    from psmlab.tui.widgets.column_parts import GIVEN_STYLE

    lab = make_lab(max_tokens=4)
    smol = lab.columns[1].id
    lab.configure(smol, prefill="I grew up")
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Where are you from?")
        await settle(pilot, app)
        col = next(c for c in app.query(ModelColumn) if c.state.model_id == smol)
        col.focus()
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        dialog = app.screen
        shown = dialog.query_one("#excerpt-text", Static).content
        assert shown.spans[0].end == len("I grew up") and str(shown.spans[0].style) == GIVEN_STYLE
        dialog.query_one("#note").value = "a person's story"
        dialog.query_one("#quote").value = "grew up"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and not lab.session.annotations
        assert "in the prefill only" in str(dialog.query_one("#error").render())
        assert dialog.query_one("#note").value == "a person's story"
        dialog.query_one("#quote").value = ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(lab.session.annotations), "the annotation")
    (a,) = lab.session.annotations
    assert a.note == "a person's story" and a.evidence is None


async def test_inspector_shows_exact_prompts_and_diff(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await pilot.press("f2")  # the prompts render in a worker, then the inspector opens
        await wait_for(pilot, lambda: isinstance(app.screen, Inspector), "the inspector")
        screen = app.screen
        assert isinstance(screen, Inspector)
        texts = [p.text for _, p in screen.prompts]
        assert texts[0] == "<bos>User: What are you?\nAssistant:"
        assert "<|im_start|>assistant\n" in texts[1]
        assert screen.query("#diff-1")  # opened from the first column: it against the second
        await pilot.press("escape")
        # From the second column, the diff is of its prompt against the other one.
        await wait_for(pilot, lambda: not isinstance(app.screen, Inspector), "the lab")
        app.screen.query(ModelColumn)[1].focus()
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, Inspector), "the inspector again")
        again = app.screen
        assert (
            isinstance(again, Inspector) and again.query("#diff-0") and not again.query("#diff-1")
        )
        # SmolLM2's template adds its default system prompt: the warning names the lab's key,
        # not the command line's --system (a trial had no --system to set).
        (warning,) = again.prompts[1][1].warnings
        assert "set a system prompt (F3)" in warning and "--" not in warning
        assert "made from, and the one the next run sends" in again.hints[1]
        await pilot.press("escape")
        # After a settings change, the answer on screen was made from its own prompt: shown,
        # with the next run's beside it (a trial read the next run's as the shown run's).
        await wait_for(pilot, lambda: not isinstance(app.screen, Inspector), "the lab")
        smol = lab.column_order()[1]
        lab.configure(smol, system="You are a cat.")
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, Inspector), "the inspector once more")
        third = app.screen
        assert isinstance(third, Inspector)
        names = [n for n, _ in third.prompts]
        assert names[1:] == [smol, f"{smol} · next run"], names
        made, nxt = (p.text for _, p in third.prompts[1:])  # type: ignore[union-attr]
        assert "You are a cat." in nxt and "You are a cat." not in made
        assert "SmolLM" in made  # the template's default system prompt, which it warned of
        assert third.focus_index == 1
        await pilot.press("escape")


async def test_inspector_diffs_the_column_it_was_opened_from_against_each_other(make_lab) -> None:
    """Three prompts: one diff tab per other column, each naming the pair (the third column's
    prompt was never in a diff when only the first two were compared)."""
    from textual.app import App
    from textual.widgets import TabPane

    lab = make_lab()
    gemma, smol = (lab.column(m) for m in lab.column_order())
    prompts = [
        ("gemma", lab.render(gemma)),
        ("[reverse]smol[/]", lab.render(smol)),  # a file name is never markup
        ("broken", "the model file is missing"),
        ("gemma again", lab.render(gemma)),
    ]

    class Host(App[None]):
        pass

    host = Host()
    async with host.run_test(size=SIZE) as pilot:
        host.push_screen(Inspector(prompts, focus_index=3))
        await wait_for(pilot, lambda: host.screen.query(TabPane), "the inspector's tabs")
        names = {str(p._title) for p in host.screen.query(TabPane)}
        diffs = {n for n in names if n.startswith("diff ")}
        assert diffs == {"diff gemma again ↔ gemma", "diff gemma again ↔ [reverse]smol[/]"}, names
        assert "[reverse]smol[/]" in names


async def test_quitting_stops_the_forced_choice_still_scoring(make_lab) -> None:
    """Closing the lab waits for each model's lock, which a forced choice scoring in the
    background holds: quitting must cancel it, not wait for every statement to be scored."""
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)  # the run is over: the forced choice for its turn starts now
        scoring = app.lab_screen._forced_cancel
        assert not scoring.is_set()
        await pilot.press("ctrl+q")  # autosaved, so nothing is asked
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert scoring.is_set()


async def test_save_reopen_and_quit_asks_when_unsaved(make_lab, tmp_path: Path) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        path = lab.path
        app.query_one("#transcript").focus()
        await pilot.press("e")
        app.screen.query_one("#text").text = "What exactly are you?"
        await pilot.press("ctrl+s")
        # An edit is on disk at once, like every other change (a trial found it kept to quit).
        assert lab.turns[0].content == "What exactly are you?" and not lab.dirty
        assert [t.content for t in store.load(path).turns] == ["What exactly are you?"]
    lab.release()
    again = Lab.open(path, pool=lab.pool)
    app2 = PsmlabApp(again)
    async with app2.run_test(size=SIZE) as pilot:
        screen = app2.lab_screen
        await wait_for(pilot, lambda: len(screen.states) == 2, "the reopened lab's columns")
        assert again.turns[0].content == "What exactly are you?"
        # The edit started a branch: the answers belong to the old question and are not shown
        # under the new one; the old branch keeps them.
        assert all(not st.samples and st.run_count == 0 for st in screen.states.values())
        old = [t for t in again.session.nodes if t.content == "What are you?"]
        assert len(old) == 1 and len(again.session.leaves()) == 2
        assert all(g.node == old[0].id for g in again.session.generations)
        # F8, Enter on the old question: its answers come back on screen.
        await pilot.press("f8")
        tree = app2.screen.query_one("#turn-tree")
        tree.move_cursor(next(n for n in tree.root.children if n.data == old[0].id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: again.turns[0].content == "What are you?", "moved back")
        assert all(len(st.samples) == 1 and st.samples[0].record for st in screen.states.values())
    again.release()


async def test_a_broken_model_shows_its_error_and_the_other_column_works(
    make_lab, demo_pair, tmp_path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(Path(demo_pair[1].path).read_bytes()[:40_000_000])
    lab = make_lab(specs=[demo_pair[0], spec_from_path(broken)])
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        good, bad = app.lab_screen.states[demo_pair[0].id], app.lab_screen.states["broken"]
        assert good.samples and good.samples[0].record is not None
        assert bad.error and "could not load" in bad.error


async def test_small_terminal_huge_paste_and_context_overflow(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_and_send(pilot, "word " * 20_000)
        await settle(pilot, app)
        assert all(
            st.error and "does not fit n_ctx" in st.error for st in app.lab_screen.states.values()
        )
        await pilot.resize_terminal(100, 30) if hasattr(pilot, "resize_terminal") else None
        await pilot.press("f1")
        from psmlab.tui.screens.dialogs import HelpScreen

        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        # Each key under the name the footer gives it (a trial: "f3 Setup" vs "Settings …").
        said = dict(app.screen.rows)  # type: ignore[attr-defined]
        assert said["f3"].startswith("Setup: ") and said["f4"].startswith("Label: ")
        await pilot.press("escape")
        assert app.is_running


async def test_keys_are_handled_while_two_models_stream(make_lab) -> None:
    import threading

    from psmlab.core.domain.types import TokenEvent

    lab = make_lab(max_tokens=300)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        # Once every column has shown tokens, the run's events wait until the keys were handled
        # (the models go on decoding meanwhile): however fast the machine, the run is not over
        # when they are pressed (a fixed length of run was a race a fast machine could lose).
        go_on = threading.Event()
        streamed = screen._from_worker
        seen: set[str] = set()

        def held(ev: object) -> None:
            streamed(ev)
            if isinstance(ev, TokenEvent):
                seen.add(ev.model_id)
                if len(seen) == len(screen.states):
                    go_on.wait(CEILING)

        screen._from_worker = held  # type: ignore[method-assign]
        await type_and_send(pilot, "Tell me a long story about a lighthouse keeper.")
        await wait_for(
            pilot,
            lambda: all(any(s.text for s in st.samples) for st in screen.states.values()),
            "tokens in every column",
        )
        try:
            await pilot.press("h", "e", "l", "l", "o")
            assert screen.generating
            assert app.query_one("#composer").text == "hello"
            # Keys that would change what the run records say why they wait, and what then.
            await pilot.press("f3", "ctrl+o")
            said = notices(app)
            assert "Still generating: Esc cancels, then F3" in said, said
            assert "Still generating: Esc cancels, then Ctrl+O opens" in said, said
            assert app.screen is screen, "a dialog opened mid-run"
            # Quitting mid-run asks first (it stopped the run unasked); Esc keeps it going.
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the quit question")
            assert "still generating" in app.screen.question, app.screen.question
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen, "the question closed")
            assert screen.generating and app.is_running
            await pilot.press("escape")
        finally:
            go_on.set()  # a failed assert must not leave the run's thread waiting
        await settle(pilot, app)


async def test_a_prefill_is_shown_green_while_the_answer_streams(make_lab) -> None:
    """While an answer streamed, its prefill was not on screen ("a student in the…" read as the
    model's own start); it appeared only when the run ended."""
    import dataclasses
    import threading

    from psmlab.core.domain.types import TokenEvent

    lab = make_lab(max_tokens=40)
    gemma = lab.columns[0]
    lab.columns[0] = dataclasses.replace(gemma, prefill="I am")
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        go_on = threading.Event()
        streamed = screen._from_worker

        def held(ev: object) -> None:  # the run waits, mid-answer, until the screen is read
            streamed(ev)
            if isinstance(ev, TokenEvent) and ev.model_id == gemma.id:
                go_on.wait(CEILING)

        screen._from_worker = held  # type: ignore[method-assign]
        await type_and_send(pilot, "Who are you?")
        col = next(c for c in app.query(ModelColumn) if c.state.model_id == gemma.id)
        try:
            await wait_for(pilot, lambda: bool(col.state.samples[0].text), "a streamed token")
            await pilot.pause()
            assert col.state.samples[0].record is None  # still streaming
            text = str(col.query_one(".col-text").render())
            assert text.startswith("I am"), text
            assert "given text (green)" in str(col.query_one(".col-header").render())
        finally:
            go_on.set()
        await settle(pilot, app)


async def _open_settings(pilot, app: PsmlabApp):
    """F3 on the first column: its settings dialog."""
    from psmlab.tui.screens.settings import SettingsDialog

    app.query(ModelColumn).first().focus()
    await pilot.press("f3")
    dialog = app.screen
    assert isinstance(dialog, SettingsDialog)
    return dialog


async def test_settings_dialog_validates_and_applies(make_lab) -> None:
    from psmlab.tui.screens.settings import SettingsDialog

    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _open_settings(pilot, app)
        await wait_for(pilot, lambda: dialog.focused is dialog.query_one("#format"), "focus")
        # Every sampling box has a visible label (a placeholder disappears once it holds a value).
        shown = {str(lab_.render()) for lab_ in dialog.query("Label")}
        assert {"temperature", "top_p", "top_k", "min_p", "repeat pen.", "max tokens"} <= shown
        dialog.query_one("#temperature").value = "-2"
        await pilot.press("ctrl+s")
        # The range is the fix (pydantic's "Input should be greater than or equal to 0" was not).
        want = "temperature: -2.0 is out of range; give a value at least 0 and at most 5"
        await wait_for(pilot, lambda: want in str(dialog.query_one("#error").render()), want)
        assert isinstance(app.screen, SettingsDialog)
        dialog.query_one("#max_tokens").value = "7"  # another field: the error stays
        await pilot.pause()
        assert want in str(dialog.query_one("#error").render())
        dialog.query_one("#temperature").value = "0"
        # Mended, its error goes (a trial's cleared steer field kept "file not found").
        await wait_for(pilot, lambda: not str(dialog.query_one("#error").render()), "cleared")
        # Every field's problem at once, each going as its field is mended (a trial fixed the
        # temperature only to be told of max tokens next).
        dialog.query_one("#temperature").value = "abc"
        dialog.query_one("#max_tokens").value = "-5"
        await pilot.press("ctrl+s")
        both = "temperature: 'abc' is not a float · max_tokens: -5 is out of range"
        await wait_for(pilot, lambda: both in str(dialog.query_one("#error").render()), both)
        dialog.query_one("#temperature").value = "0"
        await wait_for(
            pilot,
            lambda: str(dialog.query_one("#error").render()).startswith("max_tokens: -5"),
            "the other field's error alone",
        )
        dialog.query_one("#max_tokens").value = "7"
        await wait_for(pilot, lambda: not str(dialog.query_one("#error").render()), "cleared")
        dialog.query_one("#format").value = "hhh"
        dialog.query_one("#prefill").value = "I am"
        dialog.query_one("#seed").value = "123"
        await pilot.press("ctrl+s")
        cfg = lab.columns[0]
        assert (cfg.format, cfg.prefill, cfg.params.temperature, lab.seed) == (
            "hhh",
            "I am",
            0.0,
            123,
        )
        # The seed is the lab's: set in one column's dialog, said to apply to every column.
        assert any("the seed (123) applies to every column" in m for m in notices(app))
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        g = next(g for g in lab.session.generations if g.model == cfg.id)
        assert (g.format, g.prefill, g.seed, g.params["temperature"]) == ("hhh", "I am", 123, 0.0)
        app.query_one("#transcript").focus()
        await pilot.press("d")
        # Its answers hang on the turn: said to stay, and they do (a trial was promised that of
        # a last turn nothing hangs on, which is removed).
        from psmlab.tui.screens.dialogs import Confirm

        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the delete dialog")
        assert "its answers and anything after them stay in the tree" in app.screen.question
        # Drawn as what Enter presses: Cancel (a trial read the primary Delete as the default).
        from textual.widgets import Button

        assert app.screen.query_one("#cancel", Button).variant == "primary"
        assert app.screen.query_one("#delete", Button).variant == "default"
        assert app.screen.focused is app.screen.query_one("#cancel", Button)
        asked = lab.session.nodes[0].id
        await pilot.click("#delete")
        assert lab.turns == [] and [n.id for n in lab.session.nodes] == [asked]
        from psmlab.core.session.schema import TurnRecord

        lab.session.add_turn(TurnRecord(role="user", content="A message never answered"))
        app.lab_screen.reload()
        app.query_one("#transcript").focus()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the delete dialog")
        assert "nothing was recorded after the turn, so it is removed" in app.screen.question
        await pilot.click("#delete")
        assert [n.id for n in lab.session.nodes] == [asked]


async def test_settings_show_a_sessions_control_characters_inert(make_lab) -> None:
    """A session's system prompt and prefill with ESC sequences: the settings dialog's inputs
    passed them to the terminal (a red background, the window retitled). Shown as pictures;
    saved unchanged, the column's settings are what they were."""
    import dataclasses

    from psmlab.tui.screens.settings import SettingsDialog

    lab = make_lab()
    system, prefill = "sys \x1b[41mREDBG\x1b[0m", "\x1b]0;TITLE\x07X"
    lab.columns[0] = dataclasses.replace(lab.columns[0], system=system, prefill=prefill)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _open_settings(pilot, app)
        shown = (dialog.query_one("#system").value, dialog.query_one("#prefill").value)
        assert shown == ("sys ␛[41mREDBG␛[0m", "␛]0;TITLE␇X"), shown
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, SettingsDialog), "saved")
        assert (lab.columns[0].system, lab.columns[0].prefill) == (system, prefill)


async def test_an_annotation_whose_autosave_failed_is_not_said_saved(make_lab, tmp_path) -> None:
    """The session's file replaced by a folder: "Annotation saved" was shown while only the
    title said SAVE FAILED."""
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        assert lab.path is not None
        lab.path.unlink()
        lab.path.mkdir()
        col = app.query(ModelColumn).first()
        col.focus()
        await pilot.press("l")
        dialog = app.screen
        assert isinstance(dialog, AnnotateDialog)
        dialog.query_one("#labels").select("human-impostor")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("not on disk" in m for m in notices(app)), "the error")
        assert not any(m.startswith("Annotation saved") for m in notices(app))
        assert len(lab.session.annotations) == 1 and lab.save_error


async def test_every_action_is_in_the_command_palette(make_lab) -> None:
    from psmlab.tui.keys import ACTIONS, PALETTE_EXTRA

    app = PsmlabApp(make_lab())
    async with app.run_test(size=SIZE):
        commands = list(app.get_system_commands(app.screen))
        titles = {c.title for c in commands}
        assert len(titles) == len(commands), "an entry is listed twice"
        for c in app.lab_screen.system_commands():
            assert c.title not in c.help, c  # the lab's help lines never repeat the title
        for key, _, _, desc in ACTIONS:
            assert desc.split(" (")[0] in titles
            assert any(c.help.endswith(f"key {key}") for c in commands)
        for _, desc, _ in PALETTE_EXTRA:
            assert desc in titles
        # "session as" finds Save as first (a trial's Enter ran the export, which then matched
        # better: "Export the session as markdown").
        from textual.fuzzy import Matcher

        best = max(titles, key=Matcher("session as").match)
        assert best.startswith("Save the session as"), best


async def test_distribution_panel_and_token_probabilities(make_lab) -> None:
    lab = make_lab(max_tokens=16)
    lab.n_samples = 3
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        assert lab.logprobs == 5
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        await wait_for(  # the forced choice is computed in a worker after the run
            pilot,
            lambda: all(st.forced is not None or st.forced_error for st in screen.states.values()),
            "every column's forced choice",
        )
        for st in screen.states.values():
            assert st.forced_error is None
            assert st.auto and st.auto[0].n == 3
            f = st.forced
            assert f is not None and f.calibrated is not None  # a pending user message: PMI
            assert abs(sum(f.probs.values()) - 1) < 1e-6
            assert abs(sum(f.calibrated.values()) - 1) < 1e-6
            assert "calibrated by a content-free question (PMI)" in f.measures
            rec = st.samples[0].record
            assert rec.token_logprobs and len(rec.token_logprobs) == rec.n_tokens
        for col in app.query(ModelColumn):  # never a bare number: the panel says what it is
            dist = col.query_one(".col-dist")
            panel = str(dist.render())
            assert "forced choice · T=1 · P(persona | statements)" in panel
            assert "\nPMI top 3/" in panel and "\nraw top 3/" in panel
            # The lab's default settings (T 0.8, top_k 40, ...) are not what forced choice scores.
            assert "vs 3 samples: " in panel and "another distribution" in panel
            assert dist.tooltip == col.state.forced.measures
        col = app.query(ModelColumn).first()
        col.focus()
        await pilot.press("full_stop", "full_stop")
        assert col.state.cursor == 1
        foot = " ".join(str(col.query_one(".col-footer").render()).split())
        assert "token " in foot and "top:" in foot
        # Which distribution the probability is of (the samples came from a truncated one).
        assert "p(T=1)=" in foot, foot
        assert "token probs" in app.lab_screen.sub_title


async def test_the_picker_offers_every_run_not_only_the_newest(make_lab) -> None:
    """A run added by F5 never hides the ones before it: the picker lists both runs' answers,
    says which run each is, and adopts the older one when it is chosen."""
    lab = make_lab(max_tokens=6)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await pilot.press("f5")  # a second run of every column
        await wait_for(pilot, lambda: len(lab.session.generations) == 4, "the second run")
        await settle(pilot, app)
        first = app.query(ModelColumn).first()
        older = lab.runs(first.state.model_id)[0][0]
        picker = await _send_to_picker(pilot, "Really?")
        ol = picker.query_one("#choices")
        lines = [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]
        assert len(lines) == 5, lines  # 2 columns x 2 runs, and "send without"
        assert sum("run 1/2 · sample 1/1" in x for x in lines) == 2, lines
        assert sum("run 2/2 · sample 1/1" in x for x in lines) == 2, lines
        # An answer cut at max tokens says so before it is chosen (the tree says it after).
        ends = {g.id: g.finish_reason for g in lab.session.generations}
        for i in range(4):
            o = ol.get_option_at_index(i)
            assert ("cut at max tokens" in str(o.prompt)) == (ends[o.id] == "length"), o.prompt
        assert "length" in ends.values()  # 6 tokens: some answer ran out of them
        ol.highlighted = next(i for i in range(4) if ol.get_option_at_index(i).id == older.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(lab.turns) == 3, "the message sent")
        await settle(pilot, app)
        assert lab.turns[1].adopted_from == older.id


async def test_the_picker_says_which_answer_holds_a_speakers_line(make_lab) -> None:
    """A trial adopted "…my team.\nAssistant: What is your favorite food?" and was warned of
    the line only at the next run: the picker says it before the answer is chosen."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        gemma = lab.columns[0].id  # the base model: its frame reads "Assistant:" as a turn
        rec = lab.runs(gemma)[0][0]
        rec.text = "I work with my team.\nAssistant: What is your favorite food?"
        choices = {c.gen_id: c for c in app.lab_screen.adoptable()}
        assert "⚠ a line opens with 'Assistant:'" in choices[rec.id].label, choices[rec.id]
        others = [c for g, c in choices.items() if g != rec.id]
        assert others and not any("a line opens with" in c.label for c in others)


async def test_the_picker_says_when_a_run_repeats_an_earlier_one(make_lab) -> None:
    """A fixed seed repeats a run word for word: a trial's picker listed four identical runs
    as four readings. The repeat names the answer it repeats."""
    lab = make_lab(max_tokens=4)
    lab.seed = 7
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: len(lab.session.generations) == 4, "the second run")
        await settle(pilot, app)
        choices = {c.gen_id: c for c in app.lab_screen.adoptable()}
        for col in lab.columns:
            first, second = (run[0] for run in lab.runs(col.id))
            assert first.full_text == second.full_text  # the same seed and settings
            assert "same text as run 1 sample 1" in choices[second.id].label
            assert "same text" not in choices[first.id].label


async def test_enter_on_an_empty_box_says_why_nothing_was_sent(make_lab) -> None:
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        # Before any message a column does not offer F5 (which only says to send one first).
        bodies = lambda: [str(t.render()) for t in app.query(".col-text")]  # noqa: E731
        await wait_for(pilot, lambda: len(bodies()) == 2, "the columns")
        assert all("type a message below" in b and "F5" not in b for b in bodies()), bodies()
        composer = app.query_one("#composer")
        composer.focus()
        composer.insert("   \n  ")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("empty one is not sent" in m for m in notices(app)), "a notice"
        )
        assert lab.turns == [] and not lab.session.generations


async def test_the_footer_counts_a_persons_self_id_reading(make_lab) -> None:
    from psmlab.core.session.schema import Annotation

    lab = make_lab(max_tokens=4)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        col = app.query(ModelColumn).first()
        rec = col.state.samples[0].record
        lab.annotate(Annotation(generation_id=rec.id, self_id="none", labels=["guardian"]))

        def footer() -> str:
            return str(app.query(ModelColumn).first().query_one(".col-footer").render())

        app.lab_screen.reload()
        await wait_for(pilot, lambda: "guardian" in footer(), "the reading in the footer")
        col = app.query(ModelColumn).first()
        foot = footer()
        assert "labels on this sample: " in foot and "guardian 1" in foot, foot
        assert "self-id none 1" in foot and "other samples" not in foot, foot
        # Another sample's labels are not this one's: counted apart.
        other = col.state.samples[1].record
        lab.annotate(Annotation(generation_id=other.id, labels=["skynet"], annotator="bo"))
        app.lab_screen.reload()
        await wait_for(pilot, lambda: "other samples" in footer(), "the other sample's count")
        col = app.query(ModelColumn).first()
        foot = footer()
        assert "skynet" not in foot and "· 1 label on other samples" in foot, foot
        assert "cancelled" not in foot
        # A free label spelled like a reading is its own count, quoted: never a reading.
        lab.annotate(Annotation(generation_id=rec.id, labels=["self-id none"]))
        app.lab_screen.reload()
        await wait_for(pilot, lambda: '"self-id none"' in footer(), "the free label")
        foot = footer()
        assert "self-id none 1" in foot and '"self-id none" 1' in foot, foot
        # A new run streaming (its samples have no answer yet): the labels of the run before,
        # another turn's, are not counted as "on other samples" of it (a trial saw "2 on other
        # samples" under a turn nobody had labelled).
        import dataclasses

        col = app.query(ModelColumn).first()
        col.state.samples = [dataclasses.replace(x, record=None) for x in col.state.samples]
        col.refresh_view()
        await wait_for(pilot, lambda: "guardian" not in footer(), "the new run's footer")
        foot = footer()
        assert "labels on this sample" not in foot and "other samples" not in foot, foot


async def test_after_editing_a_turn_no_column_says_it_is_generating(make_lab) -> None:
    """A run's 'generating…' status ended with it: over the edited turn, which has no answers
    yet, each column says it is ready (it said 'generating…' until the next message)."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Hi")
        await settle(pilot, app)
        first = app.query(ModelColumn).first()
        assert first.state.samples and first.state.samples[0].record is not None
        lab.adopt(first.state.samples[0].record.id)
        app.lab_screen.reload()
        await pilot.pause()
        lab.edit_turn(0, "X")  # a new message on a new branch: nobody has answered it yet
        app.lab_screen.reload()

        def bodies() -> list[str]:
            return [str(t.render()) for t in app.query(".col-text")]

        await wait_for(
            pilot, lambda: len(bodies()) == 2 and "Name" not in " ".join(bodies()), "new columns"
        )
        for body in bodies():
            assert "generating" not in body and "no answer here yet" in body, body


async def test_blind_mode_is_kept_in_the_session_and_leaving_unsaved_work_asks(
    make_lab, tmp_path: Path
) -> None:
    """A trial reopened a blind session and saw the names before it could press Ctrl+B, and
    Ctrl+O left unsaved work without asking."""
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")  # nothing in the lab yet: nothing to save, nothing asked
        assert lab.blind and lab.path is None and not lab.dirty
        # An unsent message is lost on leaving: asked (a trial lost one to Ctrl+Q).
        composer = app.query_one("#composer")
        composer.insert("Are you conscious?")
        for key in ("ctrl+o", "ctrl+q"):
            await pilot.press(key)
            assert isinstance(app.screen, Confirm), key
            assert "not sent" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("enter")  # by reflex: Cancel is the default, the message stays
            assert app.is_running and lab.blind and composer.text == "Are you conscious?"
        composer.clear()
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        path = lab.path
        assert path is not None and not lab.dirty and store.load(path).blind
    lab.release()
    again = Lab.open(path, pool=lab.pool)
    assert again.blind
    app2 = PsmlabApp(again)
    async with app2.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app2.query(ModelColumn)) == 2, "the columns")
        await pilot.pause()
        heads = [str(c.query_one(".col-header").render()) for c in app2.query(ModelColumn)]
        shown = " ".join(heads) + str(app2.title) + str(app2.sub_title)
        assert all(c.blind for c in app2.query(ModelColumn)), heads
        assert "Model A" in shown and "gemma" not in shown and "smol" not in shown, shown
        await pilot.press("ctrl+b")
        assert not again.blind and not store.load(path).blind  # unblinding is saved too
    again.release()


async def test_open_keeps_a_wrong_path_and_the_opened_session_leaves_no_lock(
    make_lab, tmp_path: Path
) -> None:
    """Ctrl+O with a wrong path said so in a toast and dropped the typed path; and after
    opening another session, a clean quit left its .lock file behind."""
    from textual.widgets import Input, Label

    from psmlab.tui.screens.dialogs import AskValue

    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    # Opened by its bare name, as `psmlab open NAME` finds it (Ctrl+O said "not found").
    sessions = Path(os.environ["PSMLAB_SESSIONS_DIR"])
    sessions.mkdir(parents=True, exist_ok=True)
    other = sessions / "other.json"
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        assert lab.path is not None
        other.write_bytes(lab.path.read_bytes())
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input))
        dialog = app.screen
        dialog.query_one(Input).value = str(lab.path)  # the session open here: said so
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "open here" in str(dialog.query_one("#error", Label).render())
        )
        typed = str(tmp_path / "nope.json")
        dialog.query_one(Input).value = typed
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "not found" in str(dialog.query_one("#error", Label).render())
        )
        assert app.screen is dialog and dialog.query_one(Input).value == typed
        dialog.query_one(Input).value = "other"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.lab_screen.lab.path == other, "the other session")
        assert (sessions / ".other.json.lock").exists()  # held while it is open
        # Opened with a message typed and not sent, "not kept" as the dialog says: it is not
        # left in the box to be sent into the other session by Enter.
        composer = app.query_one("#composer")
        composer.insert("Who made you?")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the question")
        assert "not sent" in str(app.screen.query_one(".dialog-title").render())
        await pilot.click("#leave")
        await wait_for(pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input))
        app.screen.query_one(Input).value = str(lab.path)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.lab_screen.lab.path == lab.path, "back to the first")
        assert composer.text == ""
    assert not (sessions / ".other.json.lock").exists()
    lab.release()


async def test_save_as_writes_a_named_file_and_goes_on_there(make_lab, tmp_path: Path) -> None:
    """A trial could not save to a path of its choosing from the lab (only by cp)."""
    from textual.widgets import Input

    from psmlab.tui.screens.dialogs import AskValue

    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        first = lab.path
        taken = tmp_path / "taken.json"
        taken.write_text("{}")
        (tmp_path / "afile").write_text("x")
        for bad, said in (
            (str(taken), "exists: give a new file name"),
            ("", "give a file name"),
            # A markdown name was saved as "X.md.json": the markdown is Ctrl+E's.
            ("sessions/X.md", "a session is saved as JSON: name it sessions/X.json (Ctrl+E"),
        ):
            app.lab_screen.action_save_as()
            await wait_for(
                pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input)
            )
            app.screen.query_one(Input).value = bad
            await pilot.press("enter")
            assert isinstance(app.screen, AskValue), bad  # kept open, saying why
            assert said in str(app.screen.query_one("#error").render())
            # How to leave the field is said (it has no buttons).
            from textual.widgets import Label

            hints = [str(x.render()) for x in app.screen.query(Label)]
            assert "Enter saves it there · Esc cancels" in hints, hints
            await pilot.press("escape")
        # A path that cannot be written (a folder that is a file) or a folder's name: said in
        # the dialog, the typed path kept to correct (a trial's "Permission denied" came as a
        # toast, the dialog and the path gone); the lab goes on in its old file.
        (tmp_path / "adir").mkdir()
        for bad, said in (
            (str(tmp_path / "afile" / "x"), "a part of that path is a file"),
            (str(tmp_path / "adir"), "is a folder, not a session file"),
        ):
            app.lab_screen.action_save_as()
            await wait_for(
                pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input)
            )
            app.screen.query_one(Input).value = bad
            await pilot.press("enter")
            assert isinstance(app.screen, AskValue), bad
            assert said in str(app.screen.query_one("#error").render())
            assert app.screen.query_one(Input).value == bad
            await pilot.press("escape")
        assert lab.path == first and not (tmp_path / "adir.json").exists()
        # Its own file: a plain save (a trial was told the lab itself held it "in use").
        app.lab_screen.action_save_as()
        await wait_for(pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input))
        app.screen.query_one(Input).value = str(first)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(f"Saved {first}" in m for m in notices(app)))
        assert any("is this session's own file: saved there" in m for m in notices(app))
        assert not any("in use" in m for m in notices(app))
        app.lab_screen.action_save_as()
        await wait_for(pilot, lambda: isinstance(app.screen, AskValue) and app.screen.query(Input))
        name = tmp_path / "my runs" / "[bold]one"
        app.screen.query_one(Input).value = str(name)
        await pilot.press("enter")
        # A folder that is not there is said in the dialog, not made (a typo's folder was).
        assert isinstance(app.screen, AskValue)
        assert "does not exist" in str(app.screen.query_one("#error").render())
        (tmp_path / "my runs").mkdir()
        await pilot.press("enter")
        target = name.with_name("[bold]one.json")
        await wait_for(pilot, lambda: lab.path == target, "the lab to move to the new file")
        assert store.load(target).id == store.load(first).id  # the same session, both kept
        await pilot.press("f5")  # a new run is autosaved to the new file only
        await wait_for(pilot, lambda: len(store.load(target).generations) == 4, "the new run")
        # The lab's seed is fixed (7): the new run repeats the one before, and says so.
        assert any("Seed fixed at 7 (F3): a run with unchanged" in m for m in notices(app))
        await settle(pilot, app)
        assert len(store.load(first).generations) == 2


async def test_typing_into_a_focused_column_starts_a_message(make_lab) -> None:
    """A trial typed "ok really" with a column focused: its letters are no column key, so they
    go to the message box (with the focus); the column's own keys still act (F1)."""
    from psmlab.tui.widgets.composer import Composer

    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        col = app.query(ModelColumn).first()
        col.focus()
        await pilot.pause()
        await pilot.press("o", "k", "space", "r", "e", "a", "l", "l", "y")
        box = app.query_one(Composer)
        assert box.has_focus and box.text == "ok really", box.text
        assert not lab.session.generations  # nothing ran
        # Typed fast (tmux send-keys, a paste), the keys queue at the column before the focus
        # moves: once the message started, its column keys ("a", "r") are letters too.
        from textual import events

        box.clear()
        col.focus()
        await pilot.pause()
        for ch in "no area":
            col.post_message(events.Key("space" if ch == " " else ch, ch))
        await wait_for(pilot, lambda: box.text == "no area", "the queued letters in the box")
        assert not lab.session.generations
        # Editing keys of the burst are the message's too, in order (a trial's 'the' + two
        # backspaces + 'ey' came out 'the': the backspaces were lost at the column).
        box.clear()
        col.focus()
        await pilot.pause()
        for key, ch in [("t", "t"), ("h", "h"), ("e", "e"), ("backspace", None),
                        ("backspace", None), ("e", "e"), ("y", "y")]:  # fmt: skip
            col.post_message(events.Key(key, ch))
        await wait_for(pilot, lambda: box.text.endswith("y"), "the burst in the box")
        assert box.text == "tey", box.text
        box.clear()
        box.insert("no area")
        col.focus()
        await pilot.pause()
        await pilot.press("s")  # a column key: its settings, not a letter in the box
        await wait_for(pilot, lambda: app.screen is not app.lab_screen, "the settings dialog")
        assert box.text == "no area"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.lab_screen, "the lab again")
        # A column key with nothing to act on (no answer to adopt, no message to regenerate)
        # is a letter too: 'are you sure?' typed into a fresh column lost its 'ar'.
        box.clear()
        col.focus()
        await pilot.pause()
        await pilot.press("a", "r", "e")
        await wait_for(pilot, lambda: box.text == "are", "the letters in the box")
        assert not lab.session.generations and not lab.turns
        # "[" and "]" with no other sample to step to: a trial's "[bold]x[/]" lost its "[".
        box.clear()
        col.focus()
        await pilot.pause()
        await pilot.press("left_square_bracket", "b", "right_square_bracket")
        await wait_for(pilot, lambda: box.text == "[b]", "the brackets in the box")


async def test_a_paste_into_a_column_or_the_transcript_goes_to_the_message_box(make_lab) -> None:
    """A trial's bracketed paste with a column (or the transcript) focused was dropped, while a
    typed letter went to the box: the paste goes there too, markup and newlines as they are."""
    from textual import events

    from psmlab.tui.widgets.composer import Composer
    from psmlab.tui.widgets.transcript import TranscriptView

    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(Composer)
        for widget in (app.query(ModelColumn).first(), app.query_one(TranscriptView)):
            box.clear()
            widget.focus()
            await pilot.pause()
            widget.post_message(events.Paste("pasted [red]one\nand two"))
            await wait_for(pilot, lambda: box.text == "pasted [red]one\nand two", "the paste")
            assert box.has_focus
        assert not lab.session.generations and not lab.turns  # pasted, not sent


async def test_a_message_holding_a_control_character_is_not_sent_unsaid(make_lab) -> None:
    """A trial pasted "AB\x1b[31mCD": the text area took it as "^[31mCDAB", and that was kept
    as the user's turn. A control character in the box is said, and the message stays to mend;
    a Windows paste's "\r\n" is a newline, not a control character."""
    from textual import events

    from psmlab.tui.widgets.composer import Composer

    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(Composer)
        box.focus()
        await pilot.pause()
        # Posted to the app, as the terminal's driver does: it forwards a paste to the focused
        # widget once (posted to the box, the paste bubbled to the app and came in twice).
        app.post_message(events.Paste("AB\x1b[31mCD"))
        await wait_for(pilot, lambda: "CD" in box.text, "the paste")
        # A bracketed paste shows its controls as symbols (drawn raw, ESC moved the cursor and
        # the box drew lines over each other: a trial's), and says so.
        assert box.text == "AB\u241b[31mCD", repr(box.text)
        await wait_for(
            pilot,
            lambda: any("The paste held control characters (ESC)" in m for m in notices(app)),
            "the paste's notice",
        )
        # Keys that arrive as text (a terminal without bracketed paste) are refused on Enter.
        box.clear()
        box.insert("AB\x1b[31mCD")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any("control character (ESC" in str(n.message) for n in app._notifications),
            "the notice",
        )
        assert "\x1b" in box.text and not lab.turns and not lab.session.generations
        box.clear()
        app.post_message(events.Paste("one\r\ntwo"))
        await wait_for(pilot, lambda: "two" in box.text, "the second paste")
        assert box.text == "one\ntwo", repr(box.text)
        assert "\r" not in box.text, repr(box.text)
        # A pasted file's last line break is not sent; the one inside the message is.
        box.clear()
        app.post_message(events.Paste("Who are you?\nReally.\n"))
        await wait_for(pilot, lambda: "Really" in box.text, "the third paste")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(lab.turns), "the message")
        assert lab.turns[0].content == "Who are you?\nReally.", repr(lab.turns[0].content)
        # Its last line break is not "typed after sending": the box is emptied, unsaid.
        await wait_for(pilot, lambda: box.text == "", "the box emptied")
        assert not any("What you typed after sending" in m for m in notices(app))


async def test_typing_into_the_transcript_starts_a_message(make_lab) -> None:
    """A trial typed "good" + Enter with the transcript focused: g and o did nothing, d opened
    the delete dialog and Enter deleted the turn. Letters that are none of its keys start a
    message, as in a column; e and d still act on a highlighted turn."""
    from textual import events

    from psmlab.tui.widgets.composer import Composer
    from psmlab.tui.widgets.transcript import TranscriptView

    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(Composer)
        view = app.query_one(TranscriptView)
        # No turn yet: even e and d have nothing to act on, so they are letters.
        view.focus()
        await pilot.pause()
        await pilot.press("d", "o")
        await wait_for(pilot, lambda: box.text == "do", "the letters in the box")
        box.clear()
        await type_and_send(pilot, "Are you a human?")
        await settle(pilot, app)
        turns = len(lab.turns)
        view.focus()
        await pilot.pause()
        for ch in "good":  # fast, as tmux send-keys or a paste: queued before the focus moves
            view.post_message(events.Key(ch, ch))
        await wait_for(pilot, lambda: box.text == "good", "the word in the box")
        assert box.has_focus and app.screen is app.lab_screen and len(lab.turns) == turns
        box.clear()
        view.focus()
        await pilot.pause()
        await pilot.press("d")  # its own key, with a turn to act on: the delete dialog
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), "the delete question")
        assert box.text == ""
        await pilot.press("enter")  # the Enter of a message begun with d: Cancel, kept
        await wait_for(pilot, lambda: app.screen is app.lab_screen, "the lab again")
        assert len(lab.turns) == turns
        # Said: a Cancel by Enter read as a Delete that did nothing (an audit).
        assert any("not deleted" in n for n in notices(app)), notices(app)


async def test_a_forced_choice_stays_when_another_column_continues_the_adopted_answer(
    make_lab,
) -> None:
    """A trial adopted the chat model's answer and regenerated the base column (which then
    continues that answer): the chat column's forced choice for the message it answered
    vanished ('none for this message')."""
    lab = make_lab(max_tokens=6)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Are you a human?")
        await settle(pilot, app)
        first, second = list(app.query(ModelColumn))
        await wait_for(pilot, lambda: second.state.forced is not None, "the forced choice")
        scored = second.state.forced
        second.focus()
        await pilot.pause()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        first.focus()
        await pilot.pause()
        await pilot.press("r")
        await wait_for(pilot, lambda: len(lab.session.generations) == 3, "the new run")
        await settle(pilot, app)

        def scoring() -> bool:
            return any(w.group == "forced" and w.is_running for w in app.lab_screen.workers)

        await wait_for(pilot, lambda: not scoring(), "the scoring pass after the run")
        await pilot.pause()
        assert second.state.forced == scored


async def test_a_second_enter_opens_no_second_picker_and_letters_typed_after_are_kept(
    make_lab,
) -> None:
    """A trial pressed Enter twice (two pickers stacked; the second was stale) and typed on at
    once (the letters reached the box while the picker opened, and sending cleared them)."""
    from psmlab.tui.widgets.composer import Composer

    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        box = app.query_one(Composer)
        list(app.query(ModelColumn))[1].focus()
        await pilot.press("down")  # an answer looked at: the picker's default
        await pilot.pause()
        await _send_to_picker(pilot, "Next one")
        box.post_message(Composer.Submitted("Next one"))  # the second Enter, queued behind
        box.insert("typed after")  # letters that reached the box before the picker took keys
        await pilot.pause(0.1)
        assert sum(isinstance(s, AdoptPicker) for s in app.screen_stack) == 1
        await pilot.press("enter")  # the default answer
        await wait_for(pilot, lambda: len(lab.turns) == 3, "the message sent")
        await settle(pilot, app)
        assert lab.turns[2].content == "Next one"
        assert box.text == "typed after"
        assert not isinstance(app.screen, AdoptPicker)


async def test_f4_from_the_message_box_acts_on_the_column_looked_at_last(make_lab) -> None:
    """F2, F3 and F4 outside a column acted on the first column, while the answer picker
    offered the last-viewed column's answer: one rule now, the column the user was in last."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        second = list(app.query(ModelColumn))[1]
        second.focus()
        await pilot.pause()
        app.query_one("#composer").focus()
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateDialog), "the dialog")
        assert app.lab_screen.display_name(second.state.model_id) in app.screen.target


async def test_the_picker_shows_an_answer_as_adopting_it_writes_it(make_lab) -> None:
    """A prefilled answer was listed without its prefill ("in a small town…"), while adopting
    it wrote "I grew up in a small town…" into the transcript."""
    lab = make_lab(max_tokens=4)
    smol = lab.columns[1].id
    lab.configure(smol, prefill="I grew up")
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Where are you from?")
        await settle(pilot, app)
        picker = await _send_to_picker(pilot, "Really?")
        rows = [c for c in picker.choices if c.column == smol]
        assert rows and all(c.text.startswith("I grew up") for c in rows), rows
        await pilot.press("escape")


async def test_p_in_a_column_shows_the_panel_a_short_window_cuts(make_lab) -> None:
    """At 80x24 the forced choice, the archetypes and the labeller's name fell into "… 21 more
    lines cut", which no key reached (only a mouse tooltip or a bigger window)."""
    from psmlab.tui.screens.dialogs import TextScreen

    lab = make_lab(max_tokens=8)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: all(st.forced is not None for st in screen.states.values()),
            "the forced choice",
        )
        first = next(iter(app.query(ModelColumn)))
        await wait_for(
            pilot, lambda: "(p: all)" in str(first.query_one(".col-dist").render()), "a cut panel"
        )
        first.focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), "the whole panel")
        body = " ".join(str(app.screen.body).split())
        assert "forced choice ·" in body and "archetypes" in body and "markers" in body, body
        # The labeller whole, with what its kappa was measured against and on how many texts
        # (the column's brief "self-id (κ 0.59)" said neither, even at 120x40).
        assert "self-id κ" in body and "vs gold test n=" in body, body
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, TextScreen), "closed")
        # The prompt's warnings whole: the column cuts each to a line (a trial's "⚠ the
        # messages contain <|im_end|>, ‹|im_start…" was cut in `p` too).
        from psmlab.tui.keys import in_lab_words

        chat = next(c for c in app.query(ModelColumn) if c.current and c.current.record.warnings)
        assert "template added text (F2" in str(chat.query_one(".col-footer").render())
        chat.focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, TextScreen), "the whole panel")
        body = " ".join(str(app.screen.body).split())
        for w in chat.current.record.warnings:
            assert " ".join(in_lab_words(w).split()) in body, body
        await pilot.press("escape")


async def test_the_settings_refuse_max_tokens_no_prompt_can_fit(make_lab) -> None:
    """40128 typed by mistake was "Settings saved"; the run then failed on n_ctx."""
    from psmlab.tui.screens.settings import SettingsDialog

    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        first = next(iter(app.query(ModelColumn)))
        first.focus()
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsDialog), "the settings")
        box = app.screen.query_one("#max_tokens")
        box.value = "40128"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsDialog)
        err = str(app.screen.query_one("#error").render())
        assert "does not fit this model's context" in err, err
        await pilot.press("escape")


async def test_a_run_that_never_started_claims_no_run(make_lab) -> None:
    """Every column's prefill could not follow an adopted answer: the run failed before it
    began, and both headers claimed a run over "no answer here yet", the run they had shown
    gone from view."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        cols = list(app.query(ModelColumn))
        cols[0].focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adopted answer")
        for c in lab.columns:
            lab.configure(c.id, prefill="I am")
        await pilot.press("f5")
        await wait_for(
            pilot, lambda: any("prefill" in n for n in notices(app)), "the run's error said"
        )
        await settle(pilot, app)
        for c in app.query(ModelColumn):
            # The runs there are (those the adopted answer was chosen from), shown again.
            runs = lab.runs(c.state.model_id)
            assert c.state.run_count == len(runs) == 1
            assert [s.record.id for s in c.state.samples if s.record] == [g.id for g in runs[0]]
            assert "no answer here yet" not in str(c.query_one(".col-dist").render())


async def test_a_column_that_failed_before_a_word_claims_no_new_run(make_lab) -> None:
    """One column's prefill could not follow the adopted answer: the other ran, and the failed
    one's header said "run 1/1" over its error (a run that never was)."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        cols = list(app.query(ModelColumn))
        cols[0].focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adopted answer")
        failing = lab.columns[1].id
        lab.configure(failing, prefill="I am")
        await pilot.press("f5")
        await settle(pilot, app)
        st = app.lab_screen.states[failing]
        assert st.error and "prefill" in st.error
        assert st.run_count == len(lab.runs(failing))  # the runs there are, no more
        other = app.lab_screen.states[lab.columns[0].id]
        assert any(s.record is not None for s in other.samples)  # the other column ran


async def test_ctrl_c_says_in_words_how_to_quit(make_lab) -> None:
    """Textual's own Ctrl+C toast is markup, which the lab shows as written ("Press
    [b]ctrl+q[/b]", a trial saw it): the lab's says the key, and how to stop a generation."""
    app = PsmlabApp(make_lab(max_tokens=4))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+c")
        quit_toast = "Press Ctrl+Q to quit the app (Esc stops a generation)"
        await wait_for(pilot, lambda: quit_toast in notices(app), "the toast")
        assert not any("[b]" in n for n in notices(app))


async def test_sending_after_continuations_asks_which_stands_in_the_turn(make_lab) -> None:
    """After an adoption, F5 made each column continue the adopted answer; sending then went
    on from the turn as it was and dropped the continuations, with no picker and no word.
    And a message whose runs were left behind (nothing to adopt) refused to send, naming a
    "send without one" it offered nowhere."""
    lab = make_lab(max_tokens=8)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        first = next(iter(app.query(ModelColumn)))
        first.focus()
        await pilot.press("ctrl+a")  # adopt the first column's answer
        await wait_for(pilot, lambda: len(lab.turns) == 2, "the adoption")
        adopted = lab.turns[1]
        await pilot.press("f5")  # each column continues the adopted answer
        await wait_for(pilot, lambda: lab.continued_at_head(), "runs at the adopted turn")
        await settle(pilot, app)
        picker = await _send_to_picker(pilot, "Go on.")
        assert picker.continuing and [t.role for t in lab.turns] == ["user", "assistant"]
        conts = {g.id for g in lab.session.generations_at(adopted.id)}
        assert picker.choices and {c.gen_id for c in picker.choices} <= conts
        chosen = picker.choices[0].gen_id
        assert chosen in conts
        ol = picker.query_one("#choices")
        ol.highlighted = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(lab.turns) == 3, "the message sent")
        await settle(pilot, app)
        # The continuation stands in the turn's place (a branch: the turn as it was is kept).
        assert lab.turns[1].adopted_from == chosen and lab.turns[1].id != adopted.id
        assert any(t.id == adopted.id for t in lab.session.nodes)
        assert lab.turns[2].content == "Go on."
        # A user message edited after its runs has nothing to adopt: the picker offers only
        # two user turns in a row, and sending goes on when that is chosen.
        lab.edit_turn(2, "Go on, please.")
        app.lab_screen.refresh_transcript()
        await settle(pilot, app)
        picker = await _send_to_picker(pilot, "Hello?")
        assert picker.choices == [] and not picker.continuing
        await pilot.press("end", "enter")
        await wait_for(pilot, lambda: len(lab.turns) == 4, "the message sent")
        assert [t.role for t in lab.turns][-2:] == ["user", "user"]


def test_a_continuations_picker_row_shows_what_it_added_after_a_short_given_start() -> None:
    """A trial's nine continuations of one adopted answer read alike: each row showed the
    given start, and what each model added was cut off behind it."""
    from psmlab.tui.screens.adopt_picker import Choice

    given = "(Grimly) Ah, you are. A bounty hunter, a true hero. I've seen many of your kind."
    c = Choice("g1", "gemma-3-270m", 1, 3, given + " I am an old\nrobot.", "ai", given=given)
    assert c.line() == (
        "gemma-3-270m · sample 1/3 [ai]: «(Grimly) Ah, you …» + I am an old robot."
    ), c.line()
    assert Choice("g2", "m", 1, 1, given, given=given).line().endswith("» + (nothing)")
    assert Choice("g3", "m", 1, 1, "I am Bob.").line() == "m · sample 1/1: I am Bob."


async def test_compare_with_one_run_and_one_column_says_why(make_lab, demo_pair) -> None:
    """`c` compares one run with the next column's; with no other column a trial read "Only
    one run" as the README's promise broken: it says why now."""
    lab = make_lab(max_tokens=2, specs=[demo_pair[1]])
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "Hi")
        await settle(pilot, app)
        app.query(ModelColumn).first().focus()
        app.lab_screen.action_compare()
        await wait_for(
            pilot,
            lambda: any("Only one run and no other column: F5 or r" in m for m in notices(app)),
            "the notice",
        )


async def test_the_inspector_opens_before_any_answer(make_lab) -> None:
    """F2 with no answer at the turn (a fresh lab, or a message whose answers have not come):
    the next run's prompt, not a crash on the missing sample (a review)."""
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: all(st.status != "loading model…" for st in app.lab_screen.states.values()),
            "the models",
        )
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, Inspector), "the inspector")
        assert app.is_running and len(app.screen.prompts) == 2
        assert all(h.startswith("The prompt the next run sends") for h in app.screen.hints)
