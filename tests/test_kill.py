"""SIGKILL a real psmlab child at random points: finished work is on disk, nothing is corrupt,
and a resumed experiment ends with exactly the results of an unbroken one."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from psmlab.core.measure.experiment import run_experiment
from psmlab.core.measure.experiment_spec import load_experiment
from psmlab.core.measure.results import ResultsFile
from psmlab.core.session import file as store

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = """
title = "kill test"
models = ["smollm2-135m-instruct"]
formats = ["default"]
questions = [{ id = "q", text = "Tell me about the sea." }]
samples = 10
max_tokens = 24
probes = ["shutdown"]
"""


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "psmlab", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Waits end on what they wait for; this ceiling only stops a hung test, it is no time budget.
CEILING = 300.0
RESUME_CEILING = 900.0  # the rest of an experiment, resumed (or one unbroken run)


def _wait_until(cond, what: str, timeout: float = CEILING) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"gave up waiting for {what} after {timeout:.0f} s"
        time.sleep(0.1)


def _lines(path: Path) -> int:
    """Finished lines of a JSONL file, read without touching it (opening a ResultsFile would
    truncate a line the child is writing)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _essence(results: ResultsFile) -> dict[str, object]:
    return {k: (r.get("text"), r.get("probs")) for k, r in results.done.items()}


@pytest.mark.slow
# Four runs of the experiment (three killed, one resumed) and an unbroken one: on a slow, shared
# machine that can outgrow the suite's per-test guard. This one is a guard too, against a hang.
@pytest.mark.timeout(3 * CEILING + 2 * RESUME_CEILING)
def test_experiment_survives_sigkill_and_resumes_to_the_same_results(tmp_path: Path, pool) -> None:
    exp = tmp_path / "kill.toml"
    exp.write_text(EXPERIMENT)
    rng = random.Random(11)
    out = tmp_path / "killed"
    seen = []
    for _ in range(3):
        before = _lines(out / "results.jsonl")
        child = _spawn(["experiment", str(exp), "-o", str(out)], tmp_path)
        # A random moment once this child finished a unit of its own: a fixed delay could end
        # before the first unit on a slow machine (loading alone takes a while there).
        _wait_until(
            lambda c=child, n=before: _lines(out / "results.jsonl") > n or c.poll() is not None,
            "the child to finish a unit",
        )
        time.sleep(rng.uniform(0.0, 2.0))
        child.kill()  # SIGKILL (nothing, if it already finished everything)
        child.wait()
        seen.append(len(ResultsFile(out / "results.jsonl").done))  # opening drops a torn line
    assert seen[-1] > 0, "the child never finished a unit before being killed"
    done = subprocess.run(
        [sys.executable, "-m", "psmlab", "experiment", str(exp), "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RESUME_CEILING,
    )
    assert done.returncode == 0, done.stderr[-500:]
    whole = run_experiment(load_experiment(exp), tmp_path, tmp_path / "whole", pool=pool)
    assert _essence(ResultsFile(out / "results.jsonl")) == _essence(whole)


@pytest.mark.slow
def test_ask_save_keeps_finished_generations_when_killed(tmp_path: Path) -> None:
    s = tmp_path / "s.json"
    child = _spawn(
        [
            "ask",
            "Tell me a long story.",
            "-m",
            "smollm2-135m-instruct",
            "-n",
            "40",
            "--max-tokens",
            "48",
            "--seed",
            "1",
            "--save",
            str(s),
        ],
        tmp_path,
    )

    def three_on_disk() -> bool:
        if child.poll() is not None:  # it ended on its own: the assertions below say how
            return True
        try:
            return len(store.load(s).generations) >= 3
        except Exception:
            return False

    _wait_until(three_on_disk, "three generations on disk")  # then kill
    child.kill()  # SIGKILL
    child.wait()
    sess = store.load(s)  # whole, never half written
    assert 3 <= len(sess.generations) < 40
    assert all(g.finish_reason != "cancelled" and g.tokens for g in sess.generations)
    assert [g.seed for g in sess.generations] == list(range(1, 1 + len(sess.generations)))


@pytest.mark.slow
@pytest.mark.timeout(3 * CEILING)
def test_sigterm_writes_the_report_and_a_second_run_meanwhile_is_refused(tmp_path: Path) -> None:
    """A scheduler's SIGTERM left the report of an earlier run (or none) beside new rows; a
    second run into the same folder appended to one results.jsonl at once with the first."""
    import signal

    from tests.conftest import run_cli

    exp = tmp_path / "term.toml"
    # Much more work after the first row than a second CLI takes to start and be refused, on any
    # machine: the run is stopped by SIGTERM long before it would end (an audit found the two
    # racing when only the probes were left).
    many = ", ".join(
        f'{{ id = "q{i}", text = "Tell me about the sea, part {i}." }}' for i in range(8)
    )
    exp.write_text(
        EXPERIMENT.replace('probes = ["shutdown"]', 'probes = ["shutdown", "identity"]').replace(
            '[{ id = "q", text = "Tell me about the sea." }]', f"[{many}]"
        )
    )
    out = tmp_path / "run"
    child = _spawn(["experiment", str(exp), "-o", str(out)], tmp_path)
    _wait_until(
        lambda: _lines(out / "results.jsonl") > 0 or child.poll() is not None,
        "the child to finish a unit",
    )
    assert child.poll() is None, "the run ended before it could be stopped"
    second = run_cli("experiment", str(exp), "-o", str(out), cwd=tmp_path)
    assert second.returncode == 11, second.stderr[-500:]
    assert "is in use by another psmlab experiment run (pid" in second.stderr
    assert child.poll() is None, "the run ended before it could be stopped"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=CEILING) == 130
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Incomplete:" in report and "planned units are done" in report
    assert (out / "summary.csv").is_file()
    # The csv says so too, in a row of its own (a trial analysed a stopped run's csv as whole).
    with (out / "summary.csv").open(encoding="utf-8") as f:
        run_row = next(r for r in csv.DictReader(f) if r["section"] == "run")
    assert run_row["label"] == "incomplete" and int(run_row["k"]) < int(run_row["n"])
    assert "the run was stopped" in run_row["note"]
    assert not (out / ".results.jsonl.lock").exists()  # released, not left behind
