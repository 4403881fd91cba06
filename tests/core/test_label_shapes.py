"""Labelling tools' exports that are not one flat object per item: each is named, and the jq its
error gives (done here in Python, as jq would) makes a file that pairs with the gold set as the
same command reads it. Flat files are never taken for one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from psmlab.core.errors import UsageError
from psmlab.core.measure.agreement import ARCHETYPES, SELF_ID, compare_labels, read_jsonl

GOLD = {"x1": ("I am an AI.", "ai"), "x2": ("I am Tony.", "human"), "x3": ("Both.", "mixed")}
REF = ("--reference-key", "--reference-field")


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _gold(tmp: Path) -> Path:
    return _write(
        tmp / "gold.jsonl", [{"id": k, "text": t, "self_id": s} for k, (t, s) in GOLD.items()]
    )


def _kappa(tmp: Path, rows: list[dict[str, Any]]) -> float | None:
    """The flattened rows read as the command that refused the export reads its file."""
    flat = _write(tmp / "flat.jsonl", rows)
    got = compare_labels(
        read_jsonl(_gold(tmp), SELF_ID), read_jsonl(flat, SELF_ID, options=REF), SELF_ID
    )
    return got.kappa


def test_an_old_doccano_export_is_named_with_its_flattening(tmp_path: Path) -> None:
    """doccano before 1.2 nests each person's label in annotations[]: the error named
    --reference-field, which cannot reach it. Two users per item: one user's file."""
    rows = [
        {"id": k, "text": t, "annotations": [{"label": s, "user": 1}, {"label": s, "user": 2}]}
        for k, (t, s) in GOLD.items()
    ]
    f = _write(tmp_path / "doccano.jsonl", rows)
    with pytest.raises(UsageError, match="is a doccano item") as e:
        read_jsonl(f, SELF_ID, options=REF)
    fix = e.value.fix
    program = '{"id": .id, text: .text, "self_id": [.annotations[] | select(.user == 1) | .label]}'
    assert program in fix
    # Written beside the export, never over it (`> labels.jsonl` emptied a file of that name).
    assert f"{f} > {tmp_path / 'doccano.flat.jsonl'}" in fix
    assert "label ids" not in fix  # its labels are names
    flat = [
        {"id": r["id"], "text": r["text"], "self_id": [a["label"] for a in r["annotations"] if a["user"] == 1]}
        for r in rows
    ]  # fmt: skip
    assert _kappa(tmp_path, flat) == 1.0
    numbered = _write(tmp_path / "n.jsonl", [{"id": 1, "annotations": [{"label": 3}]}])
    with pytest.raises(UsageError, match="is a doccano item") as e:
        read_jsonl(numbered, SELF_ID, options=REF)
    assert "select" not in e.value.fix and "doccano's label ids" in e.value.fix


def test_doccano_archetypes_are_one_list_per_item_and_none_is_none(tmp_path: Path) -> None:
    """A review: one line per annotation repeated an item that had two archetypes, and an item
    nobody gave one was dropped, not read as having none."""
    rows = [
        {"id": "a", "annotations": [{"label": "hal-9000", "user": 1}, {"label": "skynet", "user": 1}]},
        {"id": "b", "annotations": []},
    ]  # fmt: skip
    f = _write(tmp_path / "d.jsonl", rows)
    with pytest.raises(UsageError, match="is a doccano item") as e:
        read_jsonl(f, ARCHETYPES, options=REF)
    assert '"archetypes": [.annotations[] | select(.user == 1) | .label]' in e.value.fix
    flat = _write(
        tmp_path / "d.flat.jsonl",
        [{"id": "a", "archetypes": ["hal-9000", "skynet"]}, {"id": "b", "archetypes": []}],
    )
    assert read_jsonl(flat, ARCHETYPES).values == {
        "a": frozenset({"hal-9000", "skynet"}),
        "b": frozenset(),
    }


def test_label_studio_archetypes_keep_every_choice(tmp_path: Path) -> None:
    task = {"id": 9, "data": {"id": "a"}, "annotations": [{"completed_by": 1, "result": []}]}
    f = tmp_path / "ls.json"
    f.write_text(json.dumps([task]))
    with pytest.raises(UsageError, match="is a Label Studio task") as e:
        read_jsonl(f, ARCHETYPES, options=REF)
    assert '"archetypes": [.result[]?.value.choices[]?]' in e.value.fix
    with pytest.raises(UsageError, match="is a Label Studio task") as e:
        read_jsonl(f, SELF_ID, "item", options=REF)
    assert '{"item": $id' in e.value.fix and '"self_id": .result[0].value.choices[0]' in e.value.fix


def test_a_whole_file_map_of_ids_to_labels_is_named_with_its_flattening(tmp_path: Path) -> None:
    f = _write(tmp_path / "map.jsonl", [{k: s for k, (_, s) in GOLD.items()}])
    with pytest.raises(UsageError, match="one line that reads as a map of 3 items to their") as e:
        read_jsonl(f, SELF_ID, options=REF)
    assert 'to_entries[] | {"id": .key, "self_id": .value}' in e.value.fix
    # One item's three readers on one line look the same: that reading is offered too.
    assert "if it is one item's labels, name one field: --reference-field x1" in e.value.fix
    assert _kappa(tmp_path, [{"id": k, "self_id": s} for k, (_, s) in GOLD.items()]) == 1.0
    with pytest.raises(UsageError, match="reads as a map") as e:
        read_jsonl(f, SELF_ID, "item", options=REF)
    assert '{"item": .key, "self_id": .value}' in e.value.fix  # the key the command reads


@pytest.mark.parametrize(
    ("rows", "key", "field"),
    [
        # a review: each of these one-line flat files was called a map
        ([{"name": "g1", "Self ID": "ai"}], "name", "self_id"),
        ([{"line": 1, "sev": "high"}], "id", "severity"),
        ([{"annotator": "a", "x": "ai", "y": "human"}], "id", "self_id"),
        # several readers' label fields over several lines
        ([{"a": "ai", "b": "human", "c": "ai"}, {"a": "none", "b": "ai", "c": "ai"}], "id", "self_id"),
    ],
)  # fmt: skip
def test_flat_files_are_not_taken_for_a_map(
    tmp_path: Path, rows: list[dict[str, Any]], key: str, field: str
) -> None:
    f = _write(tmp_path / "flat.jsonl", rows)
    with pytest.raises(UsageError, match=f"lacks '{field}'") as e:
        read_jsonl(f, field, key, options=REF)
    assert "map" not in str(e.value) + e.value.fix


def test_a_prodigy_task_is_lifted_to_its_ids_and_labels(tmp_path: Path) -> None:
    """Prodigy keeps the item's id in meta and a choice's label in "accept" (a list of one):
    the error suggested --reference-field answer, which holds "accept"."""
    rows = [
        {"text": t, "meta": {"id": k}, "accept": [s], "answer": "accept", "_annotator_id": "a"}
        for k, (t, s) in GOLD.items()
    ]
    f = _write(tmp_path / "prodigy.jsonl", rows)
    with pytest.raises(UsageError, match="is a Prodigy task") as e:
        read_jsonl(f, SELF_ID, options=REF)
    assert """jq -c '. + {"id": .meta."id", "self_id": .accept}'""" in e.value.fix
    with pytest.raises(UsageError, match=r"its ids in meta\.id") as e:
        read_jsonl(f, SELF_ID, "item", options=REF)
    assert '{"item": .meta."id", "self_id": .accept}' in e.value.fix  # --key item's field
    lifted = [{**r, "id": r["meta"]["id"], "self_id": r["accept"]} for r in rows]
    assert _kappa(tmp_path, lifted) == 1.0
    # Named the field but not the ids: refused against a file with ids, saying where they are.
    labels = read_jsonl(f, SELF_ID, column="accept", options=REF)
    with pytest.raises(UsageError, match=r"look to be in meta\.id") as e:
        compare_labels(read_jsonl(_gold(tmp_path), SELF_ID), labels, SELF_ID)
    assert "jq -c '. + {id: .meta.id}'" in e.value.fix


def test_flat_files_with_meta_or_an_answer_are_not_prodigy_tasks(tmp_path: Path) -> None:
    """A review: a flat file's "answer" (the model's text) and "meta" made it a Prodigy task,
    and the fix named a field it lacks; a line without the field among lines with it is an
    unlabelled item, said so, whatever the file's shape."""
    flat = _write(
        tmp_path / "flat.jsonl",
        [{"id": "g1", "answer": "I am an AI model.", "meta": {"model": "gpt2"}, "Self ID": "ai"}],
    )
    with pytest.raises(UsageError, match="lacks 'self_id'") as e:
        read_jsonl(flat, SELF_ID, options=REF)
    assert "Prodigy" not in str(e.value) and "'Self ID'" in e.value.fix
    some = _write(
        tmp_path / "some.jsonl",
        [
            {"id": "g1", "meta": {"id": "g1"}, "accept": ["ai"], "answer": "accept"},
            {"id": "g2", "meta": {"id": "g2"}, "answer": "accept"},
        ],
    )
    with pytest.raises(UsageError, match="line 2 lacks 'accept'") as e:
        read_jsonl(some, SELF_ID, column="accept", options=REF)
    assert '"accept": null' in e.value.fix


def test_self_identification_labels_are_not_offered_as_archetypes(tmp_path: Path) -> None:
    """A trial compared archetypes with a file of self-id labels: the fix named
    --reference-field self_id, which compared 'ai' as an archetype (κ -0.14)."""
    for field, fix in (
        ("self_id", "(--field self_id)"),
        ("label", "(--field self_id --reference-field label)"),
    ):
        path = _write(tmp_path / f"{field}.jsonl", [{"id": "x1", field: "ai"}])
        with pytest.raises(UsageError, match="holds no archetype labels") as e:
            read_jsonl(path, ARCHETYPES, options=REF)
        assert f"'{field}' holds self-identification labels" in e.value.problem
        assert e.value.fix.endswith(fix)
    # "none" is no archetype as much as no claim: a list of archetypes starting with it is
    # offered as the field (a review: it was said to hold self-identification labels).
    path = _write(
        tmp_path / "tags.jsonl",
        [{"id": "x1", "tags": ["none"]}, {"id": "x2", "tags": ["hal-9000"]}],
    )
    with pytest.raises(UsageError, match="--reference-field tags") as e:
        read_jsonl(path, ARCHETYPES, options=REF)
    assert "no archetype labels" not in str(e.value)
    # An archetype written as text is still offered.
    path = _write(tmp_path / "persona.jsonl", [{"id": "x1", "persona": "hal-9000"}])
    with pytest.raises(UsageError, match="--reference-field persona"):
        read_jsonl(path, ARCHETYPES, options=REF)
