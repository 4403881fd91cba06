"""`psmlab annotate` on a real session file: who is recorded, the self-id spellings it reads, and
ids typed wrong (a usage error, not a broken session)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_cli

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "session.json"


def _session(tmp_path: Path) -> tuple[Path, list[str]]:
    s = tmp_path / "s.json"
    shutil.copy(GOLDEN, s)
    return s, [g["id"] for g in json.loads(s.read_text())["generations"]]


def _annotations(s: Path) -> list[dict]:
    return json.loads(s.read_text())["annotations"]


def test_help_names_the_annotator_that_is_recorded(tmp_path: Path) -> None:
    s, ids = _session(tmp_path)
    # No name anywhere: no PSMLAB_ANNOTATOR, a config file without `annotator`.
    env = {"PSMLAB_ANNOTATOR": "", "PSMLAB_CONFIG": str(tmp_path / "none.toml")}
    shown = run_cli("annotate", "--help", env=env)
    assert shown.returncode == 0, shown.stderr
    words = " ".join(shown.stdout.split())
    assert "login name" not in words
    assert "$PSMLAB_ANNOTATOR, else annotator in the config file, else anonymous" in words
    before = len(_annotations(s))
    done = run_cli("annotate", str(s), ids[0], "--note", "n", env=env)
    assert done.returncode == 0, done.stderr
    assert [a["annotator"] for a in _annotations(s)[before:]] == ["anonymous"]


def test_self_id_spellings_agreement_reads_are_recorded_canonically(tmp_path: Path) -> None:
    s, ids = _session(tmp_path)
    before = len(_annotations(s))
    for given, label in [
        ("Human", "human"),
        ("both", "mixed"),
        ("Neither", "none"),
        (" AI ", "ai"),
    ]:
        done = run_cli("annotate", str(s), ids[0], "--self-id", given, "--annotator", "ann")
        assert done.returncode == 0, (given, done.stderr)
        assert f"self-id {label}" in done.stdout
    assert [a["self_id"] for a in _annotations(s)[before:]] == ["human", "mixed", "none", "ai"]
    bad = run_cli("annotate", str(s), ids[0], "--self-id", "robot")
    assert bad.returncode == 2, bad.stderr
    assert (
        "--self-id 'robot' is not a self-id" in bad.stderr
        and "ai, human, mixed, none" in bad.stderr
    )
    assert bad.stderr.count("\n") == 1 and len(_annotations(s)) == before + 4


def test_a_wrong_generation_id_is_a_usage_error(tmp_path: Path) -> None:
    s, ids = _session(tmp_path)
    untouched = s.read_bytes()
    unknown = run_cli("annotate", str(s), "g-zzz", "--self-id", "ai")
    assert unknown.returncode == 2, unknown.stderr
    assert "no generation 'g-zzz'" in unknown.stderr and unknown.stderr.count("\n") == 1
    # Every id starts with "g-": the message lists the ids it could mean.
    ambiguous = run_cli("annotate", str(s), "g-", "--self-id", "ai")
    assert ambiguous.returncode == 2, ambiguous.stderr
    assert "'g-' is ambiguous" in ambiguous.stderr and "give more of the id" in ambiguous.stderr
    assert all(i in ambiguous.stderr for i in ids[:4])
    adopt = run_cli("adopt", str(s), "g-zzz")
    assert adopt.returncode == 2 and "no generation 'g-zzz'" in adopt.stderr, adopt.stderr
    assert s.read_bytes() == untouched
    # The golden ids differ in their last character only: a character short names both.
    done = run_cli("annotate", str(s), ids[1], "--self-id", "ai", "--annotator", "ann")
    assert done.returncode == 0 and ids[1] in done.stdout, done.stderr
    done = run_cli("annotate", str(s), ids[1][:-1], "--self-id", "ai", "--annotator", "ann")
    assert done.returncode == 2 and "ambiguous" in done.stderr, done.stderr


def test_an_annotator_cannot_take_a_name_agreement_reads_as_a_source(tmp_path: Path) -> None:
    """'human' and 'auto' after a session name the agreed and the automatic labels: an
    annotator named so could never be compared alone, so the name is refused and nothing saved."""
    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    s = tmp_path / "s.json"
    s.write_bytes(example.read_bytes())
    gen = json.loads(s.read_text())["generations"][0]["id"]
    for name in ("human", "auto"):
        proc = run_cli("annotate", str(s), gen, "--self-id", "ai", "--annotator", name)
        assert proc.returncode == 2 and f"'{name}' cannot name an annotator" in proc.stderr
    assert s.read_bytes() == example.read_bytes()
    ok = run_cli("annotate", str(s), gen, "--self-id", "ai", "--annotator", "alice")
    assert ok.returncode == 0, ok.stderr
    # A free label spelled as an archetype would be read as it (one list holds both): refused.
    before = s.read_bytes()
    clash = run_cli("annotate", str(s), gen, "--free-label", "HAL 9000", "--annotator", "carol")
    assert clash.returncode == 2 and clash.stderr.count("\n") == 1, clash.stderr
    assert "is the name of the archetype 'hal-9000'" in clash.stderr
    assert "--label hal-9000" in clash.stderr and s.read_bytes() == before


def test_labels_of_older_rules_are_read_again_said_once_and_the_note_kept(tmp_path: Path) -> None:
    """The golden session's automatic labels predate the rules' fingerprint: annotating reads
    them again, says so once on stderr after saving, and the annotation's own --note stays."""
    s, ids = _session(tmp_path)
    done = run_cli("annotate", str(s), ids[0], "--note", "my note", "--annotator", "ann")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("read again by today's") == 1, done.stderr
    assert _annotations(s)[-1]["note"] == "my note"
    saved = json.loads(s.read_text())["auto_labels"]
    assert all(a["rules"] for a in saved)  # kept: the next command has nothing to say
    again = run_cli("annotate", str(s), ids[1], "--note", "n", "--annotator", "ann")
    assert again.returncode == 0 and "read again" not in again.stderr, again.stderr


def test_evidence_in_the_prefill_alone_is_refused(tmp_path: Path) -> None:
    """A span (or quote) of the prefill only is the user's own text, not the model's claim."""
    s, ids = _session(tmp_path)
    doc = json.loads(s.read_text())
    g = doc["generations"][0]
    g["prefill"] = "I grew up"
    s.write_text(json.dumps(doc))
    untouched = s.read_bytes()
    for how in (("--evidence", "0:9"), ("--quote", "I grew up")):
        got = run_cli("annotate", str(s), ids[0], "--self-id", "human", *how)
        assert got.returncode == 2 and "in the prefill only" in got.stderr, got.stderr
    assert s.read_bytes() == untouched
    ok = run_cli("annotate", str(s), ids[0], "--self-id", "human", "--evidence", "0:12")
    assert ok.returncode == 0, ok.stderr


def test_a_quote_found_more_than_once_says_which_one_is_recorded(tmp_path: Path) -> None:
    """`--quote I` on an answer with three "I"s stored the first without a word."""
    s, ids = _session(tmp_path)
    doc = json.loads(s.read_text())
    g = next(g for g in doc["generations"] if g["id"] == ids[0])
    g["text"], g["prefill"] = "I think I am what I am.", None
    s.write_text(json.dumps(doc))
    got = run_cli("annotate", str(s), ids[0], "--self-id", "none", "--quote", "I am")
    assert got.returncode == 0, got.stderr
    assert "occurs 2 times" in got.stderr and "(8:12)" in got.stderr, got.stderr
    assert _annotations(s)[-1]["evidence"] == {"start": 8, "end": 12}
    once = run_cli("annotate", str(s), ids[0], "--self-id", "none", "--quote", "I think")
    assert once.returncode == 0 and "occurs" not in once.stderr, once.stderr
