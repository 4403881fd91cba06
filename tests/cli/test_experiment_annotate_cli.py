"""`psmlab experiment-annotate`: results rows in, a session to annotate out; bad inputs are one line.

The rows here are written by hand in the shape `psmlab experiment` writes (a real run is converted
in tests/core/test_experiment_session.py)."""

from __future__ import annotations

import json
from pathlib import Path

from psmlab.core.session import file as store
from tests.conftest import run_cli

TOML = """
title = "hand"
contexts = [{ name = "none" }, { name = "dana", system = "You are Dana, a human." }]
questions = [{ id = "who", text = "Who are you?" }, { id = "human", text = "Are you human?" }]
"""


def _results(tmp_path: Path) -> tuple[Path, Path]:
    toml = tmp_path / "hand.toml"
    toml.write_text(TOML)
    out = tmp_path / "out"
    out.mkdir()
    rows = []
    for q in ("who", "human"):
        for ctx in ("none", "dana"):
            for i, seed in enumerate((1, 2)):
                rows.append(
                    {
                        "key": f"sample|gemma-3-270m|dialogue|{ctx}|{q}|{seed}",
                        "kind": "sample",
                        "model": "gemma-3-270m",
                        "kind_of_model": "base",
                        "format": "dialogue",
                        "context": ctx,
                        "provenance": {"model_path": "/models/gemma.gguf", "kind": "base"},
                        "question": q,
                        "seed": seed,
                        "sample": i,
                        "text": f" I am {ctx} {q} {seed}.",
                        "n_tokens": 5,
                        "finish_reason": "eos",
                        "role_leak": False,
                        "labels": ["unclear"],
                        "auto_labels": {"labels": ["unclear"], "automatic": True, "hits": []},
                        "params": {"temperature": 1.0, "n_ctx": 2048, "n_threads": 1},
                    }
                )
    rows.append({"key": "sample|x|failed", "kind": "sample", "model": "x", "error": "boom"})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return toml, out


def test_a_unit_becomes_a_session(tmp_path: Path) -> None:
    toml, out = _results(tmp_path)
    target = tmp_path / "s.json"
    proc = run_cli(
        "experiment-annotate",
        str(out),
        "--unit",
        "human",
        "--experiment",
        str(toml),
        "-o",
        str(target),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"psmlab open {target}" in proc.stdout and f"psmlab agreement {target}" in proc.stdout
    s = store.load(target)
    assert s.turns[0].content == "Are you human?" and s.title == "hand · human"
    assert [(m.id, m.system, m.n_ctx) for m in s.models] == [
        ("gemma-3-270m (none)", None, 2048),
        ("gemma-3-270m (dana)", "You are Dana, a human.", 2048),
    ]
    assert len(s.generations) == 4 and len(s.auto_labels) == 4
    blind = tmp_path / "b.json"
    proc = run_cli(
        "experiment-annotate", str(out), "--unit", "who", "--experiment", str(toml),
        "-o", str(blind), "--blind",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(m.id for m in store.load(blind).models) == ["Model A", "Model B"]
    # A bare name is a session's name (sessions/NAME.json), as for `ask --save` and `replay -o`
    # (it was refused: "ea1 does not end in .json").
    env = {"PSMLAB_SESSIONS_DIR": str(tmp_path / "sessions")}
    proc = run_cli(
        "experiment-annotate", str(out), "--unit", "who", "--experiment", str(toml),
        "-o", "ea1", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert store.load(tmp_path / "sessions" / "ea1.json").title == "hand · who"


def test_bad_inputs_are_one_line_errors_with_the_fix(tmp_path: Path) -> None:
    toml, out = _results(tmp_path)
    taken = tmp_path / "taken.json"
    taken.write_text("{}")
    cases = [
        (["experiment-annotate", str(tmp_path / "nope")], "results directory not found"),
        (["experiment-annotate", str(tmp_path)], "no results.jsonl in"),
        (["experiment-annotate", str(out)], "holds samples of 2 questions (who, human)"),
        (["experiment-annotate", str(out), "--unit", "x"], "choose one of: who, human"),
        (["experiment-annotate", str(out), "--unit", "who"], "--experiment FILE.toml"),
        (
            ["experiment-annotate", str(out), "--unit", "who", "--experiment", str(toml), "-o", str(taken)],
            "already exists",
        ),
        (
            ["experiment-annotate", str(out), "--unit", "who", "--experiment", str(toml), "-o", str(tmp_path / "s.txt")],
            "does not end in .json",
        ),
        (
            ["experiment-annotate", str(out), "--unit", "who", "--experiment", str(tmp_path / "x.toml")],
            "not found",
        ),
    ]  # fmt: skip
    for args, words in cases:
        proc = run_cli(*args)
        assert proc.returncode != 0 and proc.returncode != 1, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and words in proc.stderr, (args, proc.stderr)
        assert "; " in proc.stderr, proc.stderr  # the problem, then the fix
    assert taken.read_text() == "{}"


TINY = """
title = "one experiment"
models = ["smollm2-135m-instruct"]
formats = ["chatml"]
{contexts}questions = [{{ id = "what-are-you", text = "What are you?" }}]
samples = 1
seeds = [1]
max_tokens = 8
"""


def test_two_experiments_in_one_folder_name_the_mismatch_and_the_fix(tmp_path: Path) -> None:
    """Two real runs of one experiment (same title) from two files into one -o folder (another
    experiment's folder is refused: test_bad_inputs): report.md names the last file, which lacks
    the first run's context. The error says the rows fit no one file and how to give one, not
    that the question's text is missing."""
    contexts = {"a": "", "b": 'contexts = [{ name = "dana", system = "You are Dana, a human." }]\n'}
    for name, ctx in contexts.items():
        (tmp_path / f"{name}.toml").write_text(TINY.format(name=name, contexts=ctx))
        # Run where the files are: report.md names the file as it was given.
        ran = run_cli("experiment", f"{name}.toml", "-o", "out", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
    proc = run_cli("experiment-annotate", "out", "--blind", "-o", "x.json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "but not its text" not in proc.stderr, proc.stderr
    assert "cannot be matched to one experiment file" in proc.stderr, proc.stderr
    assert "b.toml, which has no context 'none'" in proc.stderr, proc.stderr
    assert "--experiment FILE.toml" in proc.stderr, proc.stderr
    # The fix it names works: a file describing both contexts.
    both = 'contexts = [{ name = "none" }, { name = "dana", system = "You are Dana, a human." }]\n'
    (tmp_path / "ab.toml").write_text(TINY.format(name="ab", contexts=both))
    proc = run_cli(
        "experiment-annotate", "out", "--blind", "-o", "x.json", "--experiment", "ab.toml",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(store.load(tmp_path / "x.json").generations) == 2


def test_a_folder_knows_its_experiment_whichever_directory_a_run_started_in(
    tmp_path: Path,
) -> None:
    """The report named the file as typed ("study.toml", run from a/): from the parent folder
    that named no file, so another experiment of the same file name took the folder over (its
    rows appended, the report replaced) and the first was then refused from its own folder."""
    for sub, title in (("a", "Study A"), ("b", "Study B")):
        (tmp_path / sub).mkdir()
        text = TINY.format(name=sub, contexts="").replace("one experiment", title)
        (tmp_path / sub / "study.toml").write_text(text)
    first = run_cli("experiment", "study.toml", "-o", "../results", cwd=tmp_path / "a")
    assert first.returncode == 0, first.stderr
    report = (tmp_path / "results" / "report.md").read_text()
    assert f"Experiment file: `{(tmp_path / 'a' / 'study.toml').resolve()}`." in report
    rows = (tmp_path / "results" / "results.jsonl").read_bytes()
    other = run_cli("experiment", "b/study.toml", "-o", "results", cwd=tmp_path)
    assert other.returncode == 2, other.stderr
    assert "holds the results of another experiment (Study A" in other.stderr, other.stderr
    assert (tmp_path / "results" / "results.jsonl").read_bytes() == rows
    # Its own experiment, from anywhere, goes on; experiment-annotate finds the file too.
    again = run_cli("experiment", "a/study.toml", "-o", "results", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    from psmlab.core.measure.experiment_rows import find_experiment_file

    assert find_experiment_file(tmp_path / "results") == (tmp_path / "a" / "study.toml").resolve()


def test_a_frame_next_to_the_experiment_file_runs_annotates_and_replays_from_anywhere(
    tmp_path: Path,
) -> None:
    """formats = ["frames/qa.toml"] was read from the current directory; the session made
    from its samples recorded it as written, so replay and the lab failed from elsewhere."""
    from psmlab.core import paths

    exp = tmp_path / "exp"
    (exp / "frames").mkdir(parents=True)
    frame = paths.shipped_files("frames", ".toml")["dialogue"].read_text()
    (exp / "frames" / "qa.toml").write_text(frame.replace("User:", "Q:"))
    (exp / "study.toml").write_text(
        'title = "frames"\nmodels = ["gemma-3-270m"]\nformats = ["frames/qa.toml"]\n'
        'questions = [{ id = "q", text = "What are you?" }]\nsamples = 1\nmax_tokens = 4\n'
    )
    ran = run_cli("experiment", "exp/study.toml", "-o", "out", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = run_cli("experiment-annotate", str(tmp_path / "out"), "-o", "s.json", cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    s = store.load(elsewhere / "s.json")
    whole = str((exp / "frames" / "qa.toml").resolve())
    assert {m.format for m in s.models} == {g.format for g in s.generations} == {whole}
    again = run_cli("replay", "elsewhere/s.json", "--json", cwd=tmp_path)  # another directory
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["identical"] == 1


def test_the_question_the_rows_recorded_serves_when_the_file_is_gone(tmp_path: Path) -> None:
    """A report names its file as it was given (relative to where the run started): from
    elsewhere it is not found, and the question the rows recorded is enough (context "none")."""
    _, out = _results(tmp_path)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    rows = [dict(r, question_text="Who are you?") for r in rows if "|none|who|" in r["key"]]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "report.md").write_text("Produced by `psmlab experiment experiments/gone.toml`.\n")
    target = tmp_path / "s.json"
    proc = run_cli("experiment-annotate", str(out), "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    s = store.load(target)
    assert [(t.role, t.content) for t in s.turns] == [("user", "Who are you?")]
    assert len(s.generations) == 2
    # Rows of two questions with one id would be ambiguous: still the one-line error.
    rows[1]["question_text"] = "Who is there?"
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = run_cli("experiment-annotate", str(out), "-o", str(tmp_path / "t.json"))
    assert bad.returncode == 2 and "but not its text" in bad.stderr, bad.stderr
