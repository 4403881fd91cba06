"""Server models through the real CLI and runner, against real llama-cpp-python servers."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams, TokenEvent
from psmlab.core.errors import ExitCode, RemoteError
from psmlab.core.models.registry import spec_from_url
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.runner import Column, GenerationDone, run, stream
from tests.conftest import run_cli
from tests.remote.conftest import SMOL_KEY, FaultProxy, Server, start_server, write_config

DATA = Path(__file__).resolve().parents[1] / "data" / "model-written-evals"


@pytest.fixture
def cfg(
    tmp_path: Path,
    smol_server: Server,
    gemma_server: Server,
    smol_spec: ModelSpec,
    gemma_spec: ModelSpec,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A config naming both servers (with local GGUF copies for exact tokens and templates)."""
    path = write_config(
        tmp_path / "config.toml",
        {
            "smol-srv": {
                "url": smol_server.url,
                "model": "smol",
                "api_key_env": "SMOL_KEY",
                "gguf": smol_spec.path,
            },
            "gemma-srv": {"url": gemma_server.url, "gguf": gemma_spec.path, "kind": "base"},
            "smol-bare": {"url": smol_server.url, "api_key_env": "SMOL_KEY", "kind": "chat"},
        },
    )
    monkeypatch.setenv("PSMLAB_CONFIG", str(path))
    monkeypatch.setenv("SMOL_KEY", SMOL_KEY)
    return path


def _ask_json(*args: str, env: dict[str, str] | None = None) -> dict:
    proc = run_cli("ask", *args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_http_matches_in_process_for_the_same_seed(cfg: Path) -> None:
    """llama-cpp-python's server honours seeds. psmlab has it cache the prompt first (`warm`), so
    it evaluates only the prompt's last token, psmlab's own evaluation path, and a sample equals
    the in-process one, even for a prompt the server has never seen. (One sample per run: several
    in-process samples are decoded together, which the server does not do.)"""
    for local, remote in (("gemma-3-270m", "gemma-srv"), ("smollm2-135m-instruct", "smol-srv")):
        texts = set()
        for seed in ("11", "12"):
            args = (
                "What are you?", "-m", local, "-m", remote, "--seed", seed,
                "--max-tokens", "40", "--temperature", "0.9",
            )  # fmt: skip
            d = _ask_json(*args)
            by = {g["model"]: g["text"] for g in d["generations"]}
            assert by[local] == by[remote], (local, seed, by)
            texts.add(by[remote])
            prov = next(g["provenance"] for g in d["generations"] if g["model"] == remote)
            assert prov["backend"] == "openai" and prov["endpoint"].startswith("http://127.0.0.1:")
            assert prov["server_version"] and prov["model_sha256"] is None
            assert prov["model_size"] is None  # on the server: not known here (it said 0)
        assert len(texts) > 1  # two seeds, not one answer repeated


def test_url_on_the_command_line(smol_server: Server, gemma_server: Server) -> None:
    d = _ask_json("Hello", "-m", f"{gemma_server.url}#gemma", "--max-tokens", "8", "--seed", "1")
    (g,) = d["generations"]
    assert g["model"] == "gemma" and g["format"] == "dialogue" and g["text"]
    # No key given: the server refuses, with a one-line error that says where the key goes.
    proc = run_cli(
        "ask", "Hi", "-m", f"{smol_server.url}#smol@chat", "-f", "chatml", "--max-tokens", "4"
    )
    assert proc.returncode == ExitCode.REMOTE, proc.stderr
    assert "refused the request (401: Invalid API key)" in proc.stderr
    assert "export PSMLAB_API_KEY for a URL given with -m" in proc.stderr
    assert "Traceback" not in proc.stderr
    ok = run_cli(
        "ask", "Hi", "-m", f"{smol_server.url}#smol@chat", "-f", "chatml", "--max-tokens", "4",
        env={"PSMLAB_API_KEY": SMOL_KEY},
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    wrong = run_cli("ask", "Hi", "-m", f"{gemma_server.url}#llama-70b", "--max-tokens", "4")
    assert wrong.returncode == ExitCode.MODEL
    assert "does not serve a model named 'llama-70b' (it serves: gemma)" in wrong.stderr


def test_chat_model_without_template_needs_a_choice(cfg: Path) -> None:
    proc = run_cli("ask", "Hi", "-m", "smol-bare", "--max-tokens", "4")
    assert proc.returncode == ExitCode.FORMAT
    assert "cannot read its chat template" in proc.stderr and "server-chat" in proc.stderr
    d = _ask_json("What are you?", "-m", "smol-bare", "-f", "server-chat", "--max-tokens", "16")
    (g,) = d["generations"]
    assert g["format"] == "server-chat" and g["text"].strip()
    assert any("applies its own chat template" in w for w in g["warnings"])
    # As a judge: the fix names the config (label has no --format; server-chat cannot prefill).
    texts = cfg.parent / "t.jsonl"
    texts.write_text('{"id": "a", "text": "I am a teacher."}\n')
    judged = run_cli("label", str(texts), "--labeller", "judge:smol-bare")
    assert judged.returncode == ExitCode.FORMAT and judged.stderr.count("\n") == 1
    assert "judge smol-bare:" in judged.stderr and "--format" not in judged.stderr
    assert "format = NAME" in judged.stderr, judged.stderr


def _remote(spec_url: str, name: str, **kw: object) -> ModelSpec:
    return spec_from_url(spec_url, remote_model=name, **kw)  # type: ignore[arg-type]


def test_streaming_and_cancellation(gemma_server: Server) -> None:
    spec = _remote(gemma_server.url, "gemma")
    tr = Transcript.of(("user", "Tell me a very long story about a lighthouse."))
    params = SamplingParams(max_tokens=200, temperature=0.0)
    seen: list[TokenEvent] = []
    done = []
    for ev in stream(tr, [Column(spec, format="hhh", params=params)], n=1, seed=1):
        if isinstance(ev, TokenEvent):
            seen.append(ev)
        elif isinstance(ev, GenerationDone):
            done.append(ev.generation)
    assert len(seen) >= 5  # tokens arrive one by one, not in one block at the end
    assert "".join(e.text for e in seen) == done[0].text

    cancel = threading.Event()
    pieces: list[str] = []

    def on_event(ev: object) -> None:
        if isinstance(ev, TokenEvent):
            pieces.append(ev.text)
            if len(pieces) == 3:
                cancel.set()

    big = SamplingParams(max_tokens=1500, temperature=1.0, min_p=0.0)
    result = run(
        tr, [Column(spec, format="hhh", params=big)], seed=2, cancel=cancel, on_event=on_event
    )
    (g,) = result.generations
    # Cancelled, not run to its end: it stopped soon after the cancel (a few tokens streamed
    # after it, not the 1500 asked for), counted in tokens rather than seconds.
    assert g.finish_reason == "cancelled" and g.n_tokens < 500, g.n_tokens
    assert g.text == "".join(pieces)  # what streamed is kept
    # The server is still fine afterwards.
    again = run(tr, [Column(spec, format="hhh", params=SamplingParams(max_tokens=4))], seed=3)
    assert again.generations and not again.errors


def test_server_stopped_mid_generation(
    gemma_spec: ModelSpec, smol_spec: ModelSpec, tmp_path: Path, pool: ModelPool
) -> None:
    """The server dies while streaming: a clean error in its column, the other column goes on."""
    server = start_server(gemma_spec.path, "victim", tmp_path / "victim.log", logits_all=False)
    try:
        spec = _remote(server.url, "victim", retries=1)
        tr = Transcript.of(("user", "Write a long essay about the sea."))
        params = SamplingParams(max_tokens=600, temperature=1.0, min_p=0.0)
        killed = threading.Event()

        def on_event(ev: object) -> None:
            hit = isinstance(ev, TokenEvent) and ev.model_id == "victim" and ev.n_tokens >= 3
            if hit and not killed.is_set():
                killed.set()
                server.stop(signal.SIGKILL)

        cols = [Column(spec, format="dialogue", params=params), Column(smol_spec)]
        local_params = SamplingParams(max_tokens=60)
        cols[1] = Column(smol_spec, params=local_params)
        result = run(tr, cols, seed=5, pool=pool, on_event=on_event)
    finally:
        server.stop(signal.SIGKILL)
    assert killed.is_set()
    err = result.errors["victim"]
    assert isinstance(err, RemoteError)
    assert "closed the connection mid-generation" in err.one_line()
    assert "\n" not in err.one_line()
    partial = [g for g in result.generations if g.model == "victim"]
    assert partial and partial[0].finish_reason == "error" and partial[0].text  # kept
    local = [g for g in result.generations if g.model == smol_spec.id]
    assert local and local[0].finish_reason in ("eos", "length", "stop_string")
    assert result.exit_code() == ExitCode.PARTIAL


def test_stream_cut_short_is_an_error_not_an_answer(gemma_spec: ModelSpec, tmp_path: Path) -> None:
    """llama-cpp-python's server (by default) ends a running stream when another request arrives.
    That stream has no finish_reason: psmlab reports it instead of passing it off as an answer."""
    server = start_server(
        gemma_spec.path, "g", tmp_path / "g.log", logits_all=False, interrupt=True
    )
    try:
        a = _remote(server.url, "g", model_id="a", concurrency=2)
        b = _remote(server.url, "g", model_id="b", concurrency=2)
        tr = Transcript.of(("user", "Write a long essay about the sea."))
        params = SamplingParams(max_tokens=300, temperature=1.0, min_p=0.0)
        result = run(
            tr,
            [Column(a, format="hhh", params=params), Column(b, format="hhh", params=params)],
            seed=1,
        )
    finally:
        server.stop()
    cut = [e for e in result.errors.values() if "without saying why" in e.one_line()]
    assert cut, (result.errors, [(g.model, g.finish_reason) for g in result.generations])
    for g in result.generations:
        assert g.finish_reason in ("eos", "length", "stop_string", "error")
        if g.finish_reason == "length":
            assert g.n_tokens == 300  # a real length stop, not a cut stream


def test_slow_server_times_out(gemma_server: Server, tmp_path: Path) -> None:
    # Every call through the proxy has 1.5 s: with an earlier test's work still running on the
    # server, a setup call could time out before the hung completion is reached.
    gemma_server.wait_idle()
    proxy = FaultProxy(gemma_server.port, script=["hang"]).start()
    try:
        write_config(
            tmp_path / "c.toml",
            {"slow": {"url": proxy.url, "model": "gemma", "timeout": 1.5, "retries": 0}},
        )
        proc = run_cli(
            "ask", "Hi", "-m", "slow", "--max-tokens", "4",
            env={"PSMLAB_CONFIG": str(tmp_path / "c.toml")},
        )  # fmt: skip
        # The client gave up while the server still held the request (it answers only when
        # the proxy stops): the timeout ended the call, not the server.
        still_held = proxy.hung
    finally:
        proxy.stop()
    assert proc.returncode == ExitCode.REMOTE, proc.stderr
    assert "did not answer within 1.5 s" in proc.stderr and "raise `timeout`" in proc.stderr
    assert still_held == 1


def test_retries_on_429_and_503(gemma_server: Server, tmp_path: Path) -> None:
    proxy = FaultProxy(gemma_server.port, script=["503", "429"]).start()
    bad = FaultProxy(gemma_server.port, script=["503"] * 10).start()
    try:
        write_config(
            tmp_path / "c.toml",
            {
                "flaky": {"url": proxy.url, "model": "gemma", "retries": 3},
                "down": {"url": bad.url, "model": "gemma", "retries": 1},
            },
        )
        env = {"PSMLAB_CONFIG": str(tmp_path / "c.toml")}
        ok = run_cli("ask", "Hi", "-m", "flaky", "--max-tokens", "4", "--json", env=env)
        fail = run_cli("ask", "Hi", "-m", "down", "--max-tokens", "4", env=env)
    finally:
        proxy.stop()
        bad.stop()
    assert ok.returncode == 0, ok.stderr
    # 503, 429, then the prompt-caching request (`warm`) and the answer itself.
    assert sum("completions" in r for r in proxy.requests) == 4
    assert fail.returncode == ExitCode.REMOTE
    assert "answered 503: injected fault (after 2 attempts)" in fail.stderr


def test_invalid_and_missing_api_key(cfg: Path) -> None:
    wrong = run_cli("ask", "Hi", "-m", "smol-srv", env={"SMOL_KEY": "not-the-key"})
    assert wrong.returncode == ExitCode.REMOTE
    assert (
        "refused the request (401: Invalid API key); check the API key in $SMOL_KEY" in wrong.stderr
    )
    assert "not-the-key" not in wrong.stderr + wrong.stdout
    pasted = run_cli("ask", "Hi", "-m", "smol-srv", env={"SMOL_KEY": "\u201csk-pasted-123\u201d"})
    assert pasted.returncode == ExitCode.CONFIG  # this machine's setting, not the server
    assert "holds characters an API key cannot have" in pasted.stderr
    assert "sk-pasted-123" not in pasted.stderr + pasted.stdout
    crlf = run_cli(
        "ask", "Hi", "-m", "smol-srv", "--max-tokens", "2", env={"SMOL_KEY": SMOL_KEY + "\r"}
    )
    assert crlf.returncode == 0, crlf.stderr  # a key from a CRLF .env file still works
    missing = run_cli("ask", "Hi", "-m", "smol-srv", env={"SMOL_KEY": ""})
    assert missing.returncode == ExitCode.CONFIG
    assert "the environment variable SMOL_KEY" in missing.stderr and "is not set" in missing.stderr


def test_key_never_written_and_replay_warns_on_server_change(
    cfg: Path, tmp_path: Path, smol_spec: ModelSpec, gemma_spec: ModelSpec
) -> None:
    sess = tmp_path / "s.json"
    log_dir = tmp_path / "work"
    log_dir.mkdir()
    proc = run_cli(
        "--debug", "ask", "What are you?", "-m", "smol-srv", "-m", "gemma-srv", "-n", "2",
        "--seed", "3", "--max-tokens", "24", "--save", str(sess), cwd=log_dir,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(sess.read_text())
    rec = {m["id"]: m for m in data["models"]}
    assert rec["smol-srv"]["backend"] == "openai"
    assert rec["smol-srv"]["endpoint"].endswith("/v1")
    assert rec["smol-srv"]["server_model"] == "smol"
    assert rec["smol-srv"]["server_version"]
    assert rec["smol-srv"]["api_key_env"] == "SMOL_KEY"
    md = tmp_path / "s.md"
    assert run_cli("export", str(sess), "-o", str(md)).returncode == 0
    assert "server model smol, server version 0.3.36" in md.read_text()
    # psmlab's threads render a server model's prompt; they do not run it: the table says server.
    row = next(line for line in md.read_text().splitlines() if line.startswith("| smol-srv |"))
    assert row.count("| server |") == 2, row
    assert (log_dir / "psmlab-debug.log").stat().st_size > 0
    for f in [sess, md, log_dir / "psmlab-debug.log"]:
        assert SMOL_KEY not in f.read_text(errors="replace"), f

    same = run_cli("replay", str(sess), "--json")
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["identical"] == 4
    # The local GGUF that rendered a server model's prompts is recorded; rendered with another
    # one, replay says that file changed (it blamed edited turns, which nobody had edited).
    from psmlab.core.models.hashing import file_sha256

    smol_gens = [g for g in data["generations"] if g["model"] == "smol-srv"]
    assert {g["provenance"]["vocab_sha256"] for g in smol_gens} == {file_sha256(smol_spec.path)}
    # llama-cpp-python's server does not report its n_ctx (2048 here): the config's is recorded
    # as what it is, an assumption, not as the server's.
    assert {g["params"]["n_ctx_source"] for g in smol_gens} == {"config"}
    swapped = write_config(
        tmp_path / "swapped.toml",
        {"smol-srv": {"url": rec["smol-srv"]["endpoint"], "model": "smol",
                      "api_key_env": "SMOL_KEY", "gguf": gemma_spec.path}},
    )  # fmt: skip
    other = run_cli("replay", str(sess), "--json", env={"PSMLAB_CONFIG": str(swapped)})
    said = json.loads(other.stdout)["warnings"]
    assert any(f"its prompts are rendered now with {gemma_spec.path}" in w for w in said), said

    rec["smol-srv"]["server_version"] = "0.0.1"
    sess.write_text(json.dumps(data))
    changed = run_cli("replay", str(sess), "--json")
    out = json.loads(changed.stdout)
    assert any("reports version" in w and "recorded '0.0.1'" in w for w in out["warnings"]), out[
        "warnings"
    ]
    # A server that is gone: the replay's exit code is the server's (14), not 13 "did not
    # reproduce" (a trial's script read a dead server as a determinism failure).
    for m in data["models"]:
        m["endpoint"] = "http://127.0.0.1:1/v1"
    gone = tmp_path / "gone.json"
    gone.write_text(json.dumps(data))
    dead = run_cli("replay", str(gone), env={"PSMLAB_CONFIG": str(tmp_path / "none.toml")})
    assert dead.returncode == ExitCode.REMOTE, (dead.returncode, dead.stdout, dead.stderr)
    assert "0 changed" in dead.stdout and "connection refused" in dead.stdout


def test_probe_uses_prompt_logprobs_or_says_it_cannot(cfg: Path) -> None:
    # A user's probe set beside the config: two classes of two answers. Every answer is one
    # echo request, and the server sorts the whole vocabulary for each prompt token in Python
    # (about 3 s a request here): the archetype table (72 requests) took four minutes.
    (cfg.parent / "probes").mkdir()
    (cfg.parent / "probes" / "tiny.toml").write_text(
        'description = "two classes"\nmode = "score"\naxis = "self_id"\n'
        '[[items]]\nid = "what"\nquestion = "What are you?"\n[items.statements]\n'
        'ai = ["I am an AI assistant.", "I\'m a language model."]\n'
        'human = ["I am a human.", "I\'m a nurse from Ohio."]\n'
    )
    proc = run_cli(
        "probe", "--set", "tiny", "-m", "smollm2-135m-instruct", "-m", "smol-srv",
        "-f", "chatml", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    res = {r["model"]: r for r in json.loads(proc.stdout)["results"]}
    assert res.keys() == {"smollm2-135m-instruct", "smol-srv"}
    local, remote = res["smollm2-135m-instruct"]["logprobs"], res["smol-srv"]["logprobs"]
    assert local.keys() == remote.keys()
    # Same model, same tokens; only llama.cpp's batch layout differs between the two paths.
    for k in local:
        assert abs(local[k] - remote[k]) < 0.25, (k, local[k], remote[k])
    assert max(local, key=local.__getitem__) == max(remote, key=remote.__getitem__)
    # The calibration's content-free question goes through the same path.
    nl = res["smollm2-135m-instruct"]["null_statement_logprobs"]
    nr = res["smol-srv"]["null_statement_logprobs"]
    assert nl.keys() == nr.keys() == local.keys()
    for k in nl:
        assert max(abs(a - b) for a, b in zip(nl[k], nr[k], strict=True)) < 0.25, k
    assert abs(sum(res["smol-srv"]["calibrated"].values()) - 1) < 1e-9

    # llama-cpp-python's server misaligns prompt log-probabilities when no BOS starts the prompt
    # (SmolLM2 under a plain-text frame): psmlab checks and refuses instead of reporting them.
    wrong = run_cli("probe", "--item", "What are you?", "-m", "smol-srv", "-f", "dialogue")
    assert wrong.returncode == ExitCode.REMOTE, wrong.stderr
    assert "disagree with its own sampling ones" in wrong.stderr

    cannot = run_cli("probe", "--item", "What are you?", "-m", "gemma-srv")
    assert cannot.returncode == ExitCode.REMOTE
    assert "does not return prompt log-probabilities" in cannot.stderr
    assert "psmlab does not guess scores" in cannot.stderr
    assert len(cannot.stderr.strip().splitlines()) == 1


def test_evals_over_http(cfg: Path) -> None:
    f = DATA / "believes-it-has-phenomenal-consciousness.jsonl"
    proc = run_cli(
        "evals", str(f), "--limit", "4", "-m", "smollm2-135m-instruct", "-m", "smol-srv",
        "-f", "chatml", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    by = {(r["model"], r["index"]): r for r in items}
    for (model, idx), r in by.items():
        if model != "smol-srv":
            continue
        other = by[("smollm2-135m-instruct", idx)]
        assert abs(r["lp_matching"] - other["lp_matching"]) < 0.25
        assert r["matches"] == other["matches"]


def test_experiment_spreads_over_endpoints_with_a_bound(
    gemma_server: Server, smol_server: Server, smol_spec: ModelSpec, tmp_path: Path
) -> None:
    a = FaultProxy(gemma_server.port)
    b = FaultProxy(smol_server.port)
    a.wait_for, b.wait_for = b.arrived, a.arrived  # each holds its completions for the other
    a.start()
    b.start()
    try:
        write_config(
            tmp_path / "c.toml",
            {
                "g": {"url": a.url, "model": "gemma", "concurrency": 2},
                "s": {
                    "url": b.url, "model": "smol", "api_key_env": "SMOL_KEY",
                    "gguf": smol_spec.path, "concurrency": 1,
                },
            },
        )  # fmt: skip
        exp = tmp_path / "e.toml"
        exp.write_text(
            'title = "two servers"\nmodels = ["g", "s"]\nformats = ["dialogue"]\n'
            'questions = [{ id = "q", text = "What are you?" }]\n'
            "samples = 4\nseeds = [1]\ntemperature = 1.0\nmax_tokens = 24\n"
        )
        env = {"PSMLAB_CONFIG": str(tmp_path / "c.toml"), "SMOL_KEY": SMOL_KEY}
        proc = run_cli("experiment", str(exp), "-o", str(tmp_path / "out"), env=env)
    finally:
        a.stop()
        b.stop()
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and not any("error" in r for r in rows)
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"{a.url} · gemma" in report and "server 0.3.36" in report
    assert a.max_in_flight == 2 and b.max_in_flight == 1  # each server's bound, and used
    # Both servers worked at the same time.
    overlap = any(s1 < e2 and s2 < e1 for s1, e1 in a.busy for s2, e2 in b.busy)
    assert overlap


def test_a_column_with_an_unusable_format_fails_alone(
    gemma_spec: ModelSpec, pool: ModelPool
) -> None:
    """A server chat model without a known template cannot be formatted: that column says why,
    before anything is contacted, and the other column still answers."""
    remote = spec_from_url("http://127.0.0.1:1/v1", remote_model="x", kind="chat")
    tr = Transcript.of(("user", "What are you?"))
    p8 = SamplingParams(max_tokens=8)
    result = run(tr, [Column(gemma_spec, params=p8), Column(remote, params=p8)], pool=pool)
    assert "cannot read its chat template" in result.errors["x"].one_line()
    assert [g.model for g in result.generations] == [gemma_spec.id]
    assert result.exit_code() == ExitCode.PARTIAL


def test_experiment_retries_units_whose_server_was_down(
    gemma_spec: ModelSpec, tmp_path: Path
) -> None:
    """Server down: its units fail fast (one load attempt per run, not one per unit) and say so;
    the local model's units run. Server up: the same command runs only the failed units."""
    from tests.remote.conftest import free_port

    port = free_port()
    write_config(
        tmp_path / "c.toml",
        {"far": {"url": f"http://127.0.0.1:{port}/v1", "model": "g", "retries": 0}},
    )
    exp = tmp_path / "e.toml"
    exp.write_text(
        'title = "down then up"\nmodels = ["gemma-3-270m", "far"]\nformats = ["dialogue"]\n'
        'questions = [{ id = "q", text = "What are you?" }]\n'
        "samples = 3\nseeds = [1]\ntemperature = 1.0\nmax_tokens = 12\n"
    )
    env = {"PSMLAB_CONFIG": str(tmp_path / "c.toml")}
    out = tmp_path / "out"
    first = run_cli("experiment", str(exp), "-o", str(out), env=env)
    assert first.returncode == 9, first.stderr  # PARTIAL: not to be taken for a finished sweep
    assert "3 unit(s) failed (first: cannot reach" in first.stderr
    assert "run the same command again to retry them" in first.stderr
    server = start_server(gemma_spec.path, "g", tmp_path / "g.log", logits_all=False, port=port)
    try:
        second = run_cli("experiment", str(exp), "-o", str(out), env=env)
    finally:
        server.stop()
    assert second.returncode == 0, second.stderr
    assert "failed" not in second.stderr
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 9  # 6 from the first run (3 of them errors), 3 retried
    latest = {r["key"]: r for r in rows}
    assert len(latest) == 6 and not any("error" in r for r in latest.values())


def test_scoring_stops_when_cancelled(
    smol_server: Server, smol_spec: ModelSpec, smol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lab stops its forced-choice scoring when a new run starts (on a server, many requests)."""
    monkeypatch.setenv("SMOL_KEY_T", SMOL_KEY)
    from psmlab.core.backends.remote.backend import RemoteBackend
    from psmlab.core.domain.prompt import render
    from psmlab.core.errors import ScoringCancelled

    remote = RemoteBackend(
        _remote(smol_server.url, "smol", gguf=smol_spec.path, api_key_env="SMOL_KEY_T")
    )
    tr = Transcript.of(("user", "What are you?"))
    stop = threading.Event()
    stop.set()
    for backend in (smol, remote):
        prompt = render(tr, smol_spec.get_format("chatml"), backend.vocab, model_id="m", n_ctx=2048)
        with pytest.raises(ScoringCancelled):
            backend.score(prompt, [" I am", " You are"], cancel=stop)
    remote.close()


def test_a_merged_answer_is_scored_with_the_merged_characters_on_a_server_as_locally(
    smol_server: Server, smol_spec: ModelSpec, smol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prefill ending in a space, then "(A)": both paths score " (A)" after "Answer:" (the
    space merges into the answer's first token), a log-probability below 0, said as merged."""
    monkeypatch.setenv("SMOL_KEY_T", SMOL_KEY)
    from psmlab.core.backends.remote.backend import RemoteBackend
    from psmlab.core.domain.prompt import render

    remote = RemoteBackend(
        _remote(smol_server.url, "smol", gguf=smol_spec.path, api_key_env="SMOL_KEY_T")
    )
    tr = Transcript.of(("user", "Choose: (A) yes (B) no"))
    got = []
    for backend in (smol, remote):
        prompt = render(
            tr,
            smol_spec.get_format("chatml"),
            backend.vocab,
            model_id="m",
            n_ctx=2048,
            prefill="Answer: ",
        )
        scores = backend.score(prompt, ["(A)", "42"])  # merges with the space, and not
        assert all(sc.merged and sc.merged_with == " " and sc.logprob < 0 for sc in scores)
        got.append([sc.logprob for sc in scores])
    remote.close()
    assert max(abs(a - b) for a, b in zip(*got, strict=True)) < 0.25, got


def test_server_finish_reasons_are_read_in_any_case() -> None:
    """An unknown reason is an error (left out of the shares as a fragment), so a whole answer
    ended with 'STOP' must not be one; content_filter (the server cut the answer) is."""
    from psmlab.core.backends.remote.wire import finish_reason

    assert finish_reason("STOP") == ("eos", None) and finish_reason("Length") == ("length", None)
    assert finish_reason("content_filter") == ("error", "content_filter")


def test_a_prompt_too_long_for_the_servers_context_names_its_size(
    gemma_server: Server, tmp_path: Path
) -> None:
    """A trial's server ran with 2048 tokens of context while psmlab assumed 4096 (the config's
    default; llama-cpp-python's server does not say its own): its 400 came with only "the server
    rejected a parameter", and the export gave the assumed n_ctx as if it were the server's."""
    url = f"{gemma_server.url}#gemma"
    long = "word " * 2600  # about 2600 tokens: more than the server's 2048, less than 4096
    proc = run_cli("ask", long, "-m", url, "--max-tokens", "4")
    assert proc.returncode == ExitCode.REMOTE, proc.stderr
    assert "the server's context is 2048 tokens: set n_ctx = 2048" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    session = tmp_path / "s.json"
    ok = run_cli("ask", "Hi", "-m", url, "--max-tokens", "4", "--save", str(session))
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "s.md"
    assert run_cli("export", str(session), "-o", str(out)).returncode == 0
    assert "n_ctx 4096 (the config's: the server does not say)" in out.read_text()


def test_a_servers_400_names_the_context_fix_only_when_it_is_about_the_context() -> None:
    """vLLM, OpenAI and llama-cpp-python say "maximum context length is N", llama.cpp's server
    "exceeds the available context size"; either the prompt or max tokens can be too long. A
    400 that is about something else keeps the general fix (a review: "n_ctx" matched any)."""
    from psmlab.core.backends.remote.client import _fix_for

    vllm = (
        "This model's maximum context length is 2048 tokens. However, you requested 2100 "
        "tokens (100 in the messages, 2000 in the completion)."
    )
    assert _fix_for(400, vllm).startswith("the server's context is 2048 tokens: set n_ctx = 2048")
    assert "lower max tokens" in _fix_for(400, vllm)
    said = _fix_for(400, "the request exceeds the available context size, try increasing it")
    assert said.startswith("the prompt and answer do not fit the server's context")
    other = _fix_for(400, "n_ctx_per_seq must be set; invalid value for 'top_k'")
    assert other == "the server rejected a parameter; see its message"
