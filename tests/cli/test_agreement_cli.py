"""`psmlab agreement`: two JSONL label files in, kappa with an interval, F1 and confusion out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _psmlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psmlab", *args], capture_output=True, text=True, timeout=120
    )


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_agreement_json_and_table(tmp_path: Path) -> None:
    gold = [{"id": str(i), "self_id": "ai" if i % 2 else "human"} for i in range(40)]
    # The labeller gets 4 of the 40 wrong, all of them 'human' items called 'ai'.
    guess = [dict(r, self_id="ai") if int(str(r["id"])) in (0, 2, 4, 6) else r for r in gold]
    g = _write(tmp_path / "gold.jsonl", gold)
    s = _write(tmp_path / "rules.jsonl", list(reversed(guess)))  # order does not matter
    proc = _psmlab("agreement", str(s), str(g), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 40 and out["accuracy"] == 0.9
    assert abs(out["kappa"] - 0.8) < 1e-9  # p_o = 0.9, p_e = 0.5
    lo, hi = out["kappa_ci95"]
    assert lo < 0.8 < hi and not out["unreliable"]
    assert out["confusion"]["human"]["ai"] == 4
    human = next(c for c in out["classes"] if c["label"] == "human")
    assert human["recall"] == 16 / 20 and human["precision"] == 1.0
    table = _psmlab("agreement", str(s), str(g))
    assert table.returncode == 0 and "kappa 0.80" in table.stdout and "F1" in table.stdout


def test_a_bad_line_is_a_one_line_usage_error(tmp_path: Path) -> None:
    g = _write(tmp_path / "gold.jsonl", [{"id": "1", "self_id": "ai"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "self_id": "ai"}\n{"id": "2"}\n')
    proc = _psmlab("agreement", str(bad), str(g))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad.jsonl line 2 lacks" in proc.stderr
