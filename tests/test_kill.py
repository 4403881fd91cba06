"""SIGKILL a real psmlab child at random points: finished work is on disk, nothing is corrupt,
and a resumed experiment ends with exactly the results of an unbroken one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from psmlab.core import store
from psmlab.core.experiment import ResultsFile, load_experiment, run_experiment

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


def _essence(results: ResultsFile) -> dict[str, object]:
    return {k: (r.get("text"), r.get("probs")) for k, r in results.done.items()}


@pytest.mark.slow
def test_experiment_survives_sigkill_and_resumes_to_the_same_results(tmp_path: Path, pool) -> None:
    exp = tmp_path / "kill.toml"
    exp.write_text(EXPERIMENT)
    rng = random.Random(11)
    out = tmp_path / "killed"
    seen = []
    for _ in range(3):
        child = _spawn(["experiment", str(exp), "-o", str(out)], tmp_path)
        time.sleep(rng.uniform(2.0, 4.0))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        seen.append(len(ResultsFile(out / "results.jsonl").done))  # opening drops a torn line
    assert seen[-1] > 0, "the child never finished a unit before being killed"
    done = subprocess.run(
        [sys.executable, "-m", "psmlab", "experiment", str(exp), "-o", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
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
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once a few generations are on disk
        time.sleep(0.3)
        try:
            if len(store.load(s).generations) >= 3:
                break
        except Exception:
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    sess = store.load(s)  # whole, never half written
    assert 3 <= len(sess.generations) < 40
    assert all(g.finish_reason != "cancelled" and g.tokens for g in sess.generations)
    assert [g.seed for g in sess.generations] == list(range(1, 1 + len(sess.generations)))
