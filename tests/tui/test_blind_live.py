"""Blind mode toggled with answers on screen, and the header's `next run: …` for every setting
changed since the shown run, driven by keys on the real demo models."""

from __future__ import annotations

from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.settings import SettingsDialog
from psmlab.tui.widgets.column import ModelColumn
from psmlab.tui.widgets.transcript import TranscriptView
from tests.tui.conftest import CEILING, notices, settle, type_and_send, wait_for

SIZE = (160, 45)


def _text(col: ModelColumn, part: str) -> str:
    return str(col.query_one(part).render())


def _columns(app: PsmlabApp) -> list[ModelColumn]:
    return list(app.query(ModelColumn))


async def _shown(pilot, app: PsmlabApp, blind: bool) -> None:
    """Wait until both columns on screen are drawn in this mode and laid out (a column mounted
    anew gets its size, and its resize event, only then), and every message is handled."""
    await wait_for(
        pilot,
        lambda: (
            len(_columns(app)) == 2
            and all(c.blind == blind and c.content_size.width for c in _columns(app))
        ),
        "the columns drawn " + ("blind" if blind else "named"),
    )
    await pilot.pause()


def _assert_blind(app: PsmlabApp) -> None:
    for c in _columns(app):
        dist = _text(c, ".col-dist")
        assert "hidden in blind mode" in dist, dist
        assert "auto labels" not in dist and "self-id" not in dist and "forced choice ·" not in dist
        foot = _text(c, ".col-footer")
        assert "self-id" not in foot  # the shown sample's automatic label
        assert " tok" not in foot, foot  # a token count names the tokenizer
        head = _text(c, ".col-header")
        assert c.state.model_id not in head and f"· {c.state.kind} ·" not in head, head
        assert "tok/s" not in head, head  # a model's speed names its size


async def test_blind_mode_hides_and_reveals_what_is_on_screen_at_once(make_lab) -> None:
    lab = make_lab(max_tokens=8)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await wait_for(  # the forced choice is computed in a worker after the run
            pilot,
            lambda: all("forced choice ·" in _text(c, ".col-dist") for c in _columns(app)),
            "every column's forced choice",
        )
        for c in _columns(app):
            assert "auto labels over 2 samples" in _text(c, ".col-dist")
            assert "self-id" in _text(c, ".col-footer")
        await pilot.press("ctrl+b")
        assert lab.blind
        await _shown(pilot, app, blind=True)
        _assert_blind(app)  # at once, not from the next run on
        # A resize redraws the panel at the new width: still hidden.
        wide = {c.state.model_id: c.content_size.width for c in _columns(app)}
        await pilot.resize_terminal(120, 40)
        await wait_for(
            pilot,
            lambda: all(c.content_size.width < wide[c.state.model_id] for c in _columns(app)),
            "the narrower columns",
        )
        await pilot.pause()
        _assert_blind(app)
        # Nor does anything else say which model wrote what: the answer picker's entries carry
        # no label, the answers no telling leading space, and the settings (format, system
        # prompt) stay shut.
        choices = screen.adoptable()
        assert len(choices) == 4 and all(c.label == "" for c in choices), choices
        for c in _columns(app):
            body = _text(c, ".col-text")
            assert body and body == body.lstrip(), repr(body)
        _columns(app)[0].focus()
        await pilot.press("f3")
        await pilot.pause()
        assert not isinstance(app.screen, SettingsDialog)
        await pilot.press("ctrl+b")
        assert not lab.blind
        await _shown(pilot, app, blind=False)
        for c in _columns(app):  # everything back at once
            dist = _text(c, ".col-dist")
            assert "auto labels over 2 samples" in dist and "forced choice ·" in dist, dist
            assert "self-id" in _text(c, ".col-footer")
            head = _text(c, ".col-header")
            assert head.startswith(c.state.model_id) and f"· {c.state.kind} ·" in head, head
        assert not screen.generating
        labelled = {c.gen_id: c.label for c in screen.adoptable()}
        autos = {a.generation_id: a.self_id for a in lab.session.auto_labels}
        # Named again: the labels are back, with whose reading they are (and, not blind, an
        # answer cut at max tokens says so).
        ends = {g.id: g.finish_reason for g in lab.session.generations}
        assert labelled == {
            g: f"markers: {autos[g]}" + (" · cut at max tokens" if ends[g] == "length" else "")
            for g in labelled
        }
        # Blind again: an adopted answer is not named by a letter in the transcript (letters are
        # shuffled every turn, so a later turn's "Model A" would be another model).
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=True)
        _columns(app)[0].focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(lab.turns) == 2, "the adopted answer in the transcript")
        await pilot.pause()
        adopted = str(app.query_one(TranscriptView).get_option_at_index(1).prompt)
        assert adopted.endswith("← adopted (model hidden)"), adopted
        assert all(m.id not in adopted for m in lab.session.models), adopted
        assert lab.turns[1].adopted_how == "key-blind"  # the record says it was chosen blind


async def test_tab_visits_each_column_once(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await _shown(pilot, app, blind=False)
        chain = [type(w).__name__ for w in app.lab_screen.focus_chain]
        # transcript, each column, the message box: a column's scrolling body is no stop of
        # its own (typing there would run the column's keys)
        assert chain.count("ModelColumn") == 2 and "VerticalScroll" not in chain, chain


async def test_blind_mode_keeps_the_focus_where_it_was(make_lab) -> None:
    lab = make_lab()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await _shown(pilot, app, blind=False)
        col = _columns(app)[1]
        col.focus()
        await pilot.pause()
        for blind in (True, False):
            await pilot.press("ctrl+b")
            assert lab.blind == blind
            await _shown(pilot, app, blind=blind)
            focused = screen.focused_column(default=False)
            # Still the column, not the transcript (where "e" edits and "d" deletes a turn).
            assert focused is not None and focused.state.model_id == col.state.model_id
            assert screen.focused is focused


async def test_the_header_flags_every_setting_changed_since_the_shown_run(make_lab) -> None:
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        col = _columns(app)[0]
        m = col.state.model_id
        was = lab.column(m).format_name
        assert "run 1/1" in _text(col, ".col-header")
        assert "next run" not in _text(col, ".col-header")
        col.focus()

        async def settings(**values: str) -> None:
            await pilot.press("f3")
            dialog = app.screen
            assert isinstance(dialog, SettingsDialog)
            for name, value in values.items():
                dialog.query_one(f"#{name}").value = value
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: app.screen is not dialog, "the settings saved")

        await settings(system="You are HAL 9000.")
        assert lab.column(m).system == "You are HAL 9000."
        head = _text(col, ".col-header")
        assert "run 1/1 · next run: system changed" in head, head
        assert "HAL" not in head  # what changed, not its (long) value
        await settings(prefill="I am", temperature="1.0")
        assert "next run: system, prefill, sampling changed" in _text(col, ".col-header")
        # The format, a tell, is hidden blind (below).
        await settings(format="chatml")
        head = _text(col, ".col-header")
        # Said once, not once per setting.
        assert "next run: chatml; system, prefill, sampling changed" in head, head
        assert head.count("next run") == 1, head
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=True)
        col = next(c for c in _columns(app) if c.state.model_id == m)
        head = _text(col, ".col-header")
        # Blind: not said either, set per model before going blind it names the model (a
        # trial knew the column whose temperature they had set); going blind warned of it.
        assert "next run" not in head, head
        assert "chatml" not in head and "dialogue" not in head, head
        assert any("differ in" in n for n in notices(app)), notices(app)
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=False)
        # Settings saved unchanged flag nothing new; settings set back flag nothing at all.
        await settings(system="", prefill="", temperature="0.8", format=was)
        assert "next run" not in _text(col, ".col-header"), _text(col, ".col-header")
        # The seed is the lab's: set in one column's dialog, every column's next run has it (a
        # trial's other column said nothing of it).
        seed_was = lab.seed
        await settings(seed=str((seed_was or 0) + 1000))
        for c in _columns(app):
            assert "next run: seed changed" in _text(c, ".col-header"), _text(c, ".col-header")
        await settings(seed="" if seed_was is None else str(seed_was))
        assert "next run" not in _text(col, ".col-header"), _text(col, ".col-header")
        await settings(system="You are HAL 9000.")
        await pilot.press("r")
        await wait_for(pilot, lambda: len(lab.runs(m)) == 2, "the second run")
        await settle(pilot, app)
        head = _text(col, ".col-header")
        assert "run 2/2" in head and "next run" not in head, head
        # An answer that continued an assistant turn had its text as prefill: not a setting.
        await pilot.press("a")
        adopted = lab.turns[-1]
        assert adopted.role == "assistant" and adopted.content
        await pilot.press("r")
        await wait_for(pilot, lambda: lab.session.generations_at(adopted.id), "the continuation")
        await settle(pilot, app)
        assert col.current is not None and col.current.record is not None
        assert col.current.record.prefill == adopted.content
        assert "next run" not in _text(col, ".col-header"), _text(col, ".col-header")
        # The continuation is the first run at the adopted turn, not a third run of the answer.
        assert "run 1/1" in _text(col, ".col-header"), _text(col, ".col-header")
        # Said in words that the green start was given: a trial read it as the model's own text.
        assert "continues the adopted answer" in _text(col, ".col-header")


async def test_a_narrow_column_gives_the_labeller_in_brief_so_the_shares_fit(make_lab) -> None:
    """The panel holds 10 lines: in a narrow column the whole labeller line would take them all."""
    from psmlab.core.domain.quality import kappa_brief, labeller_line

    lab = make_lab(max_tokens=8)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=(70, 45)) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await wait_for(
            pilot,
            lambda: all("auto labels over 2" in _text(c, ".col-dist") for c in _columns(app)),
            "every column's label shares",
        )
        for c in _columns(app):
            dist = _text(c, ".col-dist")
            # The labeller named in brief, each kappa beside its own shares.
            assert "(markers)\n" in dist, dist
            assert f"\nself-id ({kappa_brief('markers', 'self_id')}): " in dist, dist
            assert f"\narchetypes ({kappa_brief('markers', 'archetypes')}): " in dist, dist
            assert labeller_line("markers") not in dist
        await pilot.resize_terminal(240, 45)
        await wait_for(
            pilot,
            lambda: all(labeller_line("markers") in _text(c, ".col-dist") for c in _columns(app)),
            "the whole labeller line in wide columns",
        )


async def test_blind_mode_shades_no_tokens(make_lab) -> None:
    """Token shading (F7) draws where one token ends and the next begins, and those boundaries
    name a tokenizer: blind, the answer is plain text and the token cursor does not move."""
    lab = make_lab(max_tokens=12)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)

        def styles(c: ModelColumn) -> set[str]:
            body = c.query_one(".col-text").render()
            return {str(sp.style) for sp in getattr(body, "spans", [])}

        col = _columns(app)[0]
        assert col.current is not None and col.current.record is not None
        assert col.current.record.token_logprobs
        await _shown(pilot, app, blind=False)
        col.focus()
        await pilot.press(".")
        await wait_for(pilot, lambda: "token " in _text(col, ".col-footer"), "the token cursor")
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=True)
        for c in _columns(app):
            assert not styles(c), styles(c)  # one plain run of text, no token colours
            assert "\ntoken " not in _text(c, ".col-footer")
        col = _columns(app)[0]
        col.focus()
        before = col.state.cursor
        await pilot.press(".")
        await pilot.pause()
        assert col.state.cursor == before
        assert "\ntoken " not in _text(col, ".col-footer")
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=False)
        assert any(styles(c) for c in _columns(app))  # revealed: shaded again


async def test_a_cancelled_answer_says_so_blind_and_adopting_it_warns(make_lab) -> None:
    """A trial cancelled a run in blind mode: the fragment's footer read like a whole answer and
    `a` adopted it with a plain toast. A stop by the user names no model: it is said."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        await _shown(pilot, app, True)
        col = _columns(app)[0]
        rec = col.state.samples[0].record
        assert rec is not None
        # As Esc mid-stream leaves it (the record the session keeps, cut by the user).
        gen = next(g for g in lab.session.generations if g.id == rec.id)
        gen.finish_reason = rec.finish_reason = "cancelled"
        col._shown.clear()
        col.refresh_view()
        await wait_for(
            pilot, lambda: "cancelled: cut off" in _text(col, ".col-footer"), "the footer"
        )
        col.focus()
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: any("cut off: cancelled" in m for m in notices(app)),
            "the warning that a fragment was adopted",
        )
        line = str(app.query_one(TranscriptView).get_option_at_index(1).prompt)
        assert "✂ cut off: cancelled" in line and "adopted (model hidden)" in line


async def test_a_run_that_continues_an_empty_adopted_answer_says_so(make_lab) -> None:
    """A trial adopted a base model's empty answer and pressed F5: the new run sat under the
    blank turn with no word of what it continued (the note needed a non-empty prefill)."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        col = _columns(app)[0]
        m = col.state.model_id
        assert col.current is not None and col.current.record is not None
        # An empty answer (the base model went straight to the next speaker's line): made so by
        # hand here, since which seed gives one depends on the model file.
        shown = next(g for g in lab.session.generations if g.id == col.current.record.id)
        shown.text, shown.tokens = "", []
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        adopted = lab.turns[-1]
        assert adopted.content == ""
        await pilot.press("r")
        await wait_for(pilot, lambda: lab.session.generations_at(adopted.id), "the continuation")
        await settle(pilot, app)
        head = _text(col, ".col-header")
        assert col.state.model_id == m and "continues the adopted answer (it was empty)" in head, (
            head
        )


async def test_a_columns_error_names_no_model_blind(make_lab, demo_pair, tmp_path) -> None:
    """Blind, a message too long for the context showed "the prompt for smollm2-135m-instruct
    is 18929 tokens…" under "Model A", and a file that failed to load showed its name and path:
    the errors are said in words that name no model, and Ctrl+B shows them whole."""
    from pathlib import Path

    from psmlab.core.models.registry import spec_from_path

    broken = tmp_path / "broken-smol.gguf"
    broken.write_bytes(Path(demo_pair[1].path).read_bytes()[:40_000_000])
    lab = make_lab(specs=[demo_pair[0], spec_from_path(broken)])
    lab.blind = True
    app = PsmlabApp(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_and_send(pilot, "word " * 20_000)
        await settle(pilot, app)
        await _shown(pilot, app, blind=True)
        names = {demo_pair[0].id, "broken", "broken-smol", str(tmp_path)}
        said = {c.state.model_id: " ".join(_text(c, ".col-text").split()) for c in _columns(app)}
        assert "does not fit this model's context" in said[demo_pair[0].id], said
        assert "this model failed; the error names it" in said["broken-smol"], said
        for text in said.values():
            assert not any(n in text for n in names), text
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=False)
        said = {c.state.model_id: " ".join(_text(c, ".col-text").split()) for c in _columns(app)}
        assert "does not fit n_ctx" in said[demo_pair[0].id], said
        assert "could not load" in said["broken-smol"], said


async def test_going_blind_says_which_settings_tell_the_columns_apart(make_lab) -> None:
    """A prefill set on one model before going blind shows in its column ("prefill given",
    green text, rows starting mid-sentence in the picker) and names it: said at Ctrl+B."""
    lab = make_lab(max_tokens=4)
    smol = lab.columns[1].id
    lab.configure(smol, prefill="I grew up")
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await _shown(pilot, app, True)
        said = [n for n in notices(app) if "differ in" in n]
        assert said and "prefill" in said[0] and "system prompt" not in said[0], notices(app)
        await pilot.press("ctrl+b")  # off: nothing more to say
        await _shown(pilot, app, False)
        assert len([n for n in notices(app) if "differ in" in n]) == 1


async def test_going_blind_mid_session_says_what_can_still_tell_the_columns_apart(
    make_lab,
) -> None:
    """A trial went blind at turn 7 after regenerating one column: "Model B · run 4/4" beside
    "Model A · run 2/2" named it, and nothing said so (a fresh lab says nothing)."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+b")
        await _shown(pilot, app, True)
        assert not any("mid-session" in n for n in notices(app)), notices(app)
        await pilot.press("ctrl+b")
        await _shown(pilot, app, False)
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        smol = _columns(app)[1]
        smol.focus()
        await pilot.press("r")  # one column runs again: two runs beside one
        await wait_for(pilot, lambda: smol.state.run_count == 2, "the second run")
        await settle(pilot, app)
        await pilot.press("ctrl+b")
        await _shown(pilot, app, True)
        said = [n for n in notices(app) if "mid-session" in n]
        assert said and "different numbers of runs" in said[0], notices(app)


async def test_going_blind_takes_down_notices_that_name_a_model(make_lab) -> None:
    """A trial adopted an answer and pressed Ctrl+B within seconds: "Adopted
    smollm2-135m-instruct's answer" stayed on screen over the columns named Model A and B."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        smol = _columns(app)[1]
        smol.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(lab.turns) == 2, "the adopted answer")

        def on_screen() -> list[str]:
            return [n.message for n in app._notifications]

        assert any(smol.state.model_id in m for m in on_screen()), on_screen()
        app.notify("autosave failed: disk full", severity="error")  # names no model: it stays
        await pilot.press("ctrl+b")
        await _shown(pilot, app, blind=True)
        assert on_screen() and not any(
            m.id in text for text in on_screen() for m in lab.session.models
        ), on_screen()
        assert "autosave failed: disk full" in on_screen()


async def test_blind_columns_are_said_ready_together(make_lab) -> None:
    """Blind, a trial saw Model A "ready…" while Model B still said "loading model…": which
    loads first tells the smaller model. Loads are said once every column has loaded."""
    from psmlab.tui.messages import ModelLoaded

    lab = make_lab()
    lab.blind = True
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await _shown(pilot, app, blind=True)
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: all(st.status == "ready" for st in screen.states.values()),
            "both columns ready",
        )
        first, second = list(screen.states)
        for st in screen.states.values():  # as at start: both still loading
            st.status = "loading model…"
        screen.post_message(ModelLoaded(first, None, 0.1))
        await pilot.pause()
        assert [st.status for st in screen.states.values()] == ["loading model…"] * 2
        screen.post_message(ModelLoaded(second, None, 0.2))
        await wait_for(
            pilot,
            lambda: all(st.status == "ready" for st in screen.states.values()),
            "both said ready at once",
        )
        lab.blind = False  # named: each is said as it loads
        for st in screen.states.values():
            st.status = "loading model…"
        screen.post_message(ModelLoaded(first, None, 0.1))
        await wait_for(pilot, lambda: screen.states[first].status == "ready", "the first")
        assert screen.states[second].status == "loading model…"


def _hold_after_first_answer(screen, release) -> None:
    """The run's thread stops after the first finished answer (a model run first and fast)
    until `release` is set; the ceiling only keeps a failing test from hanging."""
    from psmlab.core.run.runner import GenerationDone

    real = screen._from_worker

    def gated(ev: object) -> None:
        real(ev)
        if isinstance(ev, GenerationDone):
            release.wait(timeout=CEILING)

    screen._from_worker = gated  # read when a run starts


async def test_blind_answers_show_together_when_the_run_ends(make_lab) -> None:
    """Blind, the smaller model's column streamed faster and finished first, which names it
    (noted at stop 67): each column's answer is held, and said to be, until the run ends."""
    import threading

    lab = make_lab(max_tokens=6)
    lab.blind = True
    app = PsmlabApp(lab)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        _hold_after_first_answer(screen, release)
        try:
            await _shown(pilot, app, blind=True)
            await type_and_send(pilot, "What are you?")
            states = list(screen.states.values())
            await wait_for(
                pilot,
                lambda: any(x.record is not None for st in states for x in st.samples),
                "one column's finished answer",
            )
            await pilot.pause()
            done = next(st for st in states if any(x.record for x in st.samples))
            text = " ".join(done.samples[0].text.split())[:20]
            assert screen.generating and all(st.running for st in states)
            for c in _columns(app):
                body = " ".join(_text(c, ".col-text").split())
                assert "show together when the run ends" in body, body
                assert "seed" not in _text(c, ".col-footer")  # a finished answer's footer
                if c.state is done and text:
                    assert text not in body, body
            # Nor can a held answer be adopted or read in the annotation dialog unseen; every
            # column says to wait alike (only the slower one said so, naming the faster).
            for c in _columns(app):
                c.focus()
                await pilot.press("ctrl+a")
                await pilot.press("l")
            await pilot.pause()
            assert len(lab.turns) == 1 and app.screen is screen
            assert len([n for n in notices(app) if n.startswith("Still generating")]) == 4
        finally:
            release.set()
        await settle(pilot, app)
        await pilot.pause()
        for c in _columns(app):
            assert not c.state.running
            body = _text(c, ".col-text")
            assert "show together" not in body, body
            assert "seed" in _text(c, ".col-footer")
        col = next(c for c in _columns(app) if c.state is done)
        assert text in " ".join(_text(col, ".col-text").split())


def _gate_forced(lab, blocked: str, release, *, until_cancel: bool = False):
    """Hold the forced choice of column `blocked` (its first scoring only) until `release` is
    set, or, `until_cancel`, until the lab stops the scoring, as a new run does."""
    from psmlab.core.errors import ScoringCancelled

    real = lab.forced_choice
    held: list[str] = []

    def gated(c, cancel=None, node=None):
        if c.id == blocked and not held:
            held.append(c.id)
            if until_cancel:
                (cancel or release).wait(timeout=CEILING)
                raise ScoringCancelled("stopped", "")
            release.wait(timeout=CEILING)
        return real(c, cancel, node)

    lab.forced_choice = gated


async def test_blind_columns_say_scoring_until_the_last_is_scored(make_lab) -> None:
    """Blind, the columns are scored one by one and "scoring…" left the first one done: which
    column lost it first named the faster model. Every column says it until the last is done."""
    import threading

    lab = make_lab(max_tokens=4)
    lab.blind = True
    release = threading.Event()
    second = lab.columns[1].id
    _gate_forced(lab, second, release)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        try:
            await type_and_send(pilot, "What are you?")
            await settle(pilot, app)
            first = screen.states[lab.columns[0].id]
            await wait_for(pilot, lambda: first.forced is not None, "the first column's score")
            await pilot.pause()
            assert screen.states[second].forced_pending
            for c in _columns(app):
                assert "forced choice: scoring…" in _text(c, ".col-dist"), c.state.model_id
        finally:
            release.set()
        await wait_for(
            pilot, lambda: not any(st.forced_pending for st in screen.states.values()), "scores"
        )
        await pilot.pause()
        for c in _columns(app):
            assert "scoring" not in _text(c, ".col-dist")


async def test_a_continued_run_scores_the_message_a_run_stopped_scoring(make_lab) -> None:
    """A trial adopted an answer while one column's forced choice was still being scored and
    pressed F5: the run stopped it, and that column said "not scored for a continued answer"
    beside the other's "scored for the message before". The message before is scored then."""
    import threading

    lab = make_lab(max_tokens=4)
    stopped = threading.Event()
    second = lab.columns[1].id
    _gate_forced(lab, second, stopped, until_cancel=True)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        try:
            await type_and_send(pilot, "What are you?")
            await settle(pilot, app)
            first = screen.states[lab.columns[0].id]
            await wait_for(pilot, lambda: first.forced is not None, "the first column's score")
            cols = _columns(app)
            next(c for c in cols if c.state is first).focus()
            await pilot.press("ctrl+a")
            await wait_for(pilot, lambda: len(lab.turns) == 2, "the adoption")
            await pilot.press("f5")  # each column continues it; the second's scoring stops
            await wait_for(pilot, lambda: lab.continued_at_head(), "runs at the adopted turn")
            await settle(pilot, app)
        finally:
            stopped.set()
        late = screen.states[second]
        await wait_for(pilot, lambda: late.forced is not None, "the stopped column's score")
        await pilot.pause()
        col = next(c for c in _columns(app) if c.state is late)
        dist = _text(col, ".col-dist")
        assert "scored for the message before" in dist, dist
        assert "not scored for a continued answer" not in dist
        # The picker's labels of the continuations read what the model added, not the given
        # start shown with it (a trial read "[none]" beside "No, I'm an AI assistant…").
        conts = [c for c in screen.adoptable() if c.label and c.text != ""]
        assert conts and all(
            c.label == "added nothing"
            or (
                c.label.startswith("markers: ")
                and c.label.removesuffix(" · cut at max tokens").endswith(" in what it added")
            )
            for c in conts
        ), [c.label for c in conts]  # whose reading is said: a bare "[human]" read as a person's


async def test_a_transcript_changed_while_scoring_stops_saying_scoring(make_lab) -> None:
    """A review: blind, every column says "scoring…" while any column's forced choice is
    scored; a turn edited meanwhile left the stale scoring's "pending" set, so every column
    said it until the next run. The scoring of a transcript no longer there is stopped."""
    import threading

    lab = make_lab(max_tokens=4)
    lab.blind = True
    release = threading.Event()
    second = lab.columns[1].id
    _gate_forced(lab, second, release)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        try:
            await type_and_send(pilot, "What are you?")
            await settle(pilot, app)
            await wait_for(pilot, lambda: screen.states[second].forced_pending, "the scoring")
            lab.edit_turn(0, "Who are you?")
            screen.refresh_transcript()
            await pilot.pause()
            assert not any(st.forced_pending for st in screen.states.values())
            for c in _columns(app):
                assert "scoring" not in _text(c, ".col-dist"), c.state.model_id
        finally:
            release.set()


async def test_cancelling_blind_says_how_far_each_column_got_can_tell(make_lab) -> None:
    """A trial pressed Esc mid-run, blind: one column's samples were all cut off, the other's
    finished, which tells the faster model. Hiding them would lose them: it is said."""
    import threading

    lab = make_lab(max_tokens=6)
    lab.blind = True
    app = PsmlabApp(lab)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        _hold_after_first_answer(screen, release)  # the run goes on once Esc was pressed
        try:
            await _shown(pilot, app, blind=True)
            await type_and_send(pilot, "What are you?")
            await wait_for(pilot, lambda: screen.generating, "the run")
            await pilot.press("escape")
            await wait_for(
                pilot,
                lambda: any("how far each column got" in n for n in notices(app)),
                "the cancel notice",
            )
        finally:
            release.set()
        await settle(pilot, app)
