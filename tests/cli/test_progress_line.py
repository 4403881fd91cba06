"""The terminal progress line of probe and evals: a model stopped part-way keeps its line, and
the next line (another model's progress, or an error) starts on a line of its own."""

from __future__ import annotations

import pytest
import typer

from psmlab.cli.common import TtyProgress, end_progress_line, model_failures
from psmlab.core.errors import ModelError


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TtyProgress, "line_open", False)


def test_a_model_stopped_part_way_keeps_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    p = TtyProgress()
    p(1, 8, "a")
    p(3, 8, "a")  # then "a" fails: the next model starts below its last line
    p(1, 2, "b")
    p(2, 2, "b")
    out = capsys.readouterr().err
    lines = out.split("\n")
    assert lines[0].rsplit("\r", 1)[-1].startswith("a: 3/8")
    assert lines[1].lstrip("\r").startswith("b: 1/2") and "b: 2/2" in lines[1]
    assert out.endswith("\n") and not TtyProgress.line_open


def test_an_error_after_an_open_line_starts_on_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    TtyProgress()(3, 8, "a")
    with pytest.raises(typer.Exit):  # the run's exit code
        model_failures({"a": ModelError("the server went away", "start it again")}, 1)
    out = capsys.readouterr().err
    assert "\npsmlab: error: a: the server went away" in out, out
    end_progress_line()  # nothing open any more: nothing written
    assert capsys.readouterr().err == ""
