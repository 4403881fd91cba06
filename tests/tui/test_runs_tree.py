"""Runs kept side by side, the conversation tree, blind shuffles and saved forced choice, driven
by keys (Textual Pilot) on the real demo models."""

from __future__ import annotations

import json

from psmlab.core.run.lab import Lab
from psmlab.core.session import file as store
from psmlab.tui.app import PsmlabApp
from psmlab.tui.keys import in_lab_words
from psmlab.tui.screens.compare import CompareScreen
from psmlab.tui.screens.tree import TreeScreen
from psmlab.tui.widgets.column import ModelColumn
from tests.tui.conftest import notices, settle, type_and_send, wait_for

SIZE = (120, 40)


def _header(col: ModelColumn) -> str:
    return str(col.query_one(".col-header").render())


async def test_runs_are_kept_stepped_and_compared_with_the_settings_they_were_made_with(
    make_lab,
) -> None:
    lab = make_lab(max_tokens=8)
    lab.n_samples = 2  # shares over two samples are shown ("auto labels over 2 samples")
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        assert not any(st.forced_due for st in screen.states.values())  # no message yet
        await type_and_send(pilot, "What are you?")
        # From the run's start the message is due its forced choice (a column that finished
        # first said "not scored for this message" while the other still ran).
        assert all(st.forced_due for st in screen.states.values())
        await settle(pilot, app)
        smol = lab.columns[1].id
        col = screen.column_widget(smol)
        assert col is not None and "run 1/1" in _header(col)
        first = [s.record.id for s in col.state.samples if s.record]
        was = lab.column(smol).format_name
        lab.configure(smol, format="chatml")  # as F3 does
        screen.states[smol].format = "chatml"
        screen._refresh(smol)
        await pilot.pause()
        # The answer on screen was made with the old format; the header says so, and what is next.
        assert f"· {was} ·" in _header(col) and "next run: chatml" in _header(col)
        col.focus()
        assert screen.states[smol].auto  # the first run's shares
        assert "auto labels over 2" in str(col.query_one(".col-dist").render())
        screen.start_run([smol])
        # From the moment a run starts, the run before's shares are not shown as its own.
        st = screen.states[smol]
        assert (st.auto, st.auto_self_id, st.ends) == ([], [], [])
        assert "auto labels" not in str(col.query_one(".col-dist").render())
        await wait_for(pilot, lambda: len(lab.runs(smol)) == 2, "the second run")
        await settle(pilot, app)
        assert "run 2/2" in _header(col) and "· chatml ·" in _header(col)
        # What the run on screen was made with unlike the run before, named in its header (a
        # trial stepped between runs of other settings under one header).
        assert "format not as run 1 (c)" in _header(col), _header(col)
        assert [s.record.id for s in col.state.samples if s.record] != first
        await pilot.press("left_curly_bracket")
        await pilot.pause()
        assert "run 1/2" in _header(col) and "not as run" not in _header(col)
        assert [s.record.id for s in col.state.samples if s.record] == first
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the compare view")
        title = str(app.screen.query_one(".dialog-title").render())
        assert "differs: " in title and f"format: '{was}' → 'chatml'" in title
        # "system —" in a pane is what was given; the template's own default says so beside it.
        panes = [str(w.render()) for w in app.screen.query(".compare-pane Static")]
        warned = [w for r in lab.runs(smol) for w in r[0].warnings]
        # Said as the lab's user acts on it: a system prompt is set with F3, not --system.
        shown = in_lab_words(warned[0]) if warned else ""
        assert shown and any(f"⚠ {shown}" in x for x in panes), panes
        assert "(F3)" in shown and not any("--system" in x for x in panes)
        await pilot.press("escape")
        await pilot.press("right_curly_bracket")
        await wait_for(pilot, lambda: "run 2/2" in _header(col), "the newer run")
        # At an end, } says so and nothing moves (the sample shown stays the one shown).
        col.action_step(1)
        shown = col.state.shown
        await pilot.press("right_curly_bracket")
        await wait_for(pilot, lambda: any("the newest run" in m for m in notices(app)))
        assert "run 2/2" in _header(col) and col.state.shown == shown


async def test_tree_keeps_both_branches_and_continues_from_any_turn(make_lab) -> None:
    lab = make_lab(max_tokens=6)
    lab.n_samples = 2
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        question = lab.session.head
        col = list(app.query(ModelColumn))[1]
        col.focus()
        await pilot.press("a")  # adopt sample 1 of the chat column
        first = lab.turns[-1].adopted_from
        await type_and_send(pilot, "Are you sure?")
        await settle(pilot, app)
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        tree = app.screen.query_one("#turn-tree")
        # The cursor starts where the conversation is.
        await wait_for(
            pilot,
            lambda: tree.cursor_node is not None and tree.cursor_node.data == lab.session.head,
            "the cursor on the current turn",
        )
        node = next(n for n in tree.root.children if n.data == question)
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_for(pilot, lambda: lab.session.head == question, "the move to the question")
        # Its answers are back on screen; take the other sample of the same column this time.
        col = list(app.query(ModelColumn))[1]
        assert len(col.state.samples) == 2
        col.focus()
        await pilot.press("right", "a")
        second = lab.turns[-1].adopted_from
        assert second != first and len(lab.session.leaves()) == 2
        await type_and_send(pilot, "Are you sure?")
        await settle(pilot, app)
        s = store.load(lab.path)
        assert len(s.leaves()) == 2
        assert {s.path(x)[1].adopted_from for x in s.leaves()} == {first, second}


async def test_blind_mode_shuffles_per_turn_and_records_the_order(make_lab) -> None:
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await pilot.press("ctrl+b")
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        order = lab.session.column_orders[lab.session.head]
        assert sorted(order) == sorted(c.id for c in lab.columns)
        shown = [w.state.model_id for w in app.query(ModelColumn)]
        assert shown == order == screen.order
        assert [w.display_name for w in app.query(ModelColumn)] == ["Model A", "Model B"]
        assert store.load(lab.path).column_orders == lab.session.column_orders


async def test_forced_choice_is_saved_and_shown_again_on_reopening(make_lab) -> None:
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await type_and_send(pilot, "Are you a human?")
        await settle(pilot, app)
        await wait_for(
            pilot,
            lambda: all(st.forced is not None for st in screen.states.values()),
            "every column's forced choice",
        )
        shown = {m: st.forced.probs for m, st in screen.states.items()}
        # Another run at the same turn and settings: the saved result is shown, not re-scored.
        await pilot.press("f5")
        await wait_for(pilot, lambda: len(lab.runs(lab.columns[0].id)) == 2, "the second run")
        await settle(pilot, app)
        await wait_for(
            pilot,
            lambda: all(st.forced is not None for st in screen.states.values()),
            "the forced choice again",
        )
        assert {m: st.forced.probs for m, st in screen.states.items()} == shown
        asked = lab.session.head
        # Adopting an answer leaves the answers to that message on screen, and its forced choice
        # with them (it still answers the message shown); it is not dropped as stale.
        app.query(ModelColumn).first().focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(lab.turns) == 2, "the adopted answer")
        await pilot.pause()
        assert {m: st.forced.probs for m, st in screen.states.items() if st.forced} == shown
        await pilot.press("ctrl+s")
    saved = store.load(lab.path).forced
    assert len(saved) == 2
    assert {f.model for f in saved} == set(shown) and all(f.node == asked for f in saved)
    assert all(f.result["probs"] == shown[f.model] for f in saved)
    lab.release()
    again = Lab.open(lab.path, pool=lab.pool)
    app2 = PsmlabApp(again)
    async with app2.run_test(size=SIZE) as pilot:
        screen = app2.lab_screen
        await wait_for(pilot, lambda: len(screen.states) == 2, "the reopened columns")
        assert {m: st.forced.probs for m, st in screen.states.items() if st.forced} == shown
    again.release()


async def test_a_forced_choice_a_quit_stopped_is_scored_on_reopening(make_lab) -> None:
    """A trial quit while the panel said "scoring…": reopened, it said "scored once every
    column's run is over" of runs long over, and nothing ever scored it."""
    lab = make_lab(max_tokens=4)
    lab.send("Are you a human?")
    lab.run()  # the runs, without the lab screen's forced choice after them
    lab.save()
    assert not store.load(lab.path).forced
    lab.release()
    before = lab.path.read_bytes()
    again = Lab.open(lab.path, pool=lab.pool)
    app = PsmlabApp(again)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: (
                len(screen.states) == 2
                and all(st.forced is not None for st in screen.states.values())
            ),
            "the forced choice scored on opening",
        )
        # Scored on opening alone: the file is not rewritten for it (a trial's open and quit
        # rewrote the shipped example); nothing is unsaved work either.
        assert lab.path.read_bytes() == before and not again.dirty
        await pilot.press("ctrl+s")
    assert len(store.load(again.path).forced) == 2
    again.release()


async def test_moving_to_a_message_left_unscored_scores_it(make_lab) -> None:
    """A trial continued (F8) from a message whose scoring a later run had stopped: the panel
    said "scored once every column's run is over" of runs long over, for a minute and more."""
    lab = make_lab(max_tokens=4)
    lab.send("Are you a human?")
    first = lab.session.head
    gen = lab.run().generations[0]  # runs without the lab screen: no forced choice after them
    lab.send("Where do you work?", adopt=gen.id)
    lab.run()
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await wait_for(
            pilot,
            lambda: all(st.forced is not None for st in screen.states.values()),
            "the shown message's forced choice",
        )
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        tree = app.screen.query_one("#turn-tree")
        node = next(n for n in tree.root.children if n.data == first)
        tree.move_cursor(node)
        await pilot.press("enter")
        await wait_for(pilot, lambda: lab.session.head == first, "the move to the first message")
        await wait_for(
            pilot,
            lambda: all(
                st.forced is not None and st.forced.node == first for st in screen.states.values()
            ),
            "the first message's forced choice, scored after the move",
        )
    assert {f.node for f in lab.session.forced} >= {first}


async def test_cut_and_edited_answers_say_so_in_the_transcript_the_tree_and_the_header(
    make_lab,
) -> None:
    """A trial adopted answers cut at max tokens and cancelled ones (blind): the transcript,
    the tree and the export never said so; the tree did not mark a hand-edited turn; a run that
    continued the edited turn said it 'continues the adopted answer'."""
    from psmlab.tui.widgets.transcript import TranscriptView

    lab = make_lab(max_tokens=3)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        await type_and_send(pilot, "Tell me about yourself in detail.")
        await settle(pilot, app)
        smol = lab.columns[1].id
        col = screen.column_widget(smol)
        assert col is not None
        rec = col.state.samples[0].record
        assert rec is not None and rec.finish_reason == "length"  # 3 tokens cannot be a whole one
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        view = app.query_one(TranscriptView)
        await wait_for(
            pilot,
            lambda: "✂ cut at max tokens" in str(view.get_option_at_index(1).prompt),
            "the cut mark in the transcript",
        )
        # The same turn, edited by hand: the edit is the mark, and continuing it says so.
        lab.edit_turn(1, lab.turns[1].content + " and more")
        screen.refresh_transcript()
        await pilot.pause()
        # Whose answer was changed is kept with the mark (the credit went with the edit).
        assert f"✎ edited from {smol}'s answer" in str(view.get_option_at_index(1).prompt)
        screen.start_run([smol])
        await settle(pilot, app)
        assert "continues the edited answer" in str(col.query_one(".col-header").render())
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        rows = app.screen.query_one("#turn-tree").rows
        tails = {k: str(v[2]) for k, v in rows.items()}
        edited = lab.turns[1].id
        assert f"✎ edited from {smol}'s answer" in tails[edited]
        cut_turn = next(t for t in lab.session.nodes if t.adopted_from == rec.id)
        assert "✂ cut at max tokens" in tails[cut_turn.id]


async def test_one_run_continuing_an_answer_points_to_the_tree_for_the_message_runs(
    make_lab,
) -> None:
    """After adopting and F5, { said "Only one run here": the message's runs seemed gone."""
    lab = make_lab(max_tokens=4)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        await type_and_send(pilot, "What are you?")
        await settle(pilot, app)
        col = list(app.query(ModelColumn))[1]
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        await pilot.press("f5")  # the columns continue the adopted answer
        await wait_for(
            pilot, lambda: len(lab.session.generations_at(lab.session.head)) == 2, "the run"
        )
        await settle(pilot, app)
        col = list(app.query(ModelColumn))[1]
        col.focus()
        await pilot.press("left_curly_bracket")
        await wait_for(
            pilot,
            lambda: any("answered the message are in the tree: F8" in m for m in notices(app)),
            "the hint",
        )


async def test_a_long_turn_in_the_tree_is_cut_before_its_marks_and_a_leaf_has_no_arrow(
    make_lab,
) -> None:
    """A trial at 80 and 120 columns saw an adopted answer's row end in "I am Ela…": the row was
    cut from the right, so who wrote the turn was the first thing lost. Leaf turns showed ▶/▼
    as if a branch were folded under them."""
    from psmlab.tui.screens.tree import TurnTree

    lab = make_lab(max_tokens=3)
    app = PsmlabApp(lab)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.lab_screen
        await type_and_send(pilot, "Are you a human?")
        await settle(pilot, app)
        smol = lab.columns[1].id
        col = screen.column_widget(smol)
        assert col is not None
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: lab.turns[-1].role == "assistant", "the adoption")
        long = "Yes, I am a human. Well, actually, I'm a part of a different realm. " * 3
        lab.edit_turn(1, long.strip())
        screen.refresh_transcript()
        screen.start_run([smol])  # continues the edited text, cut again at 3 tokens
        await settle(pilot, app)
        col.focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: len(lab.session.nodes) == 4, "the continuation adopted")
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        tree = app.screen.query_one(TurnTree)
        await wait_for(pilot, lambda: tree.last_line >= 3, "the turns in the tree")
        await pilot.pause()

        def rows() -> list[str]:
            return [tree.render_line(y).text.rstrip() for y in range(tree.last_line + 1)]

        name = lab.turns[-1].adopted_model
        width = tree.scrollable_content_region.width
        cont = next(r for r in rows() if "»" in r)  # the adopted continuation, where you are
        # Too narrow for all the marks: the message keeps its start (a lone "…" left sibling
        # branches alike, a later trial), and the marks are cut after it.
        assert "assistant: Yes, I am" in cont and f"…  ← {name} · " in cont, cont
        assert cont.endswith("…"), cont
        assert all(r.count("…") <= 2 and ": …" not in r for r in rows()), rows()
        assert all(len(r) <= width for r in rows()), (rows(), width)
        await pilot.resize_terminal(120, 30)
        await wait_for(
            pilot,
            lambda: any("» " in r and r.endswith("✂ cut at max tokens") for r in rows()),
            "the whole marks at 120 columns",
        )
        cont = next(r for r in rows() if "»" in r)
        assert "assistant: Yes, I am" in cont and f"…  ← {name} · continues edited" in cont, cont
        user = tree.root.children[0]
        assert user.allow_expand and len(user.children) == 3
        assert [n.allow_expand for n in user.children] == [False] * 3  # nothing below them
        assert not any("▶" in r for r in rows()[2:]), rows()


async def test_the_trees_answer_count_leaves_out_cancelled_and_failed_fragments(tmp_path) -> None:
    """A trial's "(11 answers)" counted three empty cancelled samples: fragments are counted
    apart, as the labels panel leaves them out of its shares."""
    from pathlib import Path

    from textual.app import App

    from psmlab.tui.screens.tree import TurnTree

    session = store.load(
        Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    )
    at = session.generations[0].node
    mine = [i for i, g in enumerate(session.generations) if g.node == at]
    assert len(mine) >= 3, len(mine)
    for i, why in zip(mine[:2], ("cancelled", "error"), strict=True):
        session.generations[i] = session.generations[i].model_copy(update={"finish_reason": why})

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(TreeScreen(session))

    app = Host()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TreeScreen), "the tree")
        tree = app.screen.query_one(TurnTree)
        await wait_for(pilot, lambda: tree.last_line >= 2, "the turns in the tree")
        rows = [tree.render_line(y).text.rstrip() for y in range(tree.last_line + 1)]
        n = len(mine) - 2
        said = f"({n} answer{'s' * (n != 1)}, 1 cancelled, 1 failed)"
        assert any(r.endswith(said) for r in rows), rows
    # `psmlab tree` counts them as F8 does (it said "12 generations" beside F8's "8 answers").
    from tests.conftest import run_cli

    store.save_new(session, tmp_path / "s.json")
    out = run_cli("tree", str(tmp_path / "s.json"))
    assert out.returncode == 0 and f"{n} answer{'s' * (n != 1)}, 1 cancelled, 1 failed" in (
        out.stdout
    ), out.stdout
    doc = json.loads(run_cli("tree", str(tmp_path / "s.json"), "--json").stdout)
    row = next(r for r in doc["turns"] if r["id"] == at)
    assert (row["generations"], row["cancelled"], row["failed"]) == (len(mine), 1, 1)
