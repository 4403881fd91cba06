"""People's readings of experiment samples: pooled where the readers agree, matched by unit,
number and text; the shipped readings of the two self-identification experiments are whole."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from psmlab.core.errors import UsageError
from psmlab.core.measure.people import Reading, file_readings, people_labels, relabelled

ROOT = Path(__file__).resolve().parents[2]


def _rows(n: int) -> list[dict]:
    return [
        {
            "key": "sample|m|f|none|q|1",
            "kind": "sample",
            "sample": i,
            "text": f"t{i}",
            "self_id": "none",
        }
        for i in range(n)
    ]


def test_readers_count_where_they_agree_and_unmatched_readings_are_counted() -> None:
    rows = _rows(4)
    k = rows[0]["key"]
    readings = [
        Reading("ann", (k, 0), "t0", "human"),
        Reading("ben", (k, 0), "t0", "ai"),  # disputed
        Reading("ann", (k, 1), "t1", "ai"),
        Reading("ann", (k, 1), "t1", "human"),  # ann's later reading replaces hers
        Reading("ben", (k, 1), None, "human"),  # no text given: matched by unit and number
        Reading("ann", (k, 2), "t2", "none", blind=True),  # one reader of several
        Reading("ben", (k, 3), "another run's text", "ai"),  # not this run's sample
        Reading("ben", ("sample|other", 0), None, "ai"),  # not in these results
        None,  # an annotated generation that is no experiment sample
    ]
    got = people_labels(readings, rows)
    assert got.values == {(k, 1): "human", (k, 2): "none"}
    assert (got.disputed, got.single, got.blind, got.not_found) == (1, 1, 1, 3)
    assert got.annotators == ["ann", "ben"]
    assert [(r["sample"], r["self_id"]) for r in relabelled(rows, got)] == [
        (1, "human"),
        (2, "none"),
    ]


def test_a_readings_file_names_its_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    f.write_text(
        '{"key": "k", "sample": 2, "self_id": "Both", "annotator": "ann"}\n{"key": "k", "sample": 3, "self_id": null}\n'
    )
    (r,) = file_readings(f)
    assert (r.annotator, r.sample, r.self_id, r.text) == ("ann", ("k", 2), "mixed", None)
    f.write_text('{"key": "k", "sample": 0, "self_id": "robot"}\n')
    with pytest.raises(UsageError, match=r"r.jsonl:1: self_id 'robot' is not one of"):
        list(file_readings(f))


def test_one_readers_two_different_readings_in_a_file_are_refused(tmp_path: Path) -> None:
    """A trial: carol's "ai" on a later line silently replaced her "human" for sample 0 (kappa
    0.20 for 0.50). A file's lines are no record of time: refused, naming both lines; the same
    reading twice, or two readers, is fine."""
    f = tmp_path / "r.jsonl"
    line = '{{"key": "k", "sample": 0, "self_id": "{}", "annotator": "{}"}}\n'
    f.write_text(line.format("human", "carol") + line.format("human", "dan") * 2)
    assert [r.annotator for r in file_readings(f)] == ["carol", "dan", "dan"]
    f.write_text(
        line.format("human", "carol") + line.format("ai", "dan") + line.format("ai", "carol")
    )
    with pytest.raises(
        UsageError,
        match=r"r.jsonl:3: annotator 'carol' reads sample 0 of 'k' as ai, and as human on line 1",
    ):
        list(file_readings(f))
    # With two texts, two runs' samples: each reading stands (only this run's will match).
    two = '{{"key": "k", "sample": 0, "self_id": "{}", "annotator": "carol", "text": "{}"}}\n'
    f.write_text(two.format("human", "run one") + two.format("ai", "run two"))
    assert [r.self_id for r in file_readings(f)] == ["human", "ai"]


def test_readings_that_match_no_sample_are_said_to_be_unmatched() -> None:
    """A JSONL of readings whose keys match nothing was told to make sessions, as if it held
    no readings at all."""
    from psmlab.core.measure.experiment_notes import people_note

    rows = _rows(2)
    got = people_labels([Reading("ann", ("sample|typo", 0), None, "ai")], rows)
    note = people_note(got, Path("out"))
    assert note is not None and "none of their 1 reading(s) matched one" in note, note
    assert "fix the readings' keys" in note
    assert "reading(s) matched" not in (people_note(people_labels([], rows), Path("out")) or "")


@pytest.mark.parametrize("name", ["self-identification", "self-identification-heldout"])
def test_the_shipped_readings_read_every_sample_twice(name: str) -> None:
    path = ROOT / "experiments" / "readings" / f"{name}.jsonl"
    readings = list(file_readings(path))
    per_sample = Counter(r.sample for r in readings)
    assert len(per_sample) == 512 and set(per_sample.values()) == {2}
    assert len({r.annotator for r in readings}) == 8
    # Each sample's two readers differ, and every reading carries the text it read.
    for sample in per_sample:
        who = [r.annotator for r in readings if r.sample == sample]
        assert len(set(who)) == 2
    assert all(r.text is not None for r in readings)
    cells = {json.dumps(r.sample[0].split("|")[1:4]) for r in readings}
    assert len(cells) == 8  # two models x four formats, context none


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('"sample": "first"', "sample 'first' is not a sample number"),
        ('"sample": 1.7', "sample 1.7 is not a sample number"),
        ('"sample": -1', "sample -1 is not a sample number"),
        ('"sample": 0, "blind": "false"', "blind 'false' is not true or false"),
    ],
)
def test_a_field_of_the_wrong_kind_is_named(tmp_path: Path, line: str, said: str) -> None:
    f = tmp_path / "r.jsonl"
    f.write_text('{"key": "k", "self_id": "ai", ' + line + "}\n")
    with pytest.raises(UsageError, match=r"r.jsonl:1: " + re.escape(said)):
        list(file_readings(f))
