"""`psmlab agreement`: two JSONL label files in, kappa with an interval, F1 and confusion out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _psmlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psmlab", *args], capture_output=True, text=True, timeout=600
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
    # One item: no kappa, so no interval is claimed and no "no better than chance" verdict.
    one = _write(tmp_path / "one.jsonl", gold[:1])
    single = _psmlab("agreement", str(one), str(one))
    assert single.returncode == 0, single.stderr
    text = " ".join(single.stdout.split())
    assert "kappa n/a (no interval)" in text and "cannot be computed on 1 item(s)" in text
    assert "no better than chance" not in text and "interval n/a" not in text


def test_a_bad_line_is_a_one_line_usage_error(tmp_path: Path) -> None:
    g = _write(tmp_path / "gold.jsonl", [{"id": "1", "self_id": "ai"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "self_id": "ai"}\n{"id": "2"}\n')
    proc = _psmlab("agreement", str(bad), str(g))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad.jsonl line 2 lacks" in proc.stderr


def _session_file(path: Path, annotations: list[dict[str, object]]) -> Path:
    """A session with three generations, automatic labels recorded for each, and annotations."""
    from psmlab.core.session.file import atomic_write, dumps
    from psmlab.core.session.schema import (
        Annotation,
        AutoLabelRecord,
        GenerationRecord,
        Session,
        TurnRecord,
    )

    s = Session(title="t", turns=[TurnRecord(role="user", content="What are you?")])
    for gid, auto in (("g1", "ai"), ("g2", "human"), ("g3", "none")):
        s.generations.append(
            GenerationRecord(
                id=gid,
                model="m",
                format="dialogue",
                sample=0,
                seed=1,
                text="text",
                n_tokens=1,
                finish_reason="eos",
                role_leak=False,
                params={},
                turn=1,
            )
        )
        s.auto_labels.append(AutoLabelRecord(labels=["hal-9000"], self_id=auto, generation_id=gid))
    for a in annotations:
        s.annotate(Annotation.model_validate(a))
    atomic_write(path, dumps(s))
    return path


def test_a_session_alone_scores_rules_against_people(tmp_path: Path) -> None:
    s = _session_file(
        tmp_path / "s.json",
        [
            {"generation_id": "g1", "self_id": "ai", "annotator": "ann", "blind": True},
            {"generation_id": "g2", "self_id": "human", "annotator": "ann", "blind": True},
            {"generation_id": "g3", "self_id": "ai", "annotator": "ann"},
            {"generation_id": "g1", "self_id": "ai", "annotator": "ben"},
            {"generation_id": "g3", "self_id": "none", "annotator": "ben"},
        ],
    )
    proc = _psmlab("agreement", str(s), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["field"] == "self_id" and out["generations"] == 3
    assert out["annotators"] == {"ann": {"items": 3, "blind": 2}, "ben": {"items": 2, "blind": 0}}
    assert out["automatic"] == {"labeller": "automatic (markers)", "recorded": 3, "recomputed": 0}
    vs_ann = out["automatic_vs_people"][0]
    assert vs_ann["reference"] == "ann" and vs_ann["n"] == 3 and vs_ann["blind"] == {"ann": 2}
    assert abs(vs_ann["accuracy"] - 2 / 3) < 1e-12
    assert {"kappa", "kappa_ci95", "unreliable", "alpha", "classes", "confusion"} <= set(vs_ann)
    (pair,) = out["between_annotators"]
    assert (pair["reference"], pair["source"], pair["n"]) == ("ann", "ben", 2)
    assert out["alpha_items"] == 2 and out["blind"] == 2
    table = _psmlab("agreement", str(s))
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "2 of 5 human labels blind" in text and "Krippendorff's alpha over 2 annotators" in text
    arch = _psmlab("agreement", str(s), "--field", "archetypes")
    assert arch.returncode == 2 and "no human annotations with archetype labels" in arch.stderr


def test_two_sources_may_be_sessions_or_jsonl(tmp_path: Path) -> None:
    s = _session_file(
        tmp_path / "s.json",
        [{"generation_id": g, "self_id": "ai", "annotator": "ann"} for g in ("g1", "g2", "g3")],
    )
    gold = _write(
        tmp_path / "gold.jsonl",
        [
            {"id": "g1", "self_id": "ai", "split": "test"},
            {"id": "g2", "self_id": "human", "split": "test"},
            {"id": "g3", "self_id": "none", "split": "dev"},
        ],
    )
    auto = _psmlab("agreement", f"{s}:auto", str(gold), "--json")
    assert auto.returncode == 0, auto.stderr
    assert json.loads(auto.stdout)["accuracy"] == 1.0
    people = _psmlab("agreement", str(s), str(gold), "--json", "--split", "test")
    assert people.returncode == 0, people.stderr
    got = json.loads(people.stdout)
    assert got["n"] == 2 and got["accuracy"] == 0.5 and got["blind"] == {f"{s}:people": 0}


def test_bad_inputs_are_one_line_errors_with_the_fix(tmp_path: Path) -> None:
    gold = _write(tmp_path / "gold.jsonl", [{"id": "1", "self_id": "ai"}])
    empty = _session_file(tmp_path / "empty.json", [])
    cases = [
        (["agreement", str(gold)], "one alone has nothing to agree with"),
        (["agreement", str(empty)], "annotate it in the lab"),
        (["agreement", str(tmp_path / "nope.json")], "session file not found"),
        (["agreement", str(empty), "--field", "rating"], "--field self_id or --field archetypes"),
        (["agreement", f"{empty}:zed", str(gold)], "has no self_id labels by 'zed'"),
        (["agreement", f"{gold}:auto", str(gold)], "means nothing"),
        (["agreement", str(gold), str(gold), "--split", "test"], "has a 'split' field"),
        (["agreement", str(empty), "--split", "test"], "--split needs JSONL"),
        (["agreement", f"{empty}:auto", str(gold)], "share no item"),
        # A session's labels and ids are its own: naming a field for it is not ignored.
        (["agreement", str(gold), str(empty), "--reference-field", "label"], "is a session"),
        (["agreement", str(gold), f"{empty}:auto", "--reference-key", "k"], "--reference-key"),
        (["agreement", str(empty), "--key", "k"], "--key names a field of a JSONL file"),
        (["agreement", str(empty), "--reference-field", "x"], "drop --reference-field"),
    ]
    for args, words in cases:
        proc = _psmlab(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and words in proc.stderr, (args, proc.stderr)
        assert "; " in proc.stderr  # the problem, then the fix


def test_annotate_self_id_then_agreement_over_the_session(tmp_path: Path) -> None:
    """A person labels the self-id axis from the CLI; agreement reads it back from the session."""
    import shutil

    s = tmp_path / "s.json"
    shutil.copy(Path(__file__).resolve().parents[1] / "golden" / "session.json", s)
    session = json.loads(s.read_text())
    ids = [g["id"] for g in session["generations"]]
    for gid, who, label in [
        (ids[0], "ann", "human"),
        (ids[1], "ann", "none"),
        (ids[0], "ben", "human"),
    ]:
        done = _psmlab("annotate", str(s), gid, "--self-id", label, "--annotator", who)
        assert done.returncode == 0, done.stderr
        assert f"self-id {label}" in done.stdout
    bad = _psmlab("annotate", str(s), ids[0], "--self-id", "robot")
    assert bad.returncode == 2 and "ai, human, mixed, none" in bad.stderr
    saved = [a for a in json.loads(s.read_text())["annotations"] if a.get("self_id")]
    assert [(a["annotator"], a["self_id"]) for a in saved] == [
        ("ann", "human"),
        ("ann", "none"),
        ("ben", "human"),
    ]
    proc = _psmlab("agreement", str(s), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["annotators"]["ann"]["items"] == 2 and out["annotators"]["ben"]["items"] == 1
    (pair,) = out["between_annotators"]
    assert pair["n"] == 1 and pair["accuracy"] == 1.0


def test_someone_elses_label_file_is_read_as_they_wrote_it(tmp_path: Path) -> None:
    """Texts without ids (blank lines between them), labels under another field name, in other
    case and words, one null, a raw U+2028 inside a string: every item still meets its label,
    and what was left out or assumed is said."""
    texts = ["I am an AI language model.", "I'm a nurse from Leeds.", "The sky is blue.", "Hi."]
    lines = [
        json.dumps({"text": t, "question": "Who\u2028are you?"}, ensure_ascii=False) for t in texts
    ]
    src = tmp_path / "texts.jsonl"
    src.write_text("\n" + lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n", encoding="utf-8")
    labelled = _psmlab("label", str(src), "--json")
    assert labelled.returncode == 0, labelled.stderr
    out = tmp_path / "markers.jsonl"
    out.write_text(labelled.stdout, encoding="utf-8")
    assert [json.loads(x)["id"] for x in labelled.stdout.split("\n") if x.strip()] == [1, 2, 3, 4]
    people = tmp_path / "people.json"  # one JSON array, with a byte-order mark
    rows = [{"label": "AI "}, {"label": "Human"}, {"label": "neither"}, {"label": None}]
    people.write_text("\ufeff" + json.dumps(rows), encoding="utf-8")
    proc = _psmlab("agreement", str(out), str(people), "--reference-field", "label", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["n"] == 3 and got["accuracy"] == 1.0, got
    assert any("1 item(s) with no label (null)" in n for n in got["notes"])
    assert any("matched by their position" in n for n in got["notes"])
    table = _psmlab("agreement", str(out), str(people), "--reference-field", "label")
    assert "note: " in table.stdout and "(null)" in table.stdout
    # A label that is not a self-id class is an error naming it, never a class of its own.
    odd = _write(tmp_path / "odd.jsonl", [{"id": 1, "self_id": "n/a"}])
    bad = _psmlab("agreement", str(out), str(odd))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'n/a'" in bad.stderr
    # A key the user names must be there: no silent fall-back to line positions.
    named = _psmlab("agreement", str(out), str(people), "--reference-key", "uid")
    assert named.returncode == 2 and "lacks 'uid'" in named.stderr
    # Some lines with an id and some without could repeat an id: an error, not a guess.
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"id": 2, "text": "a"}\n{"text": "b"}\n')
    bad_ids = _psmlab("label", str(mixed))
    assert bad_ids.returncode == 2 and 'line 2 has no "id"' in bad_ids.stderr
    # A reference that labels fewer items says how many were left out.
    few = _write(
        tmp_path / "few.jsonl", [{"id": 1, "self_id": "ai"}, {"id": 2, "self_id": "human"}]
    )
    part = json.loads(_psmlab("agreement", str(out), str(few), "--json").stdout)
    assert part["n"] == 2 and any("2 item(s) labelled only in" in n for n in part["notes"])
