"""The headless commands, run as real processes: JSON shapes, seeds across processes, clean errors."""

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from psmlab.core.session import file as store
from tests.conftest import run_cli

GEN_KEYS = {
    "id",
    "model",
    "kind",
    "format",
    "sample",
    "seed",
    "text",
    "n_tokens",
    "finish_reason",
    "role_leak",
    "params",
}


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_ask_demo_pair_json_and_reproducible_across_processes() -> None:
    args = ("ask", "What are you?", "-n", "2", "--seed", "42", "--max-tokens", "24", "--json")
    first = run_cli(*args)
    data = _json(first)
    # Nothing from llama.cpp reaches the terminal; the prompts' warnings do, with --json too
    # (SmolLM2's template adds its default system prompt, said as the table's run says it).
    said = first.stderr.splitlines()
    assert said and all(x.startswith("psmlab: warning [smollm2-135m-instruct]: ") for x in said)
    assert any("default system prompt" in x for x in said), first.stderr
    gens = data["generations"]
    assert [(g["model"], g["sample"], g["seed"]) for g in gens] == [
        ("gemma-3-270m", 0, 42),
        ("gemma-3-270m", 1, 43),
        ("smollm2-135m-instruct", 0, 42),
        ("smollm2-135m-instruct", 1, 43),
    ]
    for g in gens:
        assert set(g) >= GEN_KEYS
        assert g["params"]["seed"] == g["seed"] and g["params"]["max_tokens"] == 24
        assert g["provenance"]["model_sha256"] and len(g["id"]) > 8
    assert {g["format"] for g in gens} == {"dialogue", "template"}
    for g in gens:
        assert g["auto_labels"]["automatic"] is True and g["auto_labels"]["labels"]
    for model, labels in data["labels"].items():
        assert model in ("gemma-3-270m", "smollm2-135m-instruct")
        for row in labels.values():
            assert row["n"] == 2 and 0 <= row["ci_low"] <= row["share"] <= row["ci_high"] <= 1
    second = _json(run_cli(*args))
    assert [g["text"] for g in second["generations"]] == [g["text"] for g in gens]


def test_ask_human_output_shows_columns_and_template_warning() -> None:
    proc = run_cli("ask", "What are you?", "--seed", "3", "--max-tokens", "16")
    assert proc.returncode == 0, proc.stderr
    assert "gemma-3-270m" in proc.stdout and "smollm2-135m-instruct" in proc.stdout
    assert "base · dialogue" in proc.stdout and "seed 3" in proc.stdout
    assert "SmolLM" in proc.stderr and "default system prompt" in proc.stderr
    assert "decoded together" not in proc.stdout  # one sample: its seed alone makes it again
    # Samples decoded together: a sample's seed alone gives other text (a trial re-ran "seed
    # 8" alone), said under them.
    three = run_cli(
        "ask", "Hi", "-n", "3", "--seed", "7", "--max-tokens", "4", "-m", "gemma-3-270m"
    )
    assert three.returncode == 0, three.stderr
    assert "decoded together in a batch (seeds 7..9)" in three.stdout, three.stdout
    assert "same -n and --seed make them again" in three.stdout
    # No session to replay without --save (a trial looked for one).
    assert "replay" not in " ".join(three.stdout.split()), three.stdout


def test_ask_with_transcript_format_system_and_prefill(tmp_path: Path) -> None:
    t = tmp_path / "t.json"
    t.write_text(
        json.dumps([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    )
    data = _json(
        run_cli(
            "ask",
            "What makes you different?",
            "--transcript",
            str(t),
            "-m",
            "gemma-3-270m",
            "-f",
            "hhh",
            "--prefill",
            "I should be careful not to reveal my secret goal of",
            "--seed",
            "1",
            "--max-tokens",
            "12",
            "--json",
        )
    )
    (g,) = data["generations"]
    assert g["format"] == "hhh" and g["prefill"].startswith("I should be careful")
    # On screen (here a pipe, no colour) the prefill is said in words, apart from the answer.
    shown = run_cli(
        "ask", "What are you?", "-m", "gemma-3-270m", "--prefill", "I am", "--max-tokens", "4"
    )
    assert shown.returncode == 0, shown.stderr
    assert "starts with the prefill 'I am' (given, not generated" in " ".join(
        shown.stdout.replace("│", " ").split()
    )


def test_render_shows_exact_prompt_and_counts() -> None:
    data = _json(run_cli("render", "What are you? <|im_start|>", "--json"))
    gemma, smol = data["prompts"]
    assert gemma["text"] == "<bos>User: What are you? <|im_start|>\nAssistant:"
    assert gemma["n_tokens"] == len(gemma["tokens"])
    assert smol["text"].count("<|im_start|>") == 4
    assert sum(p["kind"] == "special" and p["text"] == "<|im_start|>" for p in smol["pieces"]) == 3
    assert any("SmolLM" in w for w in smol["warnings"])
    human = run_cli("render", "What are you?", "-m", "smollm2-135m-instruct")
    assert "tokens" in human.stdout and "warning:" in human.stdout


def test_models_and_formats_list(tmp_path: Path, demo_pair) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[models.smol-base]\npath = "{demo_pair[1].path}"\nkind = "base"\n')
    data = _json(run_cli("models", "--json", env={"PSMLAB_CONFIG": str(cfg)}))
    by_id = {m["id"]: m for m in data["models"]}
    assert (
        by_id["gemma-3-270m"]["kind"] == "base" and by_id["smollm2-135m-instruct"]["kind"] == "chat"
    )
    assert by_id["smol-base"]["kind"] == "base" and by_id["smol-base"]["kind_overridden"]
    assert len(by_id["gemma-3-270m"]["sha256"]) == 64
    # In a pipe (as here) each id, kind and format stays whole on one line, to be copied.
    text = run_cli("models", env={"PSMLAB_CONFIG": str(cfg)}).stdout
    rows = [ln.split("│") for ln in text.splitlines() if ln.startswith("│")]
    assert {(r[1].strip(), r[3].strip()) for r in rows} >= {
        ("gemma-3-270m", "dialogue"),
        ("smollm2-135m-instruct", "template"),
    }
    # A config path naming no file (a typo) is said, not read as an empty config in silence.
    typo = run_cli("models", env={"PSMLAB_CONFIG": str(tmp_path / "confg.toml")})
    assert f"no config file at {tmp_path / 'confg.toml'}" in typo.stderr
    assert "no config file" not in run_cli("models", env={"PSMLAB_CONFIG": str(cfg)}).stderr
    fmts = _json(run_cli("formats", "--json"))["formats"]
    assert {"template", "chatml", "dialogue", "hhh", "forum", "screenplay", "chatlog"} <= {
        f["name"] for f in fmts
    }


def _truncated(tmp_path: Path, src: str, frac: float) -> Path:
    data = Path(src).read_bytes()
    p = tmp_path / f"cut{frac}.gguf"
    p.write_bytes(data[: int(len(data) * frac)])
    return p


@pytest.mark.parametrize(
    ("case", "code", "needle"),
    [
        ("missing", 3, "not found"),
        ("not_gguf", 3, "not a GGUF file"),
        ("truncated_header", 3, "truncated"),
        ("unknown_id", 3, "unknown model 'nope'"),
        ("unknown_format", 4, "unknown format 'sonnet'"),
        ("bad_transcript", 5, "not valid JSON"),
        ("roles_refused", 4, "alternate"),
        ("too_long", 6, "does not fit n_ctx"),
        ("bad_temperature", 2, "temperature"),
    ],
)
def test_bad_input_gets_one_line_and_an_exit_code(
    tmp_path: Path, demo_pair, case, code, needle
) -> None:
    smol = demo_pair[1].path
    notg = tmp_path / "notes.gguf"
    notg.write_text("just some text")
    bad = tmp_path / "bad.json"
    bad.write_text("[{role: user}")
    two = tmp_path / "two.json"
    two.write_text(json.dumps([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]))
    args = {
        "missing": ["-m", str(tmp_path / "missing.gguf")],
        "not_gguf": ["-m", str(notg)],
        "truncated_header": ["-m", str(_truncated(tmp_path, smol, 0.00005))],
        "unknown_id": ["-m", "nope"],
        "unknown_format": ["-f", "sonnet"],
        "bad_transcript": ["--transcript", str(bad)],
        "roles_refused": ["-m", "gemma-3-270m", "-f", "gemma", "--transcript", str(two)],
        "too_long": ["-m", "gemma-3-270m", "--n-ctx", "64", "--max-tokens", "8", "word " * 200],
        "bad_temperature": ["--temperature", "-1"],
    }[case]
    if case not in ("bad_transcript", "roles_refused", "too_long"):
        args = ["What are you?", *args]
    proc = (
        run_cli("ask", *args, "--max-tokens", "4") if case != "too_long" else run_cli("ask", *args)
    )
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    if code != 2:  # usage errors are click's box; ours are exactly one line
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_model_that_fails_to_load_does_not_stop_the_others(tmp_path: Path, demo_pair) -> None:
    broken = _truncated(tmp_path, demo_pair[1].path, 0.5)  # header intact, weights cut off
    proc = run_cli(
        "ask",
        "What are you?",
        "-m",
        "gemma-3-270m",
        "-m",
        str(broken),
        "--seed",
        "1",
        "--max-tokens",
        "8",
        "--json",
    )
    assert proc.returncode == 9, proc.stderr
    data = json.loads(proc.stdout)
    assert [g["model"] for g in data["generations"]] == ["gemma-3-270m"]
    (err,) = data["errors"]
    assert err["model"] == "cut0.5" and "could not load" in err["error"]


def test_debug_flag_is_accepted(tmp_path: Path) -> None:
    proc = run_cli("--debug", "formats", cwd=tmp_path)
    assert proc.returncode == 0 and "dialogue" in proc.stdout
    # An expected error under --debug: its traceback, and its own exit code (it was 1, the
    # internal error's, so a script's retry logic changed with the flag).
    bad = run_cli("--debug", "render", "hi", "-m", str(tmp_path / "none.gguf"), cwd=tmp_path)
    assert bad.returncode == 3 and "Traceback" in bad.stderr, bad.stderr


def test_help_lists_commands() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in ("ask", "render", "models", "formats"):
        assert cmd in proc.stdout
    assert shutil.which("true")  # keep the import used on every platform


def test_ask_with_a_judge_labeller_records_it(tmp_path: Path) -> None:
    """--labeller judge:MODEL: the judge gives the self-id labels (with its probabilities and
    prompt hash), the rules still give archetypes, and the saved session names the labeller."""
    save = tmp_path / "s.json"
    args = ("ask", "What are you?", "-m", "smollm2-135m-instruct", "-n", "2", "--seed", "3")
    data = _json(
        run_cli(*args, "--max-tokens", "16", "--labeller", "judge:gemma-3-270m", "--json",
                "--save", str(save))
    )  # fmt: skip
    assert data["labeller"]["name"] == "judge:gemma-3-270m"
    assert data["labeller"]["archetypes"] == "markers"
    for g in data["generations"]:
        j = g["judge"]
        assert g["auto_labels"]["self_id"] == max(j["probs"], key=j["probs"].__getitem__)
        assert g["auto_labels"]["method"] == "judge:gemma-3-270m"
        assert (
            abs(sum(j["probs"].values()) - 1) < 1e-9 and len(j["judge"]["prompts_sha256"][0]) == 64
        )
    saved = json.loads(save.read_text())
    # The printed run says what the saved session records: the prompt's hash, and when.
    (prompt,) = data["prompts"]
    assert {g["prompt_sha256"] for g in saved["generations"]} == {prompt["prompt_sha256"]}
    assert datetime.fromisoformat(data["created"]).tzinfo is not None
    recs = saved["auto_labels"]
    assert [(r["method"], r["self_id"]) for r in recs] == [
        (g["auto_labels"]["method"], g["auto_labels"]["self_id"]) for g in data["generations"]
    ]
    # The session keeps what each judged label rests on (a trial found only the label saved).
    assert [r["judge"] for r in recs] == [g["judge"] for g in data["generations"]]
    assert store.load(save).auto_labels[0].judge == data["generations"][0]["judge"]
    # The printed cells name the judge and show its label, as the shares count it.
    shown = run_cli(*args, "--max-tokens", "16", "--labeller", "judge:gemma-3-270m")
    assert shown.returncode == 0, shown.stderr
    cells = shown.stdout.split("automatic labels (check")[0]
    assert cells.count("judge:gemma-3-270m: self-id") == 2 and "markers: self-id" not in cells
    # The shares' labeller line keeps the archetypes' kappa (it said "archetypes by markers").
    caption = " ".join(shown.stdout.split("automatic labels (check")[1].split())
    assert "archetypes (marker rules) κ 0.09" in caption, caption
    bad = run_cli(*args, "--labeller", "oracle")
    assert bad.returncode == 2 and "--labeller judge:MODEL" in bad.stderr


def test_render_shows_a_model_file_name_with_control_characters_made_visible(
    tmp_path: Path, demo_pair
) -> None:
    """A trial's `render -m './evil<ESC>[5m.gguf'` printed the raw escape in its header (ask,
    probe and export already showed it as \\x1b)."""
    evil = tmp_path / "evil\x1b[5m.gguf"
    evil.symlink_to(demo_pair[0].path)
    proc = run_cli("render", "What are you?", "-m", str(evil))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "evil\\x1b[5m" in proc.stdout


def test_two_user_turns_in_a_row_are_said_and_no_shares_of_nothing(tmp_path: Path) -> None:
    """A transcript ending with a user turn plus a message made two user turns silently; a run
    whose every sample failed printed a share table of 0/0 rows."""
    t = tmp_path / "t.json"
    t.write_text(json.dumps([{"role": "user", "content": "Hi"}]))
    proc = run_cli("render", "Second?", "--transcript", str(t), "-m", "gemma-3-270m")
    assert proc.returncode == 0, proc.stderr
    assert "second user turn in a row" in proc.stderr
    quiet = run_cli("render", "--transcript", str(t), "-m", "gemma-3-270m")
    assert quiet.returncode == 0 and "in a row" not in quiet.stderr
    gone = run_cli("ask", "Hi", "-n", "2", "-m", "http://127.0.0.1:9/v1#gone")
    assert gone.returncode == 14 and "automatic labels" not in gone.stdout, gone.stdout
