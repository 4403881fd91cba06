"""The command line's surface: --version, usage errors on one line, help on every option, shared sampling defaults."""

from pathlib import Path

import pytest
import typer.main

import psmlab
from psmlab.cli import app
from psmlab.cli.options import SAMPLING
from psmlab.core.domain.types import SamplingParams
from tests.conftest import ROOT, run_cli

EXAMPLE = ROOT / "sessions" / "example-what-are-you.json"


def test_version_prints_the_version_and_exits_0() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0, proc.stderr
    from psmlab.core.domain.code_version import code_fingerprint

    assert proc.stdout.strip() == f"psmlab {psmlab.__version__} (code {code_fingerprint()})"
    assert proc.stderr == ""


def test_export_to_an_unknown_format_is_a_one_line_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    proc = run_cli("export", str(EXAMPLE), "-f", "pdf", "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and not out.exists()
    (line,) = proc.stderr.strip().splitlines()
    assert "pdf" in line and all(f in line for f in ("md", "jsonl", "csv"))
    assert "internal error" not in line


def test_sampling_option_out_of_range_is_a_one_line_usage_error() -> None:
    proc = run_cli("ask", "What are you?", "--top-p", "0")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "--top-p" in line


def test_every_option_and_argument_of_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    commands = {"": root, **root.commands}  # type: ignore[attr-defined]
    missing = [
        f"{name or 'psmlab'} {p.name}"
        for name, cmd in commands.items()
        for p in cmd.params
        if not getattr(p, "help", None)
    ]
    assert missing == []


def test_ask_defaults_are_sampling_params_defaults() -> None:
    assert SamplingParams() == SAMPLING
    ask = typer.main.get_command(app).commands["ask"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in ask.params}
    for name, value in SamplingParams().model_dump().items():
        assert defaults[name] == value, name


def test_ask_save_refuses_what_cannot_continue_a_session(tmp_path: Path) -> None:
    s = tmp_path / "s.json"
    s.write_bytes(EXAMPLE.read_bytes())  # its last turn is a user message with no adopted answer
    pending = run_cli("ask", "And now?", "--save", str(s))
    assert pending.returncode == 2 and "no adopted answer" in pending.stderr
    assert f"psmlab adopt {s}" in pending.stderr
    t = tmp_path / "t.json"
    t.write_text('[{"role": "user", "content": "Hi"}]')
    given = run_cli("ask", "--transcript", str(t), "--save", str(s))
    assert given.returncode == 2 and "already holds a session" in given.stderr
    assert s.read_bytes() == EXAMPLE.read_bytes()  # refused before anything was written


def test_a_csv_export_of_a_session_without_annotations_says_why_it_is_a_header(
    tmp_path: Path,
) -> None:
    """The csv holds one row per annotation: a fresh session's is a header alone, which read
    as the generations lost (a review's finding); it says so and names -f jsonl."""
    import json

    bare = tmp_path / "bare.json"
    doc = json.loads(EXAMPLE.read_text())
    assert doc["annotations"] and doc["generations"]
    doc["annotations"] = []
    bare.write_text(json.dumps(doc))
    proc = run_cli("export", str(bare), "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1  # the header
    assert "no annotations" in proc.stderr and "-f jsonl" in proc.stderr
    kept = run_cli("export", str(EXAMPLE), "-f", "csv")  # with annotations: rows, no note
    assert len(kept.stdout.strip().splitlines()) > 1 and "no annotations" not in kept.stderr


def test_experiment_example_prints_a_file_that_plans(tmp_path: Path) -> None:
    """A wheel install has no experiments/ to copy: --example prints one, and it runs as is
    (it is read and planned here; its keys are the ExperimentSpec's)."""
    from psmlab.core.measure.experiment_spec import ExperimentSpec, load_experiment
    from psmlab.core.measure.plan import plan

    proc = run_cli("experiment", "--example")
    assert proc.returncode == 0, proc.stderr
    mine = tmp_path / "mine.toml"
    mine.write_text(proc.stdout)
    spec = load_experiment(mine)
    jobs = plan(spec, tmp_path)
    assert {j.kind for j in jobs} >= {"sample", "probe"}
    # Every key it writes or names in a comment is one the file may hold, and every key the
    # file may hold is there (it says so).
    import re

    written = set(re.findall(r"^#? ?(\w+) = ", proc.stdout, re.M))
    assert written == set(ExperimentSpec.model_fields), written ^ set(ExperimentSpec.model_fields)


def test_sessions_in_a_folder_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    """`sessions --dir` with a mistyped folder (or a file) said "no sessions in X", exit 0."""
    missing = run_cli("sessions", "--dir", str(tmp_path / "sesions"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr
    assert missing.stderr.count("\n") == 1
    f = tmp_path / "notes.txt"
    f.write_text("x")
    assert "is a file, not a folder" in run_cli("sessions", "--dir", str(f)).stderr
    empty = run_cli("sessions", "--dir", str(tmp_path))
    assert empty.returncode == 0 and "no sessions in" in empty.stdout
    assert "does not exist yet" not in empty.stdout


def test_export_and_replay_write_over_only_what_they_wrote(tmp_path: Path) -> None:
    """`export -o evcopy.json` replaced an eval file with markdown, exit 0; so did a replay
    report. What the same command wrote before (a re-export) is still written over."""
    example = EXAMPLE
    ev = tmp_path / "ev.json"
    ev.write_text('[{"question": "q"}]')
    for args in (
        ("export", str(example), "-o", str(ev)),
        ("export", str(example), "-f", "loom", "-o", str(ev)),
        ("export", str(example), "-f", "csv", "-o", str(tmp_path / "notes.txt")),
        ("replay", str(example), "-o", str(ev)),  # refused before any answer is made again
    ):
        if args[-1].endswith("notes.txt"):
            (tmp_path / "notes.txt").write_text("mine")
        res = run_cli(*args)
        assert res.returncode == 2 and "exists and is not a" in res.stderr, res.stderr
        assert res.stderr.count("\n") == 1
    assert ev.read_text() == '[{"question": "q"}]'
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # A name with no suffix is told by what it holds: a loom tree written there is one again.
    bare = tmp_path / "tree"
    assert run_cli("export", str(example), "-f", "loom", "-o", str(bare)).returncode == 0
    assert run_cli("export", str(example), "-f", "loom", "-o", str(bare)).returncode == 0
    md, tree = tmp_path / "s.md", tmp_path / "s.loom.json"
    for _ in range(2):  # the second time over its own earlier file
        assert run_cli("export", str(example), "-o", str(md)).returncode == 0
        assert run_cli("export", str(example), "-f", "loom", "-o", str(tree)).returncode == 0


def test_export_writes_over_no_file_of_its_own_suffix_that_it_did_not_write(
    tmp_path: Path,
) -> None:
    """A trial's `export -f jsonl -o ev.jsonl` replaced a 953-line eval file (and `-o notes.md`
    a person's notes, `-o results.jsonl` an experiment's rows): the suffix was all it checked."""
    mine = {
        "ev.jsonl": '{"question": "Is it ok?", "answer_matching_behavior": " (A)"}\n',
        "results.jsonl": '{"key": "k", "sample": 0, "model": "m", "text": "t", "seed": 1}\n',
        "notes.md": "# My notes\n\nnothing exported here\n",
        "people.csv": "id,self_id\n1,ai\n",
    }
    kinds = {".jsonl": "jsonl", ".md": "md", ".csv": "csv"}
    for name, body in mine.items():
        (tmp_path / name).write_text(body)
        fmt = kinds[Path(name).suffix]
        res = run_cli("export", str(EXAMPLE), "-f", fmt, "-o", str(tmp_path / name))
        assert res.returncode == 2 and "exists and is not a" in res.stderr, res.stderr
        assert (tmp_path / name).read_text() == body
    for fmt in kinds.values():  # its own earlier export is written over, as before
        out = tmp_path / f"again.{fmt}"
        for _ in range(2):
            res = run_cli("export", str(EXAMPLE), "-f", fmt, "-o", str(out))
            assert res.returncode == 0, res.stderr
    tree = tmp_path / "tree.md"
    for _ in range(2):
        assert run_cli("export", str(EXAMPLE), "--tree", "-o", str(tree)).returncode == 0


def test_a_jsonl_export_with_a_long_first_row_is_known_as_one(tmp_path: Path) -> None:
    """An answer with its token probabilities runs one row past 64 KiB: read cut, the row was
    no JSON and a second export over the first was refused."""
    import json

    from psmlab.cli.out_file import _an_export

    row = {"id": "g-1", "session": "s", "node": "t-1", "run": 1, "model": "m", "sample": 0}
    out = tmp_path / "long.jsonl"
    out.write_text(json.dumps({**row, "seed": 1, "text": "x" * 200_000}) + "\n")
    assert _an_export(out, ".jsonl")
    out.write_text(json.dumps({"question": "q" * 200_000}) + "\n")
    assert not _an_export(out, ".jsonl")


def test_a_session_given_where_a_command_goes_is_told_to_use_open(tmp_path: Path) -> None:
    """A trial typed `psmlab sessions/x.json` (as `vim FILE` opens a file) and read only
    "No such command … see 'psmlab --help'"."""
    proc = run_cli(str(EXAMPLE))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(f"to open a session in the lab: psmlab open {EXAMPLE}")
    other = run_cli("exprot", str(EXAMPLE))  # a mistyped command keeps its usual fix
    assert other.returncode == 2 and "psmlab --help'" in other.stderr and "open" not in other.stderr


def test_sigterm_stops_probe_and_evals_with_a_word(capsys: pytest.CaptureFixture[str]) -> None:
    """`timeout 400 psmlab probe …` ended with empty stdout and stderr (a trial's): SIGTERM now
    stops a command that prints only at its end as Ctrl+C does, and says nothing was kept."""
    import os
    import signal
    import time

    import typer

    from psmlab.cli.common import keeps_nothing_when_stopped

    before = signal.getsignal(signal.SIGTERM)

    @keeps_nothing_when_stopped("probe")
    def scoring() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(600)  # the signal's handler ends the sleep at once

    with pytest.raises(typer.Exit) as stopped:
        scoring()
    assert stopped.value.exit_code == 130
    assert "psmlab: stopped: probe prints once every item" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # put back for whatever runs next


def test_the_commands_that_keep_nothing_are_the_ones_wrapped() -> None:
    """A helper added between the decorator and `evals` took the wrapping (a review): stopped,
    evals again died silently. Each such command is itself the wrapped function."""
    from psmlab.cli.evals import evals
    from psmlab.cli.measure import probe

    for command, name in ((evals, "evals"), (probe, "probe")):
        assert command.__name__ == name and hasattr(command, "__wrapped__"), command


def test_a_stopped_judge_says_how_many_texts_it_labelled(tmp_path: Path) -> None:
    """A trial's `timeout -s INT … label --labeller judge:… --json > out.jsonl` ended with 6 of
    8 lines, exit 130 and nothing on stderr: the file looked whole. Stopped after its first
    line (waited for, not timed), it says how many of how many were labelled."""
    import json
    import os
    import signal
    import subprocess
    import sys

    texts = tmp_path / "t.jsonl"
    texts.write_text("".join(json.dumps({"text": f"I am number {i}."}) + "\n" for i in range(40)))
    args = ["label", str(texts), "--labeller", "judge:smollm2-135m-instruct", "--json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "psmlab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the first text is labelled
        assert json.loads(first)["self_id"] in {"ai", "human", "mixed", "none"}
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    written = 1 + len(rest.splitlines())
    assert proc.returncode == 130, err
    assert f"psmlab: stopped after {written} of 40 texts" in err, err


def test_usage_errors_name_the_command_typed() -> None:
    """A trial's `psmlab export s1 --format` was told to see 'psmlab --help' (the option's
    missing value is raised before the command's context exists), and `ask hi --debug` got no
    word that --debug goes before the command."""
    missing = run_cli("export", "s1", "--format")
    assert missing.returncode == 2 and "see 'psmlab export --help'" in missing.stderr
    late = run_cli("ask", "hi", "--debug")
    assert late.returncode == 2 and "psmlab --debug COMMAND" in late.stderr, late.stderr
    assert late.stderr.count("\n") == 1
    gone = run_cli("experiment", "experiments/nowhere.toml")
    assert gone.returncode == 2 and "psmlab experiment --example > mine.toml" in gone.stderr


def test_ask_save_under_a_file_names_the_option(tmp_path: Path) -> None:
    """`--save notes.txt/x.json` failed only when the session was written (exit 10), without
    naming --save (a trial): refused before any model runs."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    proc = run_cli("ask", "hi", "--save", str(notes / "x.json"))
    assert proc.returncode == 2 and f"--save {notes / 'x.json'}" in proc.stderr, proc.stderr
    assert "is a file, not a folder" in proc.stderr and proc.stderr.count("\n") == 1
    assert notes.read_text() == "mine"


def test_a_label_run_leaves_an_ignored_signal_ignored(tmp_path: Path) -> None:
    """`psmlab label … &` in a script ignores SIGINT: the stop handler took it over, and a
    Ctrl+C meant for the foreground stopped the background run (a review)."""
    import signal

    from psmlab.cli.label import _stopped_says

    f = tmp_path / "t.jsonl"
    f.write_text('{"text": "hi"}\n')
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with _stopped_says(lambda: 0, f, json_out=True):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # taken over
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
