"""A run that failed on its chat template, then a format chosen for the next run: the column says
which format failed and which comes next, on the real demo model with a broken template."""

from __future__ import annotations

from pathlib import Path

from psmlab.core.models.registry import spec_from_path
from psmlab.tui.app import PsmlabApp
from psmlab.tui.widgets.forced_lines import forced_block
from tests.gguf_tools import rewrite_strings
from tests.tui.conftest import settle, type_and_send, wait_for

SIZE = (120, 40)


async def test_a_failed_runs_format_stays_its_own_after_a_new_one_is_chosen(
    make_lab, demo_pair, tmp_path: Path
) -> None:
    broken = rewrite_strings(
        demo_pair[1].path, tmp_path / "broken.gguf", {"tokenizer.chat_template": "{% for %}"}
    )
    lab = make_lab(max_tokens=4, specs=[spec_from_path(str(broken))])
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        mid = lab.columns[0].id
        col = screen.column_widget(mid)
        assert col is not None and screen.states[mid].error
        header = lambda: str(col.query_one(".col-header").render())  # noqa: E731
        assert "· template" in header() and "next run" not in header()
        st = screen.states[mid]
        await wait_for(pilot, lambda: st.forced_error is not None, "the forced choice's error")
        assert "earlier settings" not in forced_block(st).plain
        lab.configure(mid, format="chatml")  # as F3 does
        screen.states[mid].format = "chatml"
        screen._refresh(mid)
        await pilot.pause()
        # The error is the template's: the header named chatml over it, as if chatml failed.
        assert "is broken" in screen.states[mid].error
        assert "· template" in header() and "next run: chatml" in header(), header()
        # Likewise the forced choice's error is the old format's until the next run.
        assert "with the earlier settings" in forced_block(st).plain


async def test_an_unexpected_error_in_the_forced_choice_stays_in_its_panel(
    make_lab, monkeypatch
) -> None:
    """A trial's half-upgraded install raised a TypeError in the forced-choice worker: the whole
    lab closed. It is that column's panel's error now, and the lab goes on."""
    from psmlab.core.run.lab_measure import LabInstruments

    def broken(*args, **kwargs):
        raise TypeError("render() got an unexpected keyword argument 'model'")

    monkeypatch.setattr(LabInstruments, "forced_choice", broken)
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: all(st.forced_error for st in screen.states.values()),
            "each column's forced-choice error",
        )
        for st in screen.states.values():
            assert "internal error: TypeError" in forced_block(st).plain
        assert app.is_running and app.screen is screen


async def test_a_session_none_of_whose_models_opens_says_where_its_answers_are(
    demo_pair, pool, tmp_path: Path, monkeypatch
) -> None:
    """A trial's session whose one model file changed opened to a blank lab once the notice
    went: the columns' place says why and where the recorded answers are."""
    import shutil

    from psmlab.core.run.lab import Lab
    from psmlab.core.session import file as store

    monkeypatch.setenv("PSMLAB_SESSIONS_DIR", str(tmp_path / "sessions"))
    model = tmp_path / "smol.gguf"
    shutil.copyfile(demo_pair[1].path, model)
    from psmlab.core.domain.types import SamplingParams

    lab = Lab([spec_from_path(str(model))], pool=pool, params=SamplingParams(max_tokens=2))
    lab.send("What are you?")
    lab.run()  # an answer: the model is recorded in the session
    path = tmp_path / "s.json"
    lab.save(path)
    lab.release()
    with model.open("ab") as f:
        f.write(b"X")  # the recorded file has changed
    again = Lab.open(path, pool=pool)
    assert not again.columns and any("not opened as a column" in w for w in again.warnings)
    app = PsmlabApp(again)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        said = str(app.lab_screen.query_one("#no-columns").render())
        assert "No model column" in said and "s.json" in said
    again.release()
    assert store.load(path).turns  # the file is as it was


async def test_a_failed_run_does_not_describe_the_earlier_answer_over_its_error(make_lab) -> None:
    """A trial's column whose prefill could not go with continuing the adopted answer failed,
    and its header still said "continues the adopted answer" and how that earlier answer
    ended, above the error: the header describes what the body shows."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        screen = app.lab_screen
        mid = lab.columns[0].id
        col = screen.column_widget(mid)
        assert col is not None
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        await pilot.press("f5")
        await settle(pilot, app)
        header = lambda: str(col.query_one(".col-header").render())  # noqa: E731
        assert "continues the adopted answer" in header(), header()
        lab.configure(mid, prefill="I am")  # as F3 does
        screen.states[mid].prefill = "I am"
        await pilot.press("f5")
        await settle(pilot, app)
        assert "prefill" in (screen.states[mid].error or "")
        assert "continues" not in header() and "tok/s" not in header(), header()
        # The failed run had the prefill: nothing is left to change for the next one.
        assert "next run" not in header(), header()
