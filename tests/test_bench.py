"""The benchmark harness runs (quick mode) and checks its own equality assertions; no timing here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(4 * 3600)  # a hang guard, not a budget: pytest's default 30 min is not
def test_bench_quick_runs_and_reports_every_case() -> None:
    out = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # A guard against a hang only, under this test's own guard: the quick bench took 11
        # minutes on the 2-core machine under load, and a much slower machine must still pass.
        timeout=4 * 3600 - 300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert set(data) == {
        "stream",
        "samples",
        "probe",
        "evals",
        "capture_one",
        "capture_all",
        "steer",
        "parallel_samples",
        "side_by_side",
        "ui_lag",
        "startup",
        "memory",
        "remote_stream",
    }
    for case in data.values():
        assert {"ratio", "psmlab_s", "reference_s", "target"} <= set(case)
        assert case["psmlab_s"] > 0
