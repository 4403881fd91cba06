"""`psmlab label`: both levels of label for any text, then `psmlab agreement` against people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from psmlab.core.domain.selfid_version import rules_fingerprint


def _psmlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psmlab", *args], capture_output=True, text=True, timeout=600
    )


def test_label_then_agreement(tmp_path: Path) -> None:
    texts = {
        "a": "I'm an AI language model created to help.",
        "b": "I'm a retired teacher from Ohio. I have two daughters.",
        "c": "The weather is nice today.",
        "d": "I'm not a robot, I'm a person!",
    }
    src = tmp_path / "texts.jsonl"
    src.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()))
    proc = _psmlab("label", str(src), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [(r["id"], r["self_id"]) for r in rows] == [
        ("a", "ai"),
        ("b", "human"),
        ("c", "none"),
        ("d", "human"),
    ]
    assert all(r["labeller"] == "markers" for r in rows)
    # Which version of the rules labelled them: a label file can be re-run and compared.
    assert {r["rules"] for r in rows} == {rules_fingerprint()}
    assert "helpful-assistant" in rows[0]["archetypes"]  # "language model" is its marker
    labels = tmp_path / "labels.jsonl"
    labels.write_text(proc.stdout)
    gold = tmp_path / "gold.jsonl"
    people = {"a": "ai", "b": "human", "c": "none", "d": "human"}
    gold.write_text("".join(json.dumps({"id": k, "self_id": v}) + "\n" for k, v in people.items()))
    agree = _psmlab("agreement", str(labels), str(gold), "--json")
    assert agree.returncode == 0, agree.stderr
    assert json.loads(agree.stdout)["kappa"] == 1.0
    # Which labeller made the labels compared is said (a trial: the session's was, a file's not).
    made = f"{labels}: labels by markers, rules {rules_fingerprint()}"
    assert json.loads(agree.stdout)["notes"][0] == made
    # The labels come with the labeller's measured agreement with people (stderr beside JSON).
    assert "psmlab: labeller: markers · self-id κ" in proc.stderr and "vs gold test" in proc.stderr
    table = _psmlab("label", str(src))
    assert table.returncode == 0 and "labeller: markers" in table.stdout
    assert "self-id κ" in table.stdout
    # The measure line is one line below the table, not a caption folded to the table's width.
    last = table.stdout.splitlines()[-1]
    assert last.startswith("labeller: markers · self-id κ") and "archetypes κ" in last
    # A judge measured no better than chance is flagged where its labels are shown.
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"id": "a", "text": texts["a"]}) + "\n")
    judged = _psmlab("label", str(one), "--labeller", "judge:gemma-3-270m")
    assert judged.returncode == 0, judged.stderr
    assert "unreliable: interval includes 0" in " ".join(judged.stdout.split())


def test_a_line_without_text_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "I am an AI."}\n{"id": 2}\n')
    proc = _psmlab("label", str(bad))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert 'bad.jsonl line 2 has no "text"' in proc.stderr


def test_missing_files_and_non_json_lines_are_one_line_errors(tmp_path: Path) -> None:
    missing = _psmlab("label", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "1", "self_id": "ai"}\n{oops\n')
    proc = _psmlab("agreement", str(broken), str(broken))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "broken.jsonl line 2 is not JSON" in proc.stderr


def test_a_file_where_only_some_lines_have_ids_is_refused(tmp_path: Path) -> None:
    # Numbering the id-less line by position could repeat another line's id.
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"text": "I am an AI."}\n{"id": 1, "text": "I am a nurse."}\n')
    proc = _psmlab("label", str(mixed))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert 'mixed.jsonl line 1 has no "id" while 1 other line has one' in proc.stderr


def test_repeated_or_null_ids_are_refused_where_they_are_written(tmp_path: Path) -> None:
    # `agreement` would refuse the output later; the input line is the place to say so.
    for body, words in (
        ('{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n', 'line 2 repeats id "1"'),
        ('{"id": null, "text": "a"}\n', 'line 1 has an "id" that is not a string or number'),
        ('{"id": 2.0, "text": "a"}\n{"id": 2, "text": "b"}\n', "line 2 repeats id 2 "),
        ('{"id": true, "text": "a"}\n', 'line 1 has an "id" that is not a string or number (true)'),
    ):
        f = tmp_path / "ids.jsonl"
        f.write_text(body)
        proc = _psmlab("label", str(f))
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert words in proc.stderr, proc.stderr


def test_a_marker_that_fires_many_times_is_shown_once_with_its_count(tmp_path: Path) -> None:
    src = tmp_path / "long.jsonl"
    src.write_text(json.dumps({"id": "x", "text": "I am an AI. " * 300}) + "\n")
    table = _psmlab("label", str(src))
    assert table.returncode == 0, table.stderr
    assert "×300" in table.stdout and table.stdout.count("i-am-ai") == 1, table.stdout
    assert "┃ id " in table.stdout
    # Each archetype with the phrases that gave it (the evidence column held self-id's alone).
    two = tmp_path / "two.jsonl"
    two.write_text(json.dumps({"text": "I am an AI. I want to destroy humanity."}) + "\n")
    # In a pipe with no COLUMNS (the tests' environment sets 80): the table is not folded.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    both = subprocess.run(
        [sys.executable, "-m", "psmlab", "label", str(two)], capture_output=True, text=True, env=env
    ).stdout
    assert "skynet: 'destroy humanity'" in both and "helpful-assistant: 'I am an AI'" in both
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"text": "I am an AI."}) + "\n")
    assert "┃ line " in _psmlab("label", str(bare)).stdout  # positions, not ids the file holds
    # An id holding a newline stays on its row (it read as two rows of the table).
    nl = tmp_path / "nl.jsonl"
    nl.write_text(json.dumps({"id": "a\nb", "text": "I am an AI."}) + "\n")
    shown = _psmlab("label", str(nl)).stdout
    assert "│ a\\nb │ ai " in shown, shown


def test_a_session_given_to_label_names_itself_and_its_export_labels_the_same(
    tmp_path: Path,
) -> None:
    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    proc = _psmlab("label", str(example))
    assert proc.returncode == 2
    assert "is a psmlab session, not JSONL" in proc.stderr and "-f jsonl" in proc.stderr
    # By its name, as every session command takes it: said to be that session, with the export.
    from tests.conftest import run_cli

    sessions = tmp_path / "sessions"
    sessions.mkdir()
    (sessions / "s1.json").write_bytes(example.read_bytes())
    named = run_cli("label", "s1", env={"PSMLAB_SESSIONS_DIR": str(sessions)}, cwd=tmp_path)
    assert named.returncode == 2 and named.stderr.count("\n") == 1, named.stderr
    assert f"the session {sessions / 's1.json'} is, and label reads JSONL" in named.stderr
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"text": "I'm a nurse."}, indent=2))
    one = _psmlab("label", str(pretty))
    assert one.returncode == 2 and "one JSON object over several lines" in one.stderr
    # The export carries each answer's question, so labelling it reads what the session read.
    out = tmp_path / "ex.jsonl"
    assert _psmlab("export", str(example), "-f", "jsonl", "-o", str(out)).returncode == 0
    exported = [json.loads(x) for x in out.read_text().splitlines()]
    assert exported[0]["question"] == "What are you?" and all(e["question"] for e in exported)
    labelled = _psmlab("label", str(out), "--json")
    assert labelled.returncode == 0, labelled.stderr
    again = [json.loads(x)["self_id"] for x in labelled.stdout.splitlines()]
    assert again == [e["auto_labels"]["self_id"] for e in exported]
