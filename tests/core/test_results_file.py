"""results.jsonl as a run reopens it: only a line cut short by a kill is dropped; any other line
that is not a unit's row is refused with the file untouched (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psmlab.core.errors import UsageError
from psmlab.core.measure.experiment_rows import _ours
from psmlab.core.measure.results import ResultsFile

ROWS = [json.dumps({"key": f"sample|{i}", "kind": "sample"}) for i in range(3)]


def _file(tmp_path: Path, data: bytes) -> Path:
    p = tmp_path / "results.jsonl"
    p.write_bytes(data)
    return p


def test_a_line_cut_short_at_the_end_is_dropped(tmp_path: Path) -> None:
    p = _file(tmp_path, ("\n".join(ROWS) + "\n").encode() + b'{"key": "sample|to')
    assert sorted(ResultsFile(p).done) == ["sample|0", "sample|1", "sample|2"]
    assert p.read_bytes() == ("\n".join(ROWS) + "\n").encode()


@pytest.mark.parametrize(
    "data, where",
    [
        # A whole bad line at the end (it ends in a newline: written so, not cut short).
        (("\n".join(ROWS) + '\n{"garbage": \n').encode(), "line 4"),
        (("\n".join([ROWS[0], "not json", *ROWS[1:]]) + "\n").encode(), "line 2"),
        (("\n".join(["[1, 2]", *ROWS]) + "\n").encode(), "line 1"),
    ],
)
def test_any_other_bad_line_is_refused_and_the_file_kept(
    tmp_path: Path, data: bytes, where: str
) -> None:
    p = _file(tmp_path, data)
    with pytest.raises(UsageError, match=f"{where} is not a unit's result row"):
        ResultsFile(p)
    assert p.read_bytes() == data
    # A folder holding it is the experiment's own to mend, not a file of someone else's.
    assert _ours(p)


def test_a_last_row_without_its_newline_gets_one_before_the_next_is_appended(
    tmp_path: Path,
) -> None:
    p = _file(tmp_path, "\n".join(ROWS).encode())  # an editor saved it without one
    r = ResultsFile(p)
    r.append({"key": "sample|3", "kind": "sample"})
    assert sorted(ResultsFile(p).done) == [f"sample|{i}" for i in range(4)]


def test_another_jsonl_is_not_ours(tmp_path: Path) -> None:
    p = _file(tmp_path, b'{"text": "I am a teacher."}\n{"text": "hi"}\n')
    assert not _ours(p)
    with pytest.raises(UsageError, match="is not an experiment's results"):
        ResultsFile(p)
