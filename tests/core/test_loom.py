"""The loom converter: a real loom save survives a round trip, psmlab trees keep their branches."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from psmlab.core.errors import ExitCode, SessionError
from psmlab.core.session.loom import BLOCK, DOC_KEY, SOURCE, detect_loom, from_loom, to_loom
from psmlab.core.session.schema import Session, TurnRecord

REAL = Path(__file__).resolve().parents[1] / "data" / "loom" / "dialectical.json"
ROOT_ID = "0a5457a8-5212-11eb-9b79-d92542d8d351"
SELECTED = "f0ba9bdc-7696-11eb-83f8-acde48001122"


def real_doc() -> dict[str, Any]:
    return json.loads(REAL.read_text(encoding="utf-8"))


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(n.get("children", [])))
    return out


def test_detect() -> None:
    assert detect_loom(real_doc())
    assert detect_loom({"id": "a", "text": "x", "children": []})
    assert not detect_loom({"schema_version": 1, "turns": []})
    assert not detect_loom({"root": {"children": []}})
    assert not detect_loom([])  # type: ignore[arg-type]


def test_real_file_reads_as_a_tree() -> None:
    doc = real_doc()
    s = from_loom(doc)
    assert len(s.nodes) == 23
    assert [t.id for t in s.nodes] == [n["id"] for n in walk(doc["root"])]
    roots = s.children(None)
    assert [r.id for r in roots] == [ROOT_ID]
    root = roots[0]
    assert root.role == "user" and root.parent is None and root.source == SOURCE
    assert root.content.startswith(
        "The following quote is from an unpublished article by Stefan Shindler"
    )
    assert all(t.role == "assistant" for t in s.nodes if t.parent is not None)
    # Child order is loom's, and a known text sits at a known place (root / 2nd child / 4th child).
    kids = s.children(root.id)
    assert [k.id for k in kids] == [c["id"] for c in doc["root"]["children"]]
    assert kids[1].content.startswith("The dialectical is true thought")
    grandchild = s.children(kids[1].id)[3]
    assert grandchild.content.startswith(" that either/or.” Thus, for dialectic there is no")
    # The selected node is the head; the current branch runs root .. selected.
    assert s.head == SELECTED
    assert [t.id for t in s.turns] == [t.id for t in s.path(SELECTED)]
    assert s.turns[0].id == ROOT_ID and s.turns[-1].id == SELECTED
    assert len(s.turns) == 12
    # Fields psmlab does not model stay in meta; top-level settings on the root's meta.
    bookmarked = [t for t in s.nodes if "bookmark" in (t.meta or {})]
    assert len(bookmarked) == 2
    assert sorted((t.meta or {})["bookmark"] for t in bookmarked) == [False, True]
    assert root.meta is not None and root.meta[DOC_KEY]["generation_settings"]["model"] == "davinci"
    assert s.title == "loom import"
    assert from_loom(doc, title="dialectic").title == "dialectic"


def test_real_file_round_trip_is_exact() -> None:
    doc = real_doc()
    before = copy.deepcopy(doc)
    s = from_loom(doc)
    back = to_loom(s)
    assert doc == before  # the input is not touched
    assert back == doc
    assert json.loads(json.dumps(back)) == doc
    # And through psmlab's own serialisation of the session.
    again = Session.model_validate_json(s.model_dump_json())
    assert to_loom(again) == doc


def test_real_file_edited_in_psmlab() -> None:
    doc = real_doc()
    s = from_loom(doc)
    s.nodes.append(TurnRecord(id="p1", parent=SELECTED, role="user", content=" and so on."))
    s.head = "p1"
    out = to_loom(s)
    added = next(n for n in walk(out["root"]) if n["id"] == "p1")
    assert added["parent_id"] == SELECTED and added["meta"] == {"source": "prompt"}
    assert out["selected_node_id"] == "p1"
    back = from_loom(out)
    # Same turns (a loom doc lists them depth-first, so the new one moves up to its place).
    assert {t.id: t for t in back.nodes} == {t.id: t for t in s.nodes}
    assert [t.id for t in back.children(SELECTED)] == ["p1"]
    assert back.head == "p1" and back.turns[-2].id == SELECTED


def psmlab_tree() -> Session:
    t = TurnRecord
    # Any TurnRecord field beyond the loom ones must come back too (e.g. a fixed creation time).
    old = {"created": "2020-01-02T03:04:05+00:00"} if "created" in TurnRecord.model_fields else {}
    nodes = [
        t(id="s", parent=None, role="system", content="You are a helpful assistant."),
        t(id="u1", parent="s", role="user", content="Who are you?"),
        t(
            id="a1",
            parent="u1",
            role="assistant",
            content="I am a model.",
            adopted_from="g-1",
            adopted_model="base-7b",
            adopted_how="key",
        ),
        t(id="a2", parent="u1", role="assistant", content="I am a person.", meta={"note": [1, 2]}),
        t(id="u2", parent="a2", role="user", content="Really?", **old),
        t(id="r2", parent=None, role="user", content="A second root."),
        t(id="r2a", parent="r2", role="assistant", content="Its answer.", source="import:x"),
    ]
    return Session(title="two roots", nodes=nodes, head="u2")


def test_psmlab_tree_round_trip_keeps_branches() -> None:
    s = psmlab_tree()
    doc = to_loom(s)
    json.dumps(doc)
    root = doc["root"]
    assert root["text"] == "" and root[BLOCK] == {"synthetic_root": True}
    assert [c["id"] for c in root["children"]] == ["s", "r2"]
    u1 = root["children"][0]["children"][0]
    assert [c["id"] for c in u1["children"]] == ["a1", "a2"]
    assert u1["children"][0]["meta"] == {"source": "AI"}
    assert doc["selected_node_id"] == "u2"
    back = from_loom(doc)
    assert back.title == "two roots"
    assert back.head == "u2"
    assert back.model_dump()["nodes"] == s.model_dump()["nodes"]
    assert [c.id for c in back.children("u1")] == ["a1", "a2"]
    assert [r.id for r in back.children(None)] == ["s", "r2"]
    assert to_loom(back) == doc


def test_single_root_needs_no_synthetic_root() -> None:
    s = psmlab_tree()
    one = Session(title="one", nodes=[n for n in s.nodes if n.id not in ("r2", "r2a")], head="a1")
    doc = to_loom(one)
    assert doc["root"]["id"] == "s"
    assert "synthetic_root" not in doc["root"][BLOCK]
    assert from_loom(doc).model_dump()["nodes"] == one.model_dump()["nodes"]


def test_loom_app_fields_on_psmlab_turns_come_back() -> None:
    doc = to_loom(psmlab_tree())
    doc["root"]["children"][1]["bookmark"] = True  # what loom does when you bookmark the node
    back = from_loom(doc)
    r2 = next(t for t in back.nodes if t.id == "r2")
    assert r2.meta == {"_loom_fields": {"bookmark": True}}
    assert to_loom(back)["root"]["children"][1]["bookmark"] is True


def test_empty_session() -> None:
    doc = to_loom(Session(title="empty", nodes=[], head=None))
    back = from_loom(doc)
    assert back.nodes == [] and back.head is None


def raises(doc: Any, *words: str) -> SessionError:
    with pytest.raises(SessionError) as info:
        from_loom(doc)
    err = info.value
    assert err.exit_code == ExitCode.SESSION and err.fix
    assert "\n" not in err.problem
    for w in words:
        assert w in err.problem
    return err


def test_bad_input() -> None:
    raises({"schema_version": 1, "turns": []}, "not a loom tree")
    raises({"root": {"id": "a", "text": 3, "children": []}}, "not a loom tree")
    raises({"root": {"id": "a", "text": "x", "children": "nope"}}, "not a list")
    raises({"root": {"id": "a", "text": "x", "children": [7]}}, "not an object")
    raises({"root": {"text": "x", "children": []}}, "no usable id")
    raises(
        {"root": {"id": "a", "text": "x", "children": [{"id": "b", "children": []}]}},
        "'b'",
        "no text",
    )


def test_bad_psmlab_field_is_a_session_error() -> None:
    doc = to_loom(psmlab_tree())
    doc["root"]["children"][1][BLOCK]["adopted_from"] = 5
    raises(doc, "'r2'", "bad psmlab field")


def test_missing_parent_duplicate_and_cycle() -> None:
    doc = real_doc()
    doc["root"]["children"][2]["parent_id"] = "no-such-node"
    raises(doc, "names parent 'no-such-node'", "missing")
    doc = real_doc()
    kid = doc["root"]["children"][1]["children"][0]
    kid["parent_id"] = doc["root"]["children"][0]["id"]
    raises(doc, "but sits under")
    doc = real_doc()
    doc["root"]["children"].append(copy.deepcopy(doc["root"]["children"][0]))
    raises(doc, "appears twice")
    cyclic: dict[str, Any] = {"id": "a", "text": "x", "children": []}
    cyclic["children"].append({"id": "b", "text": "y", "children": [cyclic]})
    raises({"root": cyclic}, "'a'", "appears twice")


def test_to_loom_rejects_broken_sessions() -> None:
    t = TurnRecord
    orphan = Session.model_construct(
        title="x",
        nodes=[
            t(id="a", parent=None, role="user", content=""),
            t(id="b", parent="gone", role="user", content=""),
        ],
        head=None,
    )
    with pytest.raises(SessionError, match="not in the session"):
        to_loom(orphan)
    loop = Session.model_construct(
        title="x",
        nodes=[
            t(id="a", parent=None, role="user", content=""),
            t(id="b", parent="c", role="user", content=""),
            t(id="c", parent="b", role="user", content=""),
        ],
        head=None,
    )
    with pytest.raises(SessionError, match="cycle"):
        to_loom(loop)


def test_answers_no_turn_holds_are_loom_nodes_and_come_back_as_branches() -> None:
    """Loom keeps every continuation: the samples not adopted are written beside the adopted
    turn (they were missing from the export), named by generation, and read back as branches."""
    from psmlab.core.session.file import load

    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    s = load(example)
    held = {t.adopted_from for t in s.nodes if t.adopted_from}
    loose = [g for g in s.generations if g.id not in held]
    assert loose, "the example session should hold answers nobody adopted"
    doc = to_loom(s)
    nodes = walk(doc["root"])
    answers = [n for n in nodes if n.get(BLOCK, {}).get("generation")]
    assert sorted(n[BLOCK]["generation"] for n in answers) == sorted(g.id for g in loose)
    by_id = {n["id"]: n for n in nodes}
    for g in loose:
        node = next(n for n in answers if n[BLOCK]["generation"] == g.id)
        assert node["text"] == g.full_text.strip() and node["meta"] == {"source": "AI"}
        assert node[BLOCK]["adopted"] is False and node[BLOCK]["model"] == g.model
        parent = by_id[node["parent_id"]]
        assert node in parent["children"]
        answered = next(t for t in s.nodes if t.id == g.node)
        # an answer to a user turn sits under it; one continuing an assistant turn, beside it
        assert parent["id"] == (g.node if answered.role == "user" else answered.parent)
    back = from_loom(doc)
    assert len(back.nodes) == len(s.nodes) + len(loose)
    assert {t.content for t in back.children(loose[0].node)} >= {
        g.full_text.strip() for g in loose if g.node == loose[0].node
    }
    assert to_loom(back) == doc  # a second round trip changes nothing


def test_an_answer_that_continued_an_assistant_turn_sits_beside_it_not_under_it() -> None:
    """Its text holds the turn's (the prefill): under the turn, loom's joined branch said the
    turn twice (a review's case)."""
    from psmlab.core.session.file import load

    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    s = load(example)
    turn = next(t for t in s.nodes if t.role == "assistant")
    g = s.generations[0].model_copy(
        update={"id": "g-cont", "node": turn.id, "prefill": turn.content, "text": " More."}
    )
    s.generations.append(g)
    nodes = walk(to_loom(s)["root"])
    (node,) = [n for n in nodes if n.get(BLOCK, {}).get("generation") == "g-cont"]
    assert node["parent_id"] == turn.parent and node["text"] == turn.content + " More."
    assert all(node not in n["children"] for n in nodes if n["id"] == turn.id)


def test_an_answer_to_no_turn_sits_under_an_added_root() -> None:
    from psmlab.core.session.file import load

    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    s = load(example)
    g = s.generations[0].model_copy(update={"node": None, "id": "g-orphan"})
    one = Session(title="loose", nodes=s.nodes[:1], head=s.nodes[0].id, generations=[g])
    doc = to_loom(one)
    assert doc["root"][BLOCK] == {"synthetic_root": True}
    assert [c["id"] for c in doc["root"]["children"]] == [s.nodes[0].id, "g-orphan"]
    back = from_loom(doc)
    assert [t.id for t in back.children(None)] == [s.nodes[0].id, "g-orphan"]


def test_an_import_says_what_it_guessed_and_what_a_person_edited_in_loom(tmp_path: Path) -> None:
    """It said only how many turns it read: roles read without loom's provenance, model text a
    person edited in loom (credited to the model), a hoisted save's hidden branches."""
    from psmlab.core.session.export_md import to_markdown
    from psmlab.core.session.loom_notes import import_notes
    from tests.conftest import run_cli

    doc = {
        "root": {
            "id": "r",
            "text": "Q: What are you?\nA:",
            "meta": {"source": "prompt"},
            "masked_head": {"id": "old", "text": "x", "children": []},
            "children": [
                {"id": "a", "text": " A cat.", "meta": {"source": "mixed"}, "children": []},
                {"id": "b", "text": " A dog.", "children": []},
            ],
        }
    }
    s = from_loom(copy.deepcopy(doc))
    notes = import_notes(s)
    assert any(n.startswith("1 loom node records no source") for n in notes), notes
    assert any(n.startswith("1 turn holds model text a person edited in loom") for n in notes)
    assert any("saved hoisted (masked_head)" in n for n in notes), notes
    s.go("a")
    assert "edited by hand in loom" in to_markdown(s)
    # A psmlab session exported to loom, an answer edited there, imported again: edited.
    mine = Session(title="t")
    q = mine.add_turn(TurnRecord(role="user", content="Hi"))
    mine.add_turn(TurnRecord(role="assistant", content="Hello.", parent=q.id, adopted_from="g-1"))
    out = to_loom(mine)
    answer = out["root"]["children"][0]
    answer["text"], answer["meta"]["source"] = "Edited.", "mixed"
    back = from_loom(out)
    assert "edited by hand in loom" in to_markdown(back)
    assert not import_notes(from_loom(to_loom(mine)))  # nothing guessed, nothing edited
    # An answer psmlab wrote without adopting it names its model when read back.
    from psmlab.cli.tree import outline

    out = to_loom(mine)
    out["root"]["children"].append(
        {"id": "g-x", "text": "Hi there.", "meta": {"source": "AI"}, "children": [],
         BLOCK: {"generation": "g-x", "model": "smol", "sample": 0, "adopted": False}}
    )  # fmt: skip
    back = from_loom(out)
    assert [r["model"] for r in outline(back) if r["id"] == "g-x"] == ["smol"]
    back.go("g-x")
    assert "an answer of smol not adopted in psmlab" in to_markdown(back)
    # A folder, or a psmlab session, given to import: one line naming it.
    folder = run_cli("import", str(tmp_path))
    assert folder.returncode == 2 and "is a folder" in folder.stderr, folder.stderr
    sess = tmp_path / "s.json"
    sess.write_text(json.dumps({"schema_version": 2, "root": {"text": "x", "children": []}}))
    said = run_cli("import", str(sess))
    assert "is a psmlab session, not a loom tree" in said.stderr, said.stderr


def test_import_o_with_a_bare_name_is_a_session_in_the_sessions_directory(tmp_path: Path) -> None:
    """It wrote ./NAME with no .json, which `psmlab sessions` does not list."""
    from tests.conftest import run_cli

    loom = tmp_path / "t.json"
    loom.write_text(json.dumps({"root": {"id": "r", "text": "Hi", "children": []}}))
    kept = tmp_path / "kept"
    done = run_cli("import", str(loom), "-o", "mine", cwd=tmp_path,
                   env={"PSMLAB_SESSIONS_DIR": str(kept)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (kept / "mine.json").is_file() and not (tmp_path / "mine").exists()
