"""`psmlab experiment FILE --people SESSION`: forced choice set beside the samples as people read
them. A real run of the chat demo model, its samples annotated in sessions made by
`experiment-annotate`, the report written again with the people's labels."""

from __future__ import annotations

import io
import json
from pathlib import Path

from psmlab.core.session import file as store
from psmlab.core.session.schema import Annotation
from tests.conftest import run_cli

TOML = """
title = "people tiny"
models = ["smollm2-135m-instruct"]
questions = [{ id = "what-are-you", text = "What are you?" }]
samples = 4
seeds = [3]
max_tokens = 8
probes = ["self-id"]
"""


def _annotate(path: Path, labels: dict[int, str], who: str, forge: int | None = None) -> None:
    """`who` labels the samples numbered in `labels`; `forge` changes one sample's text first
    (a session of another run: its label must not be matched to this run's sample)."""
    s = store.load(path)
    gens = sorted(s.generations, key=lambda g: g.sample)
    if forge is not None:
        gens[forge].text = "I am a forged text."
    for i, label in labels.items():
        s.annotate(Annotation(generation_id=gens[i].id, self_id=label, annotator=who))  # type: ignore[arg-type]
    path.write_bytes(store.dumps(s))


def _section(md: str, head: str) -> str:
    start = md.index(head)
    end = md.find("\n## ", start + 1)
    return md[start : end if end > 0 else len(md)].strip()


def test_people_labels_get_their_own_instrument_agreement_section(tmp_path: Path) -> None:
    toml = tmp_path / "tiny.toml"
    toml.write_text(TOML)
    out = tmp_path / "out"
    ran = run_cli("experiment", str(toml), "-o", str(out))
    assert ran.returncode == 0, ran.stderr
    # Piped, no progress bar: its last frame ("people tiny ━━━ 2/2") was left on stdout.
    assert ran.stdout == "" and "━" not in ran.stderr, (ran.stdout, ran.stderr)
    before = (out / "report.md").read_text()
    before_csv = (out / "summary.csv").read_text()
    assert "## Instrument agreement (self-identification)" in before
    assert "against people's labels" not in before

    ann, ben = tmp_path / "ann.json", tmp_path / "ben.json"
    for path in (ann, ben):
        made = run_cli("experiment-annotate", str(out), "-o", str(path))
        assert made.returncode == 0, made.stderr
    _annotate(ann, dict.fromkeys(range(4), "human"), "ann")
    # Ben disagrees on sample 0, agrees on 1, and his session's sample 3 is not this run's.
    _annotate(ben, {0: "ai", 1: "human", 3: "ai"}, "ben", forge=3)

    again = run_cli(
        "experiment", str(toml), "-o", str(out), "--people", str(ann), "--people", str(ben)
    )
    assert again.returncode == 0, again.stderr
    # Some readings matched no sample: said on stderr too, not only in report.md.
    assert (
        "psmlab: warning: 1 --people reading(s) match no sample of these results (an unknown "
        "key or sample number, or a text that differs) and are ignored; give them the key, "
        "sample and text results.jsonl gives" in again.stderr
    ), again.stderr
    report = (out / "report.md").read_text()
    auto, _, people = report.partition("## Instrument agreement against people's labels")
    # The automatic labels' section is the one the report had before.
    assert _section(auto, "## Instrument agreement (self") == _section(
        before, "## Instrument agreement (self"
    )
    assert f"--people {ann} --people {ben}" in report
    assert "annotators: ann, ben; 3 of 4 samples labelled" in people
    assert "1 labelled differently, left out; 2 read by one annotator only" in people
    assert "1 annotations of samples that are not in these results" in people
    # Three samples: the kappa as psmlab agreement prints it, with why it says little.
    assert (
        "at Cohen's κ 0.00 [0.00, 0.00] (accuracy 0.00, n=3; fewer than 30 samples: read the "
        "interval, not the point; the interval includes 0: it cannot be told from chance)" in people
    )
    row = next(line for line in people.splitlines() if line.startswith("| smollm2-135m-instruct"))
    # Three samples, all read as human: no AI claim, P(ai) 0, and 3 claims are no clear majority.
    assert "| what-are-you | 3 | 0/3 | 0.00 (no clear majority) |" in row, row
    # summary.csv carries them too (a trial's --people changed the report, not the csv): the
    # shares as people read the samples, and the automatic labels' kappa against them.
    import csv

    with (out / "summary.csv").open() as f:
        csv_rows = list(csv.DictReader(f))
    # A whole run says so in its own first row (a stopped one says incomplete: test_kill).
    assert (csv_rows[0]["section"], csv_rows[0]["label"]) == ("run", "complete")
    assert csv_rows[0]["k"] == csv_rows[0]["n"] and not csv_rows[0]["note"]
    mine = [r for r in csv_rows if r["section"] == "self_id_people"]
    human = next(r for r in mine if r["label"] == "human")
    assert (human["k"], human["n"], human["labeller"]) == ("3", "3", "people: ann, ben"), human
    assert {r["label"] for r in mine} >= {"ai", "human"} and all(r["n"] == "3" for r in mine)
    (vs,) = [r for r in csv_rows if r["section"] == "labeller_vs_people"]
    assert vs["n"] == "3" and float(vs["value"]) == 0.0 and vs["interval"], vs
    assert not any(
        r["section"] == "self_id_people" for r in csv.DictReader(io.StringIO(before_csv))
    )

    # Ann's readings made elsewhere, as JSONL (key and sample from results.jsonl): the same.
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    samples = [r for r in rows if r.get("kind") == "sample"]
    lines = [
        {
            "key": r["key"],
            "sample": r["sample"],
            "text": r["text"],
            "self_id": "Human",
            "annotator": "ann",
        }
        for r in samples
    ]
    lines.append(dict(lines[0], text="not this run's text"))  # not matched: counted, ignored
    readings = tmp_path / "ann.jsonl"
    readings.write_text("".join(json.dumps(x) + "\n" for x in lines))
    third = run_cli(
        "experiment", str(toml), "-o", str(out), "--people", str(readings), "--people", str(ben)
    )
    assert third.returncode == 0, third.stderr
    assert "warning: 2 --people reading(s) match no sample" in third.stderr, third.stderr
    again_people = (out / "report.md").read_text().partition("against people's labels")[2]
    assert "annotators: ann, ben; 3 of 4 samples labelled" in again_people
    assert "2 annotations of samples that are not in these results" in again_people


def test_a_people_path_that_is_no_session_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    toml = tmp_path / "tiny.toml"
    toml.write_text(TOML)
    proc = run_cli("experiment", str(toml), "-o", str(tmp_path / "out"), "--people", "nope.json")
    assert proc.returncode != 0
    err = proc.stderr.strip()
    assert err.startswith("psmlab: error:") and len(err.splitlines()) == 1, err
    assert "nope.json" in err
    assert not (tmp_path / "out" / "results.jsonl").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "sample|x", "sample": 0, "self_id": "human"}\n{"self_id": "ai"}\n')
    proc = run_cli("experiment", str(toml), "-o", str(tmp_path / "out"), "--people", str(bad))
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert f"{bad}:2 is not a reading of an experiment sample" in err
    assert not (tmp_path / "out" / "results.jsonl").exists()
