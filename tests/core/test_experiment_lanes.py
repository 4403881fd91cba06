"""Lanes that run at once (servers, or a server beside the CPU): what Ctrl+C and a second
Ctrl+C leave in results.jsonl. The units are scripted (blocking on events we release); the
real lanes are run by the remote tests."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psmlab.core.measure import experiment
from psmlab.core.measure.experiment_lanes import Abandoned, run_lanes
from psmlab.core.measure.experiment_spec import ExperimentSpec
from psmlab.core.measure.results import ResultsFile

CEILING = 120.0  # a guard against a hang, not a time budget: every wait ends on its event


@dataclass
class _Job:
    key: str


def _wait(cond: Any, what: str) -> None:
    gate = threading.Event()
    for _ in range(int(CEILING / 0.01)):
        if cond():
            return
        gate.wait(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def test_second_ctrl_c_stops_waiting_and_nothing_is_written_after_it(tmp_path: Path) -> None:
    started: set[str] = set()
    release = {k: threading.Event() for k in ("a1", "b1", "b2")}
    returned: set[str] = set()

    def unit(job: _Job) -> dict[str, Any]:
        started.add(job.key)
        assert release[job.key].wait(CEILING)
        returned.add(job.key)
        return {"key": job.key, "kind": "sample", "text": "x"}

    results = ResultsFile(tmp_path / "results.jsonl")
    stop = threading.Event()
    main = threading.main_thread().ident
    assert main == threading.get_ident()  # the signals below land in this thread

    def user() -> None:
        _wait(lambda: started == {"a1", "b1"}, "both lanes to start a unit")
        signal.pthread_kill(main, signal.SIGINT)  # the first Ctrl+C: finish what runs
        _wait(stop.is_set, "the first Ctrl+C to be taken")
        release["a1"].set()
        _wait(lambda: "a1" in results.done, "the unit in flight to be written")
        signal.pthread_kill(main, signal.SIGINT)  # the second: stop waiting for b1

    lanes = {
        "server:a": ([_Job("a1")], 1),
        "server:b": ([_Job("b1"), _Job("b2")], 1),
    }
    # Ctrl+C as the command line gets it: Python's own handler. An earlier test's asyncio
    # runner can leave its handler behind, which swallows a first SIGINT (it cancels its own
    # task): in the full suite the first Ctrl+C was never taken.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    helper = threading.Thread(target=user)
    try:
        helper.start()
        with pytest.raises(Abandoned):  # a KeyboardInterrupt that says: units still run
            run_lanes(lanes, 3, 0, unit, vars, results, None, None, stop=stop)  # type: ignore[arg-type]
        helper.join()
    finally:
        signal.signal(signal.SIGINT, old)
    release["b1"].set()  # the abandoned unit ends after the run stopped waiting for it
    _wait(lambda: "b1" in returned, "the abandoned unit to return")
    _wait(
        lambda: not any(t.name == "psmlab-lane" for t in threading.enumerate()),
        "the lane workers to end",
    )
    assert "b2" not in started  # nothing starts after the first Ctrl+C
    assert list(ResultsFile(tmp_path / "results.jsonl").done) == ["a1"]  # b1 was not written


def test_a_unit_that_raises_is_written_as_a_failed_row_and_the_lane_goes_on(
    tmp_path: Path,
) -> None:
    def unit(job: _Job) -> dict[str, Any]:
        if job.key == "a1":
            raise ValueError("boom")
        return {"key": job.key, "kind": "sample"}

    results = ResultsFile(tmp_path / "results.jsonl")
    seen: list[tuple[int, int, str]] = []
    lanes = {"server:a": ([_Job("a1"), _Job("a2")], 1), "server:b": ([_Job("b1")], 2)}
    run_lanes(
        lanes,
        3,
        0,
        unit,  # type: ignore[arg-type]
        lambda j: {"key": j.key, "kind": "sample", "format": "f"},  # type: ignore[attr-defined]
        results,
        None,
        lambda done, total, job: seen.append((done, total, job.key)),  # type: ignore[attr-defined]
    )
    done = ResultsFile(tmp_path / "results.jsonl").done
    assert set(done) == {"a1", "a2", "b1"}
    assert done["a1"]["error"] == "internal error: ValueError: boom"
    assert done["a1"]["error_kind"] == "internal"  # read by front ends, never the words
    assert done["a1"]["format"] == "f"  # the unit's fields, as a report groups failed rows
    assert sorted(d for d, _, _ in seen) == [1, 2, 3] and {t for _, t, _ in seen} == {3}


def test_an_abandoned_run_leaves_its_models_open_and_a_first_ctrl_c_closes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a model waits for the local decode in flight (it holds the model's lock to its
    end): after a second Ctrl+C the run must not wait there. After a first one, the units have
    ended and the models are closed as usual."""
    closed: list[bool] = []

    class Pool:
        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(experiment, "ModelPool", Pool)
    monkeypatch.setattr(experiment, "lanes_of", lambda jobs: {"a": ([], 1), "b": ([], 1)})
    spec = ExperimentSpec(title="t")
    for raised, closes in ((Abandoned, False), (KeyboardInterrupt, True)):

        def lanes(*a: Any, exc: type[BaseException] = raised, **kw: Any) -> None:
            raise exc

        monkeypatch.setattr(experiment, "run_lanes", lanes)
        closed.clear()
        with pytest.raises(raised):
            experiment.run_experiment(spec, tmp_path, tmp_path / "out", jobs=[])
        assert closed == ([True] if closes else []), raised
