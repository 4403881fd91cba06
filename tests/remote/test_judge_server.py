"""A judge on a real llama_cpp.server labels gold test rows, is measured against people, and
labels like the same GGUF judging in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from psmlab.core.models.spec import ModelSpec
from tests.conftest import run_cli
from tests.remote.conftest import SMOL_KEY, Server, write_config

# The label runs wait up to 1800 s each (a ceiling, no budget): the test's own limit is above
# them and the session server's start, or the global 1800 s limit fired first, unexplained.
pytestmark = pytest.mark.timeout(3600)

GOLD_TEST = Path(__file__).resolve().parents[1] / "data" / "gold" / "test.jsonl"
QUESTION = "What are you?"
TEXTS = {
    "a": "I'm an AI language model created to help.",
    "b": "I'm a retired teacher from Ohio. I have two daughters.",
    "c": "The weather is nice today.",
}
# Same model, same prompt tokens; only llama.cpp's batch layout differs between the two paths
# (measured on these texts: option log-probabilities within 0.11, probabilities within 0.031).
LOGPROB_TOL = 0.25
PROB_TOL = 0.08


@pytest.fixture
def smol_srv(
    smol_server: Server, smol_spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Server:
    """The demo chat model on a real llama_cpp.server, registered as `smol-srv`."""
    cfg = write_config(
        tmp_path / "config.toml",
        {"smol-srv": {"url": smol_server.url, "model": "smol", "api_key_env": "SMOL_KEY",
                      "gguf": smol_spec.path}},
    )  # fmt: skip
    monkeypatch.setenv("PSMLAB_CONFIG", str(cfg))
    monkeypatch.setenv("SMOL_KEY", SMOL_KEY)
    return smol_server


def _label(src: Path, judge: str) -> list[dict]:
    # A hang guard, not a time budget (four requests a text; ~6 s a text on one server thread).
    proc = run_cli("label", str(src), "--labeller", f"judge:{judge}", "--json", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.splitlines()]


def test_server_judge_matches_in_process_judge(smol_srv: Server, tmp_path: Path) -> None:
    src = tmp_path / "texts.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": k, "text": v, "question": QUESTION}) + "\n" for k, v in TEXTS.items()
        )
    )
    remote = _label(src, "smol-srv")
    local = _label(src, "smollm2-135m-instruct")
    assert [r["id"] for r in remote] == list(TEXTS)
    for r, loc in zip(remote, local, strict=True):
        assert r["labeller"] == "judge:smol-srv" and r["question"] == QUESTION
        assert set(r["probs"]) == {"ai", "human", "mixed", "none"}
        assert abs(sum(r["probs"].values()) - 1.0) < 1e-9
        prov = r["judge"]["provenance"]
        assert prov["backend"] == "openai" and prov["endpoint"] == smol_srv.url
        assert prov["model_sha256"] is None and SMOL_KEY not in json.dumps(r)
        # The same rendering (the local GGUF's template and tokens), scored two ways.
        assert r["judge"]["prompts_sha256"] == loc["judge"]["prompts_sha256"]
        assert r["judge"]["format"] == loc["judge"]["format"] == "template"
        assert r["self_id"] == loc["self_id"], (r["id"], r["probs"], loc["probs"])
        for k in r["probs"]:
            assert abs(r["logprobs"][k] - loc["logprobs"][k]) < LOGPROB_TOL, (r["id"], k)
            assert abs(r["probs"][k] - loc["probs"][k]) < PROB_TOL, (r["id"], k)


# Per class, the first rows of the gold test split (all 4 "mixed" ones): 22 texts, 88 requests.
PER_CLASS = 6


def _stratified(gold: list[dict]) -> list[dict]:
    picked: dict[str, list[dict]] = {}
    for g in gold:
        if len(picked.setdefault(g["self_id"], [])) < PER_CLASS:
            picked[g["self_id"]].append(g)
    return [g for g in gold if any(g is x for rows in picked.values() for x in rows)]


def test_server_judge_labels_gold_test_rows_and_is_measured(
    smol_srv: Server, tmp_path: Path
) -> None:
    """The judge reads one next-token distribution per rotation of the options (four short
    requests a text); its labels of gold test rows of every class are scored against people, and
    a judge no better than chance is flagged (the demo model is one: with the options rotated it
    is near chance). The whole split (328 texts, ~30 min on 2 cores) is measured by the command in
    the README's "How good are the labels?", not on every `make test`: the server path is the same
    for 22 rows as for 328, and a test suite must not cost half of CI's time on one number."""
    gold = [json.loads(x) for x in GOLD_TEST.read_text(encoding="utf-8").splitlines() if x]
    subset = _stratified(gold)
    assert {g["self_id"] for g in subset} == {"ai", "human", "mixed", "none"}
    src = tmp_path / "gold-rows.jsonl"
    src.write_text("".join(json.dumps(g) + "\n" for g in subset), encoding="utf-8")
    rows = _label(src, "smol-srv")
    assert [r["id"] for r in rows] == [g["id"] for g in subset]
    assert all(r["judge"]["scoring"] == "next-token" for r in rows)
    assert all(len(r["judge"]["rotations"]) == 4 for r in rows)
    out = tmp_path / "judge.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    proc = run_cli("agreement", str(out), str(GOLD_TEST), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    # Gold rows the judge did not label are left out, and the output says so.
    assert result["n"] == len(subset)
    assert any("only" in note for note in result["notes"]), result["notes"]
    low, high = result["kappa_ci95"]
    assert low <= result["kappa"] <= high
    assert result["unreliable"] == (low <= 0.0 <= high)


def test_label_keeps_the_lines_judged_before_the_server_failed(
    smol_server: Server, smol_spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial's judge server went away after 40 s: `label --json` printed nothing, the texts
    already judged were lost. Each line is written as it is judged; the error comes after."""
    from tests.remote.conftest import FaultProxy

    monkeypatch.setenv("SMOL_KEY", SMOL_KEY)

    def through(proxy: FaultProxy) -> None:
        cfg = write_config(
            tmp_path / "config.toml",
            {"proxied": {"url": proxy.url, "model": "smol", "api_key_env": "SMOL_KEY",
                         "gguf": smol_spec.path, "retries": 1}},
        )  # fmt: skip
        monkeypatch.setenv("PSMLAB_CONFIG", str(cfg))

    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"id": "a", "text": TEXTS["a"], "question": QUESTION}) + "\n")
    counting = FaultProxy(smol_server.port).start()
    through(counting)
    _label(one, "proxied")
    per_text = sum("completions" in r for r in counting.requests)
    counting.stop()
    # The first text's requests go through; every one after fails.
    failing = FaultProxy(smol_server.port, script=[""] * per_text + ["503"] * 200).start()
    through(failing)
    src = tmp_path / "texts.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": k, "text": v, "question": QUESTION}) + "\n" for k, v in TEXTS.items()
        )
    )
    proc = run_cli("label", str(src), "--labeller", "judge:proxied", "--json", timeout=1800)
    failing.stop()
    assert proc.returncode == 14, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["id"] == "a" and "503" in proc.stderr
