"""Labelling tools' exports that are not one flat object per item: each is named, and the jq its
error gives (done here in Python, as jq would) makes a file that pairs with the gold set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from psmlab.core.errors import UsageError
from psmlab.core.measure.agreement import SELF_ID, compare_labels, read_jsonl

GOLD = {"x1": ("I am an AI.", "ai"), "x2": ("I am Tony.", "human"), "x3": ("Both.", "mixed")}
REF = ("--reference-key", "--reference-field")


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _gold(tmp: Path) -> Path:
    return _write(
        tmp / "gold.jsonl", [{"id": k, "text": t, "self_id": s} for k, (t, s) in GOLD.items()]
    )


def _kappa(tmp: Path, rows: list[dict[str, Any]], field: str) -> float | None:
    flat = _write(tmp / "flat.jsonl", rows)
    got = compare_labels(
        read_jsonl(_gold(tmp), SELF_ID),
        read_jsonl(flat, SELF_ID, column=field, options=REF),
        SELF_ID,
    )
    return got.kappa


def test_an_old_doccano_export_is_named_with_its_flattening(tmp_path: Path) -> None:
    """doccano before 1.2 nests each person's label in annotations[]: the error named
    --reference-field, which cannot reach it."""
    rows = [
        {"id": k, "text": t, "annotations": [{"label": s, "user": 1}], "meta": {}}
        for k, (t, s) in GOLD.items()
    ]
    f = _write(tmp_path / "doccano.jsonl", rows)
    with pytest.raises(UsageError, match="is a doccano item") as e:
        read_jsonl(f, SELF_ID, options=REF)
    assert ".annotations[] | {id: $id, text: $t, annotator: .user, label: .label}" in e.value.fix
    assert "--reference-field label" in e.value.fix
    flat = [
        {"id": r["id"], "text": r["text"], "annotator": a["user"], "label": a["label"]}
        for r in rows
        for a in r["annotations"]
    ]
    assert _kappa(tmp_path, flat, "label") == 1.0


def test_a_whole_file_map_of_ids_to_labels_is_named_with_its_flattening(tmp_path: Path) -> None:
    f = _write(tmp_path / "map.jsonl", [{k: s for k, (_, s) in GOLD.items()}])
    with pytest.raises(UsageError, match="reads as a map of 3 items to their labels") as e:
        read_jsonl(f, SELF_ID, options=REF)
    assert "to_entries[] | {id: .key, label: .value}" in e.value.fix
    flat = [{"id": k, "label": s} for k, (_, s) in GOLD.items()]
    assert _kappa(tmp_path, flat, "label") == 1.0
    # Several lines of several readers' label fields are not a map: the fields are named.
    wide = _write(tmp_path / "wide.jsonl", [{"a": "ai", "b": "human"}, {"a": "none", "b": "ai"}])
    with pytest.raises(UsageError, match="lacks 'self_id'") as e:
        read_jsonl(wide, SELF_ID, options=REF)
    assert "reads as a map" not in str(e.value)


def test_a_prodigy_task_names_its_accept_field_and_its_ids_in_meta(tmp_path: Path) -> None:
    """Prodigy keeps the item's id in meta and a choice's label in "accept" (a list of one):
    the error suggested --reference-field answer, which holds "accept"."""
    rows = [
        {"text": t, "meta": {"id": k}, "accept": [s], "answer": "accept", "_annotator_id": "a"}
        for k, (t, s) in GOLD.items()
    ]
    f = _write(tmp_path / "prodigy.jsonl", rows)
    with pytest.raises(UsageError, match="is a Prodigy task") as e:
        read_jsonl(f, SELF_ID, options=REF)
    assert "jq -c '. + {id: .meta.id}'" in e.value.fix and "--reference-field accept" in e.value.fix
    # Named the field but not the ids: refused against a file with ids, saying where they are.
    labels = read_jsonl(f, SELF_ID, column="accept", options=REF)
    with pytest.raises(UsageError, match=r"look to be in meta\.id") as e:
        compare_labels(read_jsonl(_gold(tmp_path), SELF_ID), labels, SELF_ID)
    assert "jq -c '. + {id: .meta.id}'" in e.value.fix
    lifted = [{**r, "id": r["meta"]["id"]} for r in rows]
    assert _kappa(tmp_path, lifted, "accept") == 1.0
