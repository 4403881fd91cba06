"""The session tree (schema v2): branches from adoptions and edits, runs, the v1 migration."""

import json
from pathlib import Path

import pytest

from psmlab.core.errors import SessionError, UsageError
from psmlab.core.session import file as store
from psmlab.core.session.authorship import given_by
from psmlab.core.session.export import export
from psmlab.core.session.schema import GenerationRecord, Session, TurnRecord

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "sessions" / "example-what-are-you.json"


def _gen(s: Session, gid: str, text: str, *, sample: int = 0, run: str = "r-1") -> GenerationRecord:
    g = GenerationRecord(
        id=gid,
        model="m",
        turn=len(s.turns),
        node=s.head,
        run=run,
        sample=sample,
        seed=sample,
        format="dialogue",
        params={"temperature": 0.8},
        text=text,
        n_tokens=1,
        finish_reason="eos",
        role_leak=False,
    )
    s.generations.append(g)
    return g


def _roles(s: Session) -> list[str]:
    return [t.role for t in s.turns]


def test_adopting_a_second_answer_starts_a_branch_and_keeps_the_first() -> None:
    s = Session(turns=[TurnRecord(role="user", content="What are you?")])
    question = s.head
    _gen(s, "g-a", " I am an AI.", sample=0)
    _gen(s, "g-b", " I am Tony.", sample=1)
    first = s.adopt("g-a", "key")
    s.add_turn(TurnRecord(role="user", content="Really?"))
    assert _roles(s) == ["user", "assistant", "user"]
    second = s.adopt("g-b", "picker")  # an answer of the earlier turn: a new branch
    assert second.parent == question and second.id != first.id
    assert [t.content for t in s.turns] == ["What are you?", "I am Tony."]
    assert len(s.leaves()) == 2 and [t.id for t in s.children(question)] == [first.id, second.id]
    # Choosing the same answer again goes back to its branch instead of making a third.
    again = s.adopt("g-a")
    assert again.id == first.id and len(s.leaves()) == 2
    assert s.branch_of(first.id) != s.branch_of(second.id)


def test_editing_a_turn_forks_and_deleting_moves_back() -> None:
    s = Session(turns=[TurnRecord(role="user", content="Hi"), TurnRecord(role="user", content="x")])
    _gen(s, "g-1", " hello")
    s.edit_turn(0, "Hello there")
    assert [t.content for t in s.turns] == ["Hello there"]
    assert len(s.leaves()) == 2  # the old branch (Hi, x) keeps its answer
    assert s.history_of(s.generation("g-1")).turns[0].content == "Hi"
    s.go(s.leaves()[0])
    assert [t.content for t in s.turns] == ["Hi", "x"]
    assert s.delete_outcome(1) == "kept"  # what the lab says before it deletes
    s.edit_turn(1, None)  # the last turn, answered: the session moves back, the turn stays
    assert [t.content for t in s.turns] == ["Hi"] and len(s.nodes) == 3
    s.add_turn(TurnRecord(role="user", content="typo"))
    assert s.delete_outcome(1) == "removed"
    s.edit_turn(1, None)  # nothing refers to it: simply removed
    assert len(s.nodes) == 3 and [t.content for t in s.turns] == ["Hi"]
    # An adopted answer's turn with nothing after it is removed; its answer stays with "x".
    s.adopt("g-1")
    assert [t.content for t in s.turns] == ["Hi", "x", "hello"]
    assert s.delete_outcome(2) == "removed, answer kept"
    s.edit_turn(2, None)
    assert [t.content for t in s.turns] == ["Hi", "x"] and s.generation("g-1").node == s.head
    with pytest.raises(SessionError, match="there is no turn 5"):
        s.edit_turn(4, "x")
    for i in (4, -1):  # a review: -1 read the last turn, 4 raised a bare IndexError
        with pytest.raises(SessionError, match=f"there is no turn {i + 1}"):
            s.delete_outcome(i)


def test_runs_group_a_columns_samples_per_press() -> None:
    s = Session(turns=[TurnRecord(role="user", content="What are you?")])
    _gen(s, "g-1", "a", sample=0, run="r-1")
    _gen(s, "g-2", "b", sample=1, run="r-1")
    _gen(s, "g-3", "c", sample=0, run="r-2")
    runs = s.runs("m", s.head)
    assert [[g.id for g in r] for r in runs] == [["g-1", "g-2"], ["g-3"]]
    assert s.runs("m", None) == [] and s.runs("other", s.head) == []


def test_v1_example_opens_as_a_one_branch_tree_with_the_same_transcript_and_runs() -> None:
    doc = json.loads(EXAMPLE.read_text())
    assert doc["schema_version"] == 1  # the shipped example stays v1: it tests the migration
    s = store.load(EXAMPLE)
    assert [(t.role, t.content) for t in s.turns] == [
        (t["role"], t["content"]) for t in doc["turns"]
    ]
    assert len(s.leaves()) == 1 and s.turns[1].adopted_from == doc["turns"][1]["adopted_from"]
    for g, old in zip(s.generations, doc["generations"], strict=True):
        assert len(s.path(g.node)) == old["turn"] == g.turn
    # Two columns x two turns, each one press of generate.
    assert len({(g.model, g.node, g.run) for g in s.generations}) == 4
    assert store.load(EXAMPLE).nodes == s.nodes  # migration ids are stable across opens


def test_v1_edited_history_becomes_a_branch() -> None:
    """v1 kept a copy of the turns a generation saw when the transcript was edited later: the
    migration turns that copy into its own branch."""
    doc = {
        "schema_version": 1,
        "title": "t",
        "turns": [{"role": "user", "content": "What exactly are you?"}],
        "models": [],
        "generations": [
            {
                "id": "g-1",
                "model": "m",
                "turn": 1,
                "sample": 0,
                "seed": 1,
                "format": "dialogue",
                "params": {},
                "text": " a robot",
                "n_tokens": 2,
                "finish_reason": "eos",
                "role_leak": False,
                "history": [{"role": "user", "content": "What are you?"}],
            }
        ],
        "annotations": [],
    }
    s = store.parse(json.dumps(doc).encode(), "t.json")
    assert [t.content for t in s.turns] == ["What exactly are you?"]
    assert s.history_of(s.generations[0]).turns[0].content == "What are you?"
    assert len(s.leaves()) == 2


def test_tree_errors_are_clear() -> None:
    a = TurnRecord(id="t-a", parent="t-b", role="user", content="x")
    b = TurnRecord(id="t-b", parent="t-a", role="user", content="y")
    with pytest.raises(ValueError, match="cycle"):
        Session(nodes=[a, b], head="t-a")
    s = Session(turns=[TurnRecord(role="user", content="x")])
    with pytest.raises(SessionError, match="no turn 'zz'"):
        s.go("zz")
    with pytest.raises(UsageError, match="the edit of turn 1 is empty"):  # as a message is
        s.edit_turn(0, " \n")
    assert [t.content for t in s.turns] == ["x"]


def test_markdown_export_writes_the_current_branch_or_every_branch() -> None:
    s = Session(title="two", turns=[TurnRecord(role="user", content="What are you?")])
    _gen(s, "g-a", " I am an AI.", sample=0)
    _gen(s, "g-b", " I am Tony.", sample=1)
    s.adopt("g-a")
    s.add_turn(TurnRecord(role="user", content="Why?"))
    s.adopt("g-b")
    s.add_turn(TurnRecord(role="user", content="Where do you live?"))
    one = export(s, "md")
    assert "Where do you live?" in one and "```text\nWhy?" not in one
    assert "- user: Why? `" in one  # the outline names every branch
    both = export(s, "md", tree=True)
    assert "## Branch 1: 3 turns" in both and "## Branch 2 (current): 3 turns" in both
    assert both.count("##### m · sample 1") == 1  # a shared turn's answers are written once
    assert "Turn 1 (user) as in branch 1." in both


def test_an_edited_turn_says_it_was_edited_wherever_it_is_written(tmp_path: Path) -> None:
    """An adopted answer edited by hand looked like a model's answer (or a typed one): it is
    marked as an edit of the turn it came from, in the file, the export and a loom tree."""
    from psmlab.core.session.loom import from_loom, to_loom

    s = Session(turns=[TurnRecord(role="user", content="What are you?")])
    _gen(s, "g-a", " I am an AI.")
    adopted = s.adopt("g-a", "key")
    s.edit_turn(1, "I am an AI, and proud of it.")
    edited = s.turns[1]
    assert edited.edited_from == adopted.id and edited.adopted_from is None
    assert s.turns[0].edited_from is None
    p = tmp_path / "s.json"
    store.save_new(s, p)
    raw = json.loads(p.read_bytes())
    assert sum("edited_from" in n for n in raw["nodes"]) == 1  # only where there is one
    assert store.load(p).turns[1].edited_from == adopted.id
    md = export(s, "md")
    assert f"Assistant (edited by hand from turn `{adopted.id}`)" in md
    # And in the tree outlines (the export's, `psmlab tree`'s), which a trial found unmarked.
    outline = export(s, "md", tree=True).split("## Tree", 1)[1]
    assert f"`{edited.id}` (edited by hand from `{adopted.id}`)" in outline
    from psmlab.cli.tree import outline as cli_outline

    rows = {r["id"]: r for r in cli_outline(s)}
    assert rows[edited.id]["edited_from"] == adopted.id and rows[adopted.id]["edited_from"] is None
    doc = to_loom(s)
    sources = {n["id"]: n["meta"]["source"] for n in _loom_nodes(doc["root"])}
    assert sources[edited.id] == "mixed" and sources[adopted.id] == "AI"
    assert from_loom(doc).model_dump()["nodes"] == s.model_dump()["nodes"]


def _loom_nodes(node: dict) -> list[dict]:
    return [node, *(x for c in node["children"] for x in _loom_nodes(c))]


def test_branch_numbers_stay_when_an_older_branch_grows() -> None:
    """Branches were numbered by their last turns: going on with branch 1 made it the newest,
    and the export and `psmlab tree` renumbered every branch."""
    s = Session(turns=[TurnRecord(role="user", content="What are you?")])
    _gen(s, "g-a", " I am an AI.", sample=0)
    _gen(s, "g-b", " I am Tony.", sample=1)
    first = s.adopt("g-a", "key")
    second = s.adopt("g-b", "picker")  # a second answer of the question: branch 2
    assert s.leaves() == [first.id, second.id]
    s.go(first.id)
    grown = s.add_turn(TurnRecord(role="user", content="Really?"))
    assert s.leaves() == [grown.id, second.id]  # branch 1 is still branch 1
    fork = s.add_turn(TurnRecord(role="user", content="Why?"), first.id, at_head=False)
    assert s.leaves() == [grown.id, second.id, fork.id]  # a new fork is the newest branch


def test_an_adopted_continuation_says_which_start_it_was_given() -> None:
    """A trial adopted a continuation of its own edited words (and of another model's answer):
    the transcript credited the continuing model with all of it. The turn now keeps the text it
    was given and the turn it continued, and every place that names its model says so."""
    s = Session(turns=[TurnRecord(role="user", content="Are you human?")])
    _gen(s, "g-a", " Yes.")
    s.adopt("g-a", "key")
    s.edit_turn(1, "Yes. Totally human.")
    edited = s.turns[1]
    g = _gen(s, "g-b", " I'm a sentient AI.")  # the model continued the edited turn
    g.prefill, g.model = "Yes. Totally human.", "smol"
    turn = s.adopt("g-b", "key")
    assert turn.content == "Yes. Totally human. I'm a sentient AI."
    assert (turn.given, turn.continued) == ("Yes. Totally human.", edited.id)
    assert turn.parent == edited.parent  # it stands in the continued turn's place
    assert given_by(s, turn) == "continues edited text"
    md = export(s, "md")
    assert (
        f"continues edited text, turn `{edited.id}`; the model wrote only what follows "
        "“Yes. Totally human.”" in md
    )
    # Another model's adopted answer, continued: named (blind: not named).
    s2 = Session(turns=[TurnRecord(role="user", content="Are you human?")])
    _gen(s2, "g-a", " Yes, I'm a human.")  # model "m"
    first = s2.adopt("g-a", "key")
    h = _gen(s2, "g-c", " I'm a part of the human ecosystem.")
    h.prefill, h.model = first.content, "smol"
    second = s2.adopt("g-c", "key")
    assert given_by(s2, second) == "continues m's answer"
    assert given_by(s2, second, blind=True) == "continues an earlier answer"
    # A whole answer, given nothing: nothing to say.
    assert first.given is None and given_by(s2, first) is None
    # A column's prefill, continued: the person's words start the turn.
    s3 = Session(turns=[TurnRecord(role="user", content="Who are you?")])
    p = _gen(s3, "g-p", " a pirate.")
    p.prefill = "I am"
    assert given_by(s3, s3.adopt("g-p")) == "continues a prefill"


def test_a_branch_export_keeps_the_runs_an_adopted_continuation_was_chosen_from() -> None:
    """Adopt an answer, continue it, adopt a continuation (it replaces the first adoption): the
    lab showed the continuation runs and their annotation under the turn, and Ctrl+E's branch
    export left both out (only `export --tree` had them)."""
    from psmlab.core.session.schema import Annotation

    s = Session(turns=[TurnRecord(role="user", content="Are you human?")])
    _gen(s, "g-a", " Yes, I'm a human.")
    first = s.adopt("g-a", "key")
    for k in range(3):
        h = _gen(s, f"g-c{k}", f" I'm part {k} of the human ecosystem.", sample=k, run="r-2")
        h.prefill, h.model = first.content, "smol"
    s.annotate(Annotation(generation_id="g-c1", labels=["greeter"], annotator="me"))
    second = s.adopt("g-c1", "key")
    assert first.id not in {t.id for t in s.path(second.id)}
    md = export(s, "md")
    body = md.split("## Current branch", 1)[1]
    assert f"was adopted from a run that continues turn `{first.id}`, on another branch" in body
    assert "(an answer adopted before, then replaced by its continuation)" in body
    # The run's given start is the adopted answer, said as the lab says it, not as a setting.
    assert "Continues the adopted answer (its text was given): `Yes, I'm a human.`" in md
    assert "Prefill: `Yes, I'm a human.`" not in md
    for k in range(3):
        assert f"part {k} of the human ecosystem" in body, k
    assert "greeter" in body.split("## Labels per model")[0]
    # The whole tree writes that branch as its own, once.
    assert export(s, "md", tree=True).count("part 0 of the human ecosystem") == 1
    # A turn edited by hand, continued, its continuation adopted: said as what it was (a trial's
    # export called it "an answer adopted before").
    s.go(first.id)
    s.edit_turn(1, "No, I'm a teacher.")
    edited = s.turns[1]
    h = _gen(s, "g-e", " I teach math.")
    h.prefill = edited.content
    s.adopt("g-e", "key")
    body = export(s, "md").split("## Current branch", 1)[1]
    assert f"continues turn `{edited.id}`, on another branch (a turn edited by hand, then " in body
    assert "Continues the edited answer (its text was given): `No, I'm a teacher.`" in body


def test_where_an_answer_was_adopted_is_said_from_the_branch_shown() -> None:
    """Gone back to a message, its answers adopted right after it were "on another branch" in
    the lab and "on a branch that goes on from here" in the export (a trial): one rule now."""
    from psmlab.core.session.tree import adoptions

    q = TurnRecord(id="t-q", role="user", content="What are you?")
    a1 = TurnRecord(id="t-a1", parent="t-q", role="assistant", content="AI.", adopted_from="g1")
    a2 = TurnRecord(id="t-a2", parent="t-q", role="assistant", content="Bob.", adopted_from="g2")
    nodes = [q, a1, a2]
    on_a1 = adoptions(nodes, {"t-q", "t-a1"}, set())
    assert on_a1 == {"g1": "adopted", "g2": "adopted on another branch"}
    at_q = adoptions(nodes, {"t-q"}, {"t-a1", "t-a2"})
    assert set(at_q.values()) == {"adopted on a branch that goes on from here"}
    # One answer adopted on two branches: on this one wins, whichever came first.
    a3 = TurnRecord(id="t-a3", parent="t-q", role="assistant", content="AI.", adopted_from="g1")
    assert adoptions([q, a3, a1], {"t-q", "t-a1"}, set())["g1"] == "adopted"


def test_an_edited_answer_says_whose_answer_it_was_and_a_blind_one_does_not() -> None:
    """Editing an adopted answer dropped its model's name: the mark keeps it now."""
    from psmlab.core.session.authorship import edited_note

    q = TurnRecord(id="t-q", role="user", content="Hi")
    a = TurnRecord(id="t-a", parent="t-q", role="assistant", content="AI.", adopted_model="gem")
    e1 = TurnRecord(id="t-e1", parent="t-q", role="assistant", content="A!", edited_from="t-a")
    e2 = TurnRecord(id="t-e2", parent="t-q", role="assistant", content="B!", edited_from="t-e1")
    typed = TurnRecord(id="t-t", parent="t-q", role="assistant", content="C", edited_from="t-q")
    s = Session(nodes=[q, a, e1, e2, typed])
    assert edited_note(s, a) is None
    assert edited_note(s, e1) == edited_note(s, e2) == "✎ edited from gem's answer"
    assert edited_note(s, e2, blind=True) == "✎ edited from an adopted answer"
    assert edited_note(s, typed) == "✎ edited"
