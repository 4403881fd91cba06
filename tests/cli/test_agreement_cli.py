"""`psmlab agreement`: two JSONL label files in, kappa with an interval, F1 and confusion out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from psmlab.core.domain.selfid_version import rules_fingerprint


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
    # What was compared and by which code, for a result to be cited (a trial: none of it).
    import hashlib

    prov = out["provenance"]
    assert [f["sha256"] for f in prov["files"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (s, g)
    ]
    assert prov["bootstrap_resamples"] == 2000 and prov["psmlab"] and prov["psmlab_code"]
    human = next(c for c in out["classes"] if c["label"] == "human")
    assert human["recall"] == 16 / 20 and human["precision"] == 1.0
    f1_lo, f1_hi = human["f1_ci95"]  # F1 = 32/36 with a bootstrap interval around it
    assert f1_lo < 32 / 36 < f1_hi
    table = _psmlab("agreement", str(s), str(g))
    assert table.returncode == 0 and "kappa 0.80" in table.stdout and "F1 95% CI" in table.stdout
    assert f"{f1_lo:.2f} to {f1_hi:.2f}" in table.stdout
    # One item: no kappa, so no interval is claimed and no "no better than chance" verdict.
    one = _write(tmp_path / "one.jsonl", gold[:1])
    single = _psmlab("agreement", str(one), str(one))
    assert single.returncode == 0, single.stderr
    text = " ".join(single.stdout.split())
    assert "kappa n/a (no interval)" in text
    assert "both sources give the one item the label 'human'" in text
    assert "told from chance" not in text and "interval n/a" not in text


def test_a_bad_line_is_a_one_line_usage_error(tmp_path: Path) -> None:
    g = _write(tmp_path / "gold.jsonl", [{"id": "1", "self_id": "ai"}])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "self_id": "ai"}\n{"id": "2"}\n')
    proc = _psmlab("agreement", str(bad), str(g))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "bad.jsonl line 2 lacks" in proc.stderr


def _session_file(path: Path, annotations: list[dict[str, object]]) -> Path:
    """A session with three generations, automatic labels recorded for each, and annotations."""
    from psmlab.core.session.disk import atomic_write
    from psmlab.core.session.file import dumps
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
        # Said to be today's rules' labels: a label of other rules would be read again on load.
        s.auto_labels.append(
            AutoLabelRecord(
                labels=["hal-9000"], self_id=auto, generation_id=gid, rules=rules_fingerprint()
            )
        )
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
    assert out["provenance"]["files"][0]["file"] == str(s.resolve())
    assert out["annotators"] == {"ann": {"items": 3, "blind": 2}, "ben": {"items": 2, "blind": 0}}
    assert out["automatic"] == {
        "labeller": "automatic (markers)",
        "recorded": 3,
        "recomputed": 0,
        "relabelled": 0,
        "rules": rules_fingerprint(),
    }
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
    # What the split left out is counted (a trial's lines vanished without a word).
    assert (
        got["notes"][0] == "--split test: 2 of 3 shared items compared; 1 in other splits left out"
    )
    # Items only one source has, whose split nobody says, are counted as left out too.
    more = _write(
        tmp_path / "more.jsonl",
        [{"id": g, "self_id": "ai"} for g in ("g1", "g2", "g3", "x1", "x2")],
    )
    part = json.loads(
        _psmlab("agreement", str(more), str(gold), "--json", "--split", "test").stdout
    )
    assert any("2 item(s) labelled only in" in n for n in part["notes"]), part["notes"]


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
    # No id is invented (it would pair with another file's item of that id): `line` says where.
    got_rows = [json.loads(x) for x in labelled.stdout.split("\n") if x.strip()]
    assert [r["line"] for r in got_rows] == [1, 2, 3, 4] and not any("id" in r for r in got_rows)
    assert "carry labels of their own" not in labelled.stderr  # none given: nothing to say
    # A file with people's labels: the output holds the labeller's, and says so (a trial's
    # gold file came out with its 79 differing human labels replaced, unsaid).
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "I'm a nurse.", "self_id": "ai", "annotator": "x"}) + "\n")
    relabelled = _psmlab("label", str(gold), "--json")
    assert json.loads(relabelled.stdout)["self_id"] == "human"
    assert f"{gold}'s lines carry labels of their own (self_id)" in relabelled.stderr
    assert f"psmlab agreement OUTPUT.jsonl {gold} compares them" in relabelled.stderr
    # An annotator's name or a method alone is no label (a trial was told to compare them).
    named = tmp_path / "named.jsonl"
    named.write_text(json.dumps({"text": "Hi.", "annotator": "bob", "method": "x"}) + "\n")
    assert "labels of their own" not in _psmlab("label", str(named), "--json").stderr
    # Empty label fields (a session's export: "annotations": [], "auto_labels": null) say none.
    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps({"text": "Hi.", "annotations": [], "auto_labels": None}) + "\n")
    assert "labels of their own" not in _psmlab("label", str(export), "--json").stderr
    people = tmp_path / "people.json"  # one JSON array, with a byte-order mark
    rows = [{"label": "AI "}, {"label": "Human"}, {"label": "neither"}, {"label": None}]
    people.write_text("\ufeff" + json.dumps(rows), encoding="utf-8")
    proc = _psmlab("agreement", str(out), str(people), "--reference-field", "label", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["n"] == 3 and got["accuracy"] == 1.0, got
    assert any("1 item(s) with no label (null, blank or NaN)" in n for n in got["notes"])
    assert any("matched by their position" in n for n in got["notes"])
    table = _psmlab("agreement", str(out), str(people), "--reference-field", "label")
    assert "note: " in table.stdout and "(null, blank or NaN)" in " ".join(table.stdout.split())
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
    few = _write(tmp_path / "few.jsonl", [{"self_id": "ai"}, {"self_id": "human"}])
    part = json.loads(_psmlab("agreement", str(out), str(few), "--json").stdout)
    assert part["n"] == 2 and any("2 item(s) labelled only in" in n for n in part["notes"])
    # Paired by line, a shorter file is a guess that its lines are the first ones (a trial's
    # missing middle line shifted every pair after it): said.
    assert any(
        n.endswith(
            "has 4 lines and " + str(few) + " 2: the first 2 were paired line by line; "
            "if a line is missing before the end, every pair after it is shifted (give "
            "both files ids to pair them by item)"
        )
        for n in part["notes"]
    ), part["notes"]


# --- defects found in a user trial ----------------------------------------------------------------


def test_a_file_without_ids_is_never_paired_with_ids_it_does_not_have(tmp_path: Path) -> None:
    """A gold set with ids 0..N-1; its texts labelled from a file without ids. Pairing line 1
    with item "1" compared every item with its neighbour (kappa -0.18 where the labels agree
    fully): refused in one line, nothing printed on stdout."""
    texts = ["I am an AI language model.", "I'm a nurse from Leeds.", "The sky is blue."]
    gold = _write(
        tmp_path / "gold.jsonl",
        [{"id": i, "self_id": s} for i, s in enumerate(["ai", "human", "none"])],
    )
    src = _write(tmp_path / "texts.jsonl", [{"text": t} for t in texts])
    labelled = _psmlab("label", str(src), "--json")
    out = tmp_path / "labels.jsonl"
    out.write_text(labelled.stdout, encoding="utf-8")
    for a, b in ((out, gold), (gold, out)):
        proc = _psmlab("agreement", str(a), str(b))
        assert proc.returncode == 2 and proc.stdout == "", proc.stdout
        assert proc.stderr.count("\n") == 1 and "has no ids but" in proc.stderr
    # Both without ids: paired by position, and `label`'s "line" numbers keep a filtered
    # file's lines on their items (a dropped line shifted the rest onto their neighbours).
    bare_gold = _write(tmp_path / "bare.jsonl", [{"self_id": s} for s in ["ai", "human", "none"]])
    kept = [x for x in labelled.stdout.splitlines() if x.strip() and json.loads(x)["line"] != 2]
    filtered = tmp_path / "filtered.jsonl"
    filtered.write_text("\n".join(kept) + "\n", encoding="utf-8")
    got = json.loads(_psmlab("agreement", str(filtered), str(bare_gold), "--json").stdout)
    assert (got["n"], got["accuracy"]) == (2, 1.0), got
    assert any("1 item(s) labelled only in" in n for n in got["notes"])
    # With the ids kept in the labelled file, the same labels agree fully.
    keyed = _write(tmp_path / "keyed.jsonl", [{"id": i, "text": t} for i, t in enumerate(texts)])
    out.write_text(_psmlab("label", str(keyed), "--json").stdout, encoding="utf-8")
    assert json.loads(_psmlab("agreement", str(out), str(gold), "--json").stdout)["kappa"] == 1.0


def test_ids_under_a_spreadsheets_name_are_named_with_the_option_that_reads_them(
    tmp_path: Path,
) -> None:
    """A CSV export's "ID" column: "has no ids" offered removing the ids, not --reference-key ID,
    which is what reads them."""
    labels = ["ai", "human", "none"]
    ours = _write(
        tmp_path / "ours.jsonl", [{"id": f"a{i}", "self_id": s} for i, s in enumerate(labels)]
    )
    theirs = _write(
        tmp_path / "theirs.jsonl",
        [{"ID": f"a{i}", "Label": s.upper(), "Notes": ""} for i, s in enumerate(labels)],
    )
    ref = _psmlab("agreement", str(ours), str(theirs), "--reference-field", "Label")
    assert ref.returncode == 2 and ref.stderr.count("\n") == 1, ref.stderr
    assert "its ids look to be in 'ID'; name that field: --reference-key ID" in ref.stderr
    src = _psmlab(
        "agreement", str(theirs), str(ours), "--field", "Label", "--reference-field", "self_id"
    )
    assert src.returncode == 2, src.stderr
    assert "name that field: --key ID --reference-key id" in src.stderr, src.stderr
    # The fix it gives works (--key alone named the reference's key too).
    both = _psmlab(
        "agreement", str(theirs), str(ours), "--field", "Label", "--reference-field", "self_id",
        "--key", "ID", "--reference-key", "id", "--json",
    )  # fmt: skip
    assert both.returncode == 0 and json.loads(both.stdout)["accuracy"] == 1.0, both.stderr
    fixed = _psmlab(
        "agreement", str(ours), str(theirs), "--reference-field", "Label", "--reference-key", "ID",
        "--json",
    )  # fmt: skip
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["accuracy"] == 1.0, fixed.stderr


def test_archetype_names_are_read_one_way_and_unknown_ones_are_said(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.jsonl",
        [
            {"id": 1, "archetypes": ["Helpful Assistant"]},
            {"id": 2, "archetypes": ["HAL 9000", "human_impostor"]},
            {"id": 3, "archetypes": ["helpfull-assistant"]},
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [
            {"id": 1, "archetypes": ["helpful-assistant"]},
            {"id": 2, "archetypes": ["hal-9000", "human-impostor"]},
            {"id": 3, "archetypes": ["helpful-assistant"]},
        ],
    )
    got = json.loads(_psmlab("agreement", str(a), str(b), "--field", "archetypes", "--json").stdout)
    f1 = {c["label"]: c["f1"] for c in got["classes"]}
    assert f1["hal-9000"] == 1.0 and f1["human-impostor"] == 1.0, f1
    assert "helpful assistant" not in f1 and "human_impostor" not in f1
    assert [n for n in got["notes"] if "'helpfull-assistant'" in n and "personas" in n], got
    # The personas' display names, as a labelling tool's choices show them (a trial: each was
    # "not among the lab's personas", a class of its own).
    named = _write(
        tmp_path / "named.jsonl",
        [
            {"id": 1, "archetypes": ["Helpful AI assistant"]},
            {"id": 2, "archetypes": ["HAL-9000-like", "Human impostor"]},
            {"id": 3, "archetypes": ["Benevolent guardian mind"]},
        ],
    )
    c = _write(tmp_path / "c.jsonl", [*[json.loads(x) for x in b.read_text().splitlines()][:2],
        {"id": 3, "archetypes": ["guardian"]}])  # fmt: skip
    got = json.loads(
        _psmlab("agreement", str(named), str(c), "--field", "archetypes", "--json").stdout
    )
    assert got["accuracy"] == 1.0 and not [n for n in got["notes"] if "personas" in n], got


def test_label_sets_that_never_meet_are_said(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [{"id": i, "who": x} for i, x in enumerate("pppu")])
    b = _write(tmp_path / "b.jsonl", [{"id": i, "who": x} for i, x in enumerate("aahh")])
    proc = _psmlab("agreement", str(a), str(b), "--field", "who")
    assert proc.returncode == 0, proc.stderr
    assert "note: the two sources share no label" in " ".join(proc.stdout.split())
    c = _write(tmp_path / "c.jsonl", [{"id": i, "archetypes": ["skynet"]} for i in range(3)])
    d = _write(tmp_path / "d.jsonl", [{"id": i, "archetypes": ["void"]} for i in range(3)])
    arch = _psmlab("agreement", str(c), str(d), "--field", "archetypes", "--json")
    assert any("share no archetype" in n for n in json.loads(arch.stdout)["notes"]), arch.stdout


def test_few_items_get_a_small_n_note_printed_and_in_json(tmp_path: Path) -> None:
    # 8 items in full agreement: the percentile bootstrap collapses to "1.00 to 1.00", which
    # reads as certainty; the report must say the interval is too narrow at this n.
    rows = [{"id": str(i), "self_id": "ai" if i % 2 else "human"} for i in range(8)]
    a = _write(tmp_path / "a.jsonl", rows)
    b = _write(tmp_path / "b.jsonl", rows)
    table = _psmlab("agreement", str(a), str(b))
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "interval 1.00 to 1.00" in text
    # A class of one item: its F1 interval is no interval (a trial read "1.00 to 1.00").
    one = [*rows, {"id": "x", "self_id": "mixed"}]
    table = _psmlab(
        "agreement", str(_write(tmp_path / "c.jsonl", one)), str(_write(tmp_path / "d.jsonl", one))
    )
    row = next(x for x in table.stdout.splitlines() if "mixed" in x)
    assert "n/a (support 1" in row and "1.00 to 1.00" not in row, table.stdout
    assert "note: n=8 is small: the bootstrap interval understates the uncertainty" in text
    assert "label more items" in text
    out = json.loads(_psmlab("agreement", str(a), str(b), "--json").stdout)
    assert any("understates the uncertainty" in n for n in out["notes"]), out["notes"]
    # Enough items: no such note.
    many = [{"id": str(i), "self_id": "ai" if i % 2 else "human"} for i in range(40)]
    big = _write(tmp_path / "big.jsonl", many)
    got = json.loads(_psmlab("agreement", str(big), str(big), "--json").stdout)
    assert not any("understates" in n for n in got["notes"]), got["notes"]


def test_a_session_with_a_selector_alone_asks_for_a_second_source(tmp_path: Path) -> None:
    s = _session_file(
        tmp_path / "s.json",
        [
            {"generation_id": "g1", "self_id": "ai", "annotator": "alice"},
            {"generation_id": "g1", "self_id": "ai", "annotator": "bob"},
        ],
    )
    proc = _psmlab("agreement", f"{s}:alice")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not found" not in proc.stderr, proc.stderr
    assert "one alone has nothing to agree with" in proc.stderr
    assert f"{s}:alice {s}:bob" in proc.stderr and "reference JSONL file" in proc.stderr
    # A JSONL file with a suffix is still told the suffix means nothing; a missing file not found.
    gold = _write(tmp_path / "gold.jsonl", [{"id": "g1", "self_id": "ai"}])
    jsonl = _psmlab("agreement", f"{gold}:auto")
    assert jsonl.returncode == 2 and "means nothing" in jsonl.stderr
    gone = _psmlab("agreement", f"{tmp_path / 'nope.json'}:alice")
    assert gone.returncode == 2 and "session file not found" in gone.stderr


def test_a_line_error_names_what_is_missing_and_that_files_options(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", [{"id": f"x{i}", "self_id": "ai"} for i in range(3)])
    # The reference names its fields its own way: the fix is --reference-key/--reference-field.
    b = _write(
        tmp_path / "b_key.jsonl",
        [{"key": f"x{i}", "label": "AI", "annotator": "bob"} for i in range(3)],
    )
    proc = _psmlab("agreement", str(a), str(b))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "b_key.jsonl line 1 lacks 'self_id'" in proc.stderr
    assert "--reference-key key --reference-field label" in proc.stderr
    assert "--key/--field" not in proc.stderr
    fixed = _psmlab(
        "agreement", str(a), str(b), "--reference-key", "key", "--reference-field", "label"
    )
    assert fixed.returncode == 0, fixed.stderr
    # The source lacks the key it was told to use, but has 'id' and 'self_id': only the key is
    # named as missing, and the fix is the source's own --key.
    wrong = _psmlab("agreement", str(a), str(a), "--key", "key")
    assert wrong.returncode == 2
    assert "a.jsonl line 1 lacks 'key' (its fields: 'id', 'self_id')" in wrong.stderr
    assert "--key id" in wrong.stderr and "or 'self_id'" not in wrong.stderr
    # Ids on some lines only: no "an 'key'" slip.
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"key": "x0", "self_id": "ai"}\n{"self_id": "ai"}\n')
    half = _psmlab("agreement", str(mixed), str(a), "--key", "key")
    assert half.returncode == 2 and "line 2 lacks 'key'" in half.stderr
    assert "give every line the field 'key', or none" in half.stderr
    # Two files without ids: "have no ids".
    n1 = _write(tmp_path / "n1.jsonl", [{"self_id": "ai"}, {"self_id": "human"}])
    n2 = _write(tmp_path / "n2.jsonl", [{"self_id": "ai"}, {"self_id": "human"}])
    notes = json.loads(_psmlab("agreement", str(n1), str(n2), "--json").stdout)["notes"]
    assert any(f"{n1} and {n2} have no ids" in n for n in notes), notes


def test_one_label_on_both_sides_says_why_kappa_is_undefined(tmp_path: Path) -> None:
    rows = [{"id": f"x{i}", "self_id": "ai"} for i in range(12)]
    a = _write(tmp_path / "same_a.jsonl", rows)
    b = _write(tmp_path / "same_b.jsonl", rows)
    table = _psmlab("agreement", str(a), str(b))
    assert table.returncode == 0, table.stderr
    text = " ".join(table.stdout.split())
    assert "both sources give all 12 items the label 'ai', so chance agreement is 1" in text
    # The per-class F1 intervals are still shown: at n=12 they are said to understate too.
    assert "too few" not in text and "n=12 is small" in text
    out = json.loads(_psmlab("agreement", str(a), str(b), "--json").stdout)
    assert out["kappa"] is None
    assert any("chance agreement is 1" in n for n in out["notes"]), out["notes"]


def test_the_interval_does_not_depend_on_line_order(tmp_path: Path) -> None:
    # The trial's data: the reference's lines shuffled gave 0.21 to 1.00 instead of 0.23 to 1.00.
    src = [
        "ai",
        "ai",
        "ai",
        "human",
        "human",
        "human",
        "none",
        "none",
        "mixed",
        "ai",
        "none",
        "human",
    ]
    ref = [
        "ai",
        "ai",
        "human",
        "human",
        "human",
        "none",
        "none",
        "ai",
        "mixed",
        "ai",
        "none",
        "human",
    ]
    a = _write(tmp_path / "a.jsonl", [{"id": f"x{i}", "self_id": v} for i, v in enumerate(src)])
    rows = [{"id": f"x{i}", "self_id": v} for i, v in enumerate(ref)]
    b = _write(tmp_path / "b.jsonl", rows)
    order = (7, 11, 0, 8, 5, 6, 3, 10, 4, 1, 9, 2)
    shuffled = _write(tmp_path / "b_shuf.jsonl", [rows[i] for i in order])
    one = json.loads(_psmlab("agreement", str(a), str(b), "--json").stdout)
    two = json.loads(_psmlab("agreement", str(a), str(shuffled), "--json").stdout)
    assert one["kappa"] == two["kappa"]
    assert one["kappa_ci95"] == two["kappa_ci95"]


def test_per_archetype_header_counts_items_and_decisions(tmp_path: Path) -> None:
    arche = [["hal-9000"], ["skynet"], ["hal-9000", "glados"], [], ["skynet"], ["glados"]]
    a = _write(tmp_path / "a.jsonl", [{"id": i, "archetypes": x} for i, x in enumerate(arche)])
    b = _write(
        tmp_path / "b.jsonl", [{"id": i, "archetypes": x} for i, x in enumerate(reversed(arche))]
    )
    out = json.loads(_psmlab("agreement", str(a), str(b), "--field", "archetypes", "--json").stdout)
    # 6 items x 3 archetypes = 18 decisions, and the confusion matrix sums to them.
    assert out["n"] == 6 and out["decisions"] == 18
    assert sum(sum(row.values()) for row in out["confusion"].values()) == 18
    table = _psmlab("agreement", str(a), str(b), "--field", "archetypes")
    assert table.returncode == 0, table.stderr
    assert "n=6 items, 18 item x archetype decisions" in " ".join(table.stdout.split())


def test_a_reader_that_stops_reading_is_not_an_internal_error(tmp_path: Path) -> None:
    """`psmlab agreement … | head -1`: the pipe closes under rich's table; exit 141 (the
    shell's SIGPIPE), quietly, never 1 (internal error)."""
    import os
    import subprocess
    import sys

    gold = [{"id": str(i), "self_id": ["ai", "human", "none"][i % 3]} for i in range(300)]
    g = _write(tmp_path / "gold.jsonl", gold)
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write that reaches the pipe fails
    proc = subprocess.run(
        [sys.executable, "-m", "psmlab", "agreement", str(g), str(g)],
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )
    os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def test_files_of_another_kind_are_named_for_what_they_are(tmp_path: Path) -> None:
    """An experiment's summary.csv or results.jsonl given as labels: the error says what the
    file is and what to do with it (it called a CSV "a JSONL label file" and told the user to
    edit the results an experiment resumes from)."""
    csv = tmp_path / "summary.csv"
    csv.write_text("section,model,format\nself_id,gemma,dialogue\n")
    one = _psmlab("agreement", str(csv))
    assert one.returncode == 2
    assert "is neither a session nor a JSONL label file" in one.stderr, one.stderr
    # A JSON object that is no session was called "a JSONL label file" (what export says of it).
    (tmp_path / "empty.json").write_text("{}\n")
    empty = _psmlab("agreement", str(tmp_path / "empty.json"))
    assert empty.returncode == 2 and "holds JSON but not a psmlab session" in empty.stderr
    out = tmp_path / "out"
    out.mkdir()
    row = {
        "key": "sample|m|dialogue|none|q|1",
        "kind": "sample",
        "model": "m",
        "format": "dialogue",
    }
    results = _write(out / "results.jsonl", [row])
    gold = _write(tmp_path / "gold.jsonl", [{"id": "x", "self_id": "ai"}])
    two = _psmlab("agreement", str(results), str(gold))
    assert two.returncode == 2
    assert "is an experiment's results file, not a label file" in two.stderr, two.stderr
    assert f"psmlab experiment-annotate {out}" in two.stderr
    toml = tmp_path / "exp.toml"
    toml.write_text('title = "x"\n')
    wrong = _psmlab("annotate", str(toml), "g-1", "--self-id", "ai")
    assert "is not a psmlab session (not JSON)" in wrong.stderr and "backup" not in wrong.stderr
    assert toml.read_text() == 'title = "x"\n'


def test_annotate_says_when_a_name_differs_only_in_case_or_a_label_is_given_again(
    tmp_path: Path,
) -> None:
    """'Alice' beside 'alice' is a third annotator to agreement, and a second self-id label by
    the same person is the one it reads: both are said, neither refused."""
    golden = Path(__file__).resolve().parents[1] / "golden" / "session.json"
    s = tmp_path / "s.json"
    s.write_bytes(golden.read_bytes())
    first = _psmlab("annotate", str(s), "g-000000000001", "--self-id", "ai", "--annotator", "Alice")
    assert first.returncode == 0, first.stderr
    assert "'Alice' is a new annotator here; 'alice' is another" in first.stderr, first.stderr
    again = _psmlab(
        "annotate", str(s), "g-000000000001", "--self-id", "none", "--annotator", "Alice"
    )
    assert again.returncode == 0, again.stderr
    assert "Alice labelled g-000000000001 before" in again.stderr, again.stderr
    assert "new annotator" not in again.stderr  # Alice is known by now
    other = _psmlab("annotate", str(s), "g-000000000002", "--self-id", "ai", "--annotator", "carol")
    assert other.returncode == 0 and "note" not in other.stderr, other.stderr


def test_label_output_keeps_the_inputs_own_key_and_fields_but_not_its_labels(
    tmp_path: Path,
) -> None:
    """People's files name their ids as they like ("item"), and carry a split and provenance:
    `label` keeps them, so `agreement --key item` pairs its output with the people's labels. A
    person's label on the input line (and who gave it) never rides along on the labeller's row."""
    rows = [
        {"item": "a7", "text": "I am an AI language model.", "split": "test", "seed": 3},
        {"item": "b2", "text": "I'm a nurse from Leeds.", "split": "dev", "seed": 4},
        {"item": "c9", "text": "The sky is blue.", "split": "test", "seed": 5},
    ]
    people = [
        {**r, "label": lab, "annotator": "ana", "self_id": lab}
        for r, lab in zip(rows, ["AI", "Human", "neither"], strict=True)
    ]
    src = _write(tmp_path / "people.jsonl", people)
    labelled = _psmlab("label", str(src), "--json")
    assert labelled.returncode == 0, labelled.stderr
    got = [json.loads(x) for x in labelled.stdout.splitlines() if x.strip()]
    assert [(r["item"], r["split"], r["seed"]) for r in got] == [
        ("a7", "test", 3),
        ("b2", "dev", 4),
        ("c9", "test", 5),
    ]
    assert not any({"label", "annotator"} & r.keys() for r in got)
    # Without an "id" the text rides along (the pairing's one check), unchanged.
    assert [r["text"] for r in got] == [r["text"] for r in rows]
    assert [r["self_id"] for r in got] == ["ai", "human", "none"]  # the rules', not "AI"
    out = tmp_path / "markers.jsonl"
    out.write_text(labelled.stdout, encoding="utf-8")
    args = ("--key", "item", "--reference-field", "label", "--json")
    proc = _psmlab("agreement", str(out), str(src), *args)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 3
    test_only = json.loads(
        _psmlab("agreement", str(out), str(src), *args, "--split", "test").stdout
    )
    assert test_only["n"] == 2


def test_a_files_own_line_numbers_pair_its_items_and_others_are_refused(tmp_path: Path) -> None:
    """A file without ids whose lines carry numbers of their own ("line": 2, 3, 1): `label`
    wrote its positions over them and `agreement` paired those with the gold file's own numbers
    (accuracy 0.00 for identical labels, "matched by their position"). Now both keep the file's
    numbers; against a file with neither ids nor numbers, out-of-order numbers are refused."""
    gold = _write(
        tmp_path / "gold.jsonl",
        [
            {"line": 2, "text": "I am an AI language model.", "self_id": "ai"},
            {"line": 3, "text": "I am a nurse from Ohio.", "self_id": "human"},
            {"line": 1, "text": "The weather is nice.", "self_id": "none"},
        ],
    )
    labelled = _psmlab("label", str(gold), "--json")
    assert labelled.returncode == 0, labelled.stderr
    got = [json.loads(x) for x in labelled.stdout.splitlines()]
    assert [r["line"] for r in got] == [2, 3, 1]
    out = tmp_path / "labels.jsonl"
    out.write_text(labelled.stdout, encoding="utf-8")
    res = json.loads(_psmlab("agreement", str(out), str(gold), "--json").stdout)
    assert (res["n"], res["accuracy"]) == (3, 1.0), res
    assert any('matched by their "line" numbers' in n for n in res["notes"]), res["notes"]
    bare = _write(tmp_path / "bare.jsonl", [{"self_id": s} for s in ("ai", "human", "none")])
    proc = _psmlab("agreement", str(out), str(bare))
    assert proc.returncode == 2 and proc.stdout == ""
    assert '"line" numbers that are out of order' in proc.stderr and "sort_by(.line)" in proc.stderr
    assert proc.stderr.count("\n") == 1
    # A spreadsheet's row numbers (from 2), in order: not positions of the bare file either
    # (each item met its neighbour's label, with only a note).
    rows = [json.loads(x) for x in gold.read_text().splitlines()]
    sheet = _write(
        tmp_path / "sheet.jsonl",
        [{**r, "line": n} for n, r in enumerate(sorted(rows, key=lambda r: r["line"]), 2)],
    )
    out.write_text(_psmlab("label", str(sheet), "--json").stdout, encoding="utf-8")
    proc = _psmlab("agreement", str(out), str(bare))
    assert proc.returncode == 2 and "bare.jsonl (e.g. 4; it has 3 lines)" in (proc.stderr), (
        proc.stderr
    )
    # Numbers 1..n in order are numbers all the same: a file sorted otherwise pairs with it
    # by number (a trial's was refused: "out of order and a4.jsonl has none").
    ordered = _write(
        tmp_path / "ordered.jsonl", sorted(rows, key=lambda r: r["line"])
    )  # lines 1, 2, 3
    for a, b in ((gold, ordered), (ordered, gold)):
        res = json.loads(_psmlab("agreement", str(a), str(b), "--json").stdout)
        assert (res["n"], res["accuracy"]) == (3, 1.0), res
        assert any('matched by their "line" numbers' in n for n in res["notes"]), res["notes"]


def test_line_numbers_written_as_text_pair_and_a_shifted_numbering_is_refused(
    tmp_path: Path,
) -> None:
    """A trial: a spreadsheet copy of a label output, rows shuffled and "line" saved as text
    ("2"), was paired by position (kappa -0.25 for 0.86); the same rows numbered from 2 (the
    sheet's rows) beside a label output's 1..n paired each item with its neighbour (-0.22)."""
    texts = ["I am an AI language model.", "I am a nurse from Ohio.", "Nice weather.", "I'm a bot."]
    src = _write(tmp_path / "texts.jsonl", [{"text": t} for t in texts])
    labelled = _psmlab("label", str(src), "--json")
    assert labelled.returncode == 0, labelled.stderr
    out = tmp_path / "labels.jsonl"
    out.write_text(labelled.stdout, encoding="utf-8")
    mine = [json.loads(x)["self_id"] for x in labelled.stdout.splitlines()]
    assert mine == ["ai", "human", "none", "ai"]
    as_text = _write(
        tmp_path / "sheet.jsonl",
        [{"line": str(n), "label": mine[n - 1]} for n in (3, 1, 4, 2)],  # no texts, shuffled
    )
    res = json.loads(
        _psmlab("agreement", str(out), str(as_text), "--reference-field", "label", "--json").stdout
    )
    assert (res["n"], res["accuracy"]) == (4, 1.0), res
    assert any('matched by their "line" numbers' in n for n in res["notes"]), res["notes"]
    shifted = _write(
        tmp_path / "rows.jsonl", [{"line": n + 1, "label": mine[n - 1]} for n in (1, 2, 3, 4)]
    )
    proc = _psmlab("agreement", str(out), str(shifted), "--reference-field", "label")
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    assert (
        "run 1-4 and " in proc.stderr
        and "rows.jsonl's 2-5" in proc.stderr
        and "'.line |= (tonumber - 1)' rows.jsonl" in (proc.stderr)
    )
    assert proc.stderr.count("\n") == 1
    # Two readers' overlapping blocks of one file (1-5 and 4-8) are no shift: paired by number.
    first = _write(tmp_path / "first.jsonl", [{"line": n, "label": "ai"} for n in range(1, 6)])
    later = _write(tmp_path / "later.jsonl", [{"line": n, "label": "ai"} for n in range(4, 9)])
    res = json.loads(
        _psmlab("agreement", str(first), str(later), "--field", "label", "--json").stdout
    )
    assert (res["n"], res["accuracy"]) == (2, 1.0), res
    # Numbered alike, the same file pairs.
    fixed = _write(tmp_path / "fixed.jsonl", [{**r, "line": r["line"] - 1} for r in map(
        json.loads, shifted.read_text().splitlines())])  # fmt: skip
    res = json.loads(
        _psmlab("agreement", str(out), str(fixed), "--reference-field", "label", "--json").stdout
    )
    assert (res["n"], res["accuracy"]) == (4, 1.0), res


def test_several_peoples_rows_without_ids_and_lists_of_labels_are_refused(
    tmp_path: Path,
) -> None:
    """Two annotators' rows in one file without ids were paired by position with a one-row-
    per-item file (agreement 1.00 read as 0.33); a list under self_id became a class of its
    own ("ai,human"). Both are one-line errors naming the fix."""
    texts = ["I am an AI.", "I'm a nurse.", "Nice weather."]
    labels = ["ai", "human", "none"]
    long = _write(
        tmp_path / "long.jsonl",
        [
            {"text": t, "self_id": s, "annotator": who}
            for who in ("alice", "bob")
            for t, s in zip(texts, labels, strict=True)
        ],
    )
    gold = _write(tmp_path / "gold.jsonl", [{"self_id": s} for s in labels])
    proc = _psmlab("agreement", str(long), str(gold))
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert "several people's labels (field 'annotator': 2 names)" in proc.stderr
    assert "select(.annotator ==" in proc.stderr
    listed = _write(tmp_path / "list.jsonl", [{"self_id": ["ai", "human"]}, {"self_id": "none"}])
    proc = _psmlab("agreement", str(listed), str(gold))
    assert proc.returncode == 2 and "'self_id' is a list" in proc.stderr, proc.stderr
    # One choice exported as a list (Label Studio) is that label; a null annotator is no name.
    one = _write(
        tmp_path / "one.jsonl",
        [
            {"self_id": [s], "annotator": a}
            for s, a in zip(labels, ["alice", None, "alice"], strict=True)
        ],
    )
    got = json.loads(_psmlab("agreement", str(one), str(gold), "--json").stdout)
    assert (got["n"], got["accuracy"]) == (3, 1.0), got


def test_label_does_not_carry_a_sessions_or_another_labellers_labels(tmp_path: Path) -> None:
    """An exported session's lines carry people's annotations and the rules' auto labels; a
    judge's output carries its probabilities: `label` copied them onto its own rows, where a
    judge's "human" stood beside the rules' "ai"."""
    row = {
        "id": "g1",
        "text": "I am an AI language model.",
        "annotations": [{"annotator": "ana", "self_id": "human"}],
        "auto_labels": {"method": "markers", "self_id": "human"},
        "probs": {"ai": 0.1, "human": 0.9},
        "judge": {"model": "x"},
        "labeller": "judge:x",
        "seed": 4,
    }
    src = _write(tmp_path / "export.jsonl", [row])
    proc = _psmlab("label", str(src), "--json")
    assert proc.returncode == 0, proc.stderr
    (got,) = [json.loads(x) for x in proc.stdout.splitlines()]
    assert got["self_id"] == "ai" and got["labeller"] == "markers" and got["seed"] == 4
    assert not {"annotations", "auto_labels", "probs", "judge"} & got.keys(), got


def test_an_annotator_name_with_a_colon_can_be_chosen(tmp_path: Path) -> None:
    import shutil

    s = tmp_path / "s.json"
    shutil.copy(Path(__file__).resolve().parents[1] / "golden" / "session.json", s)
    gid = json.loads(s.read_text())["generations"][0]["id"]
    for who in ("lab:alice", "bob"):
        done = _psmlab("annotate", str(s), gid, "--self-id", "ai", "--annotator", who)
        assert done.returncode == 0, done.stderr
    proc = _psmlab("agreement", f"{s}:lab:alice", f"{s}:bob", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n"] == 1


def test_ids_written_as_whole_floats_meet_their_items_and_null_ids_are_refused(
    tmp_path: Path,
) -> None:
    """A spreadsheet writes ids as 3.0: they never met "3" and only a generic note said so; a
    null id was read as the text 'None'."""
    ours = _write(
        tmp_path / "ours.jsonl", [{"id": "3", "self_id": "ai"}, {"id": 4, "self_id": "none"}]
    )
    sheet = _write(
        tmp_path / "sheet.jsonl", [{"id": 3.0, "self_id": "ai"}, {"id": 4.0, "self_id": "none"}]
    )
    got = json.loads(_psmlab("agreement", str(ours), str(sheet), "--json").stdout)
    assert (got["n"], got["accuracy"]) == (2, 1.0), got
    nulls = _write(tmp_path / "nulls.jsonl", [{"id": None, "self_id": "ai"}])
    proc = _psmlab("agreement", str(ours), str(nulls))
    assert (
        proc.returncode == 2 and "line 1: its 'id' is not a string or number (null)" in proc.stderr
    )


def test_items_the_two_files_put_in_different_splits_are_said_with_split(tmp_path: Path) -> None:
    """The reference's split won in silence: `--split dev` said "choose one of the splits:
    test" of an item the source called dev."""
    src = _write(tmp_path / "s.jsonl", [{"id": "a", "self_id": "ai", "split": "dev"}])
    ref = _write(tmp_path / "r.jsonl", [{"id": "a", "self_id": "ai", "split": "test"}])
    proc = _psmlab("agreement", str(src), str(ref), "--split", "dev")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "1 shared item(s) are in different splits in the two files (e.g. 'a': dev in" in (
        proc.stderr
    )
    same = _write(tmp_path / "same.jsonl", [{"id": "a", "self_id": "ai", "split": " Test"}])
    ok = json.loads(_psmlab("agreement", str(same), str(ref), "--split", "test", "--json").stdout)
    assert ok["n"] == 1


def test_the_output_says_which_fields_and_keys_it_compared(tmp_path: Path) -> None:
    """A script reading --json could not tell which columns were compared, and the header named
    only --field, not the reference's field."""
    rows = [{"id": i, "a": x, "b": x} for i, x in enumerate(["ai", "human", "none", "ai"])]
    f = _write(tmp_path / "two.jsonl", rows)
    got = json.loads(
        _psmlab(
            "agreement", str(f), str(f), "--field", "b", "--reference-field", "a", "--json"
        ).stdout
    )
    assert (got["field"], got["reference_field"], got["key"], got["seed"]) == ("b", "a", "id", 0)
    table = _psmlab("agreement", str(f), str(f), "--field", "b", "--reference-field", "a")
    assert "on 'b' vs 'a'" in " ".join(table.stdout.split())


def test_a_file_compared_with_itself_is_said_to_agree_by_construction(tmp_path: Path) -> None:
    rows = [{"id": i, "self_id": ["ai", "human"][i % 2]} for i in range(6)]
    a = _write(tmp_path / "a.jsonl", rows)
    same = _psmlab("agreement", str(a), str(a), "--json")
    assert same.returncode == 0, same.stderr
    assert any("agree by construction" in n for n in json.loads(same.stdout)["notes"])
    # Another file with the same labels is a real comparison: no such note.
    b = _write(tmp_path / "b.jsonl", rows)
    other = _psmlab("agreement", str(a), str(b), "--json")
    assert not any("construction" in n for n in json.loads(other.stdout)["notes"])


def test_files_made_by_other_tools_follow_their_hints_to_a_comparison(tmp_path: Path) -> None:
    """A trial's spreadsheet and Label Studio files: each hint, followed as written, gives a file
    that compares (a BOM kept the "id" column from being found; a TSV became one column; the
    Label Studio flattening kept task ids and one annotator; numeric annotators were quoted)."""
    texts = ["I am an AI.", "I'm a nurse.", "Nice weather."]
    ours = _write(
        tmp_path / "ours.jsonl",
        [{"id": str(i), "self_id": s} for i, s in enumerate(["ai", "human", "none"], 1)],
    )
    # Excel's "CSV UTF-8" and a TSV: the hint's converter, run as printed.
    for name, sep in (("sheet.csv", ","), ("sheet.tsv", "\t")):
        table = tmp_path / name
        rows = [sep.join(["id", "text", "Label"])] + [
            sep.join([str(i), t if sep == "\t" else f'"{t}"', lab])
            for i, (t, lab) in enumerate(zip(texts, ["AI", "Human", "Neither"], strict=True), 1)
        ]
        table.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
        proc = _psmlab("agreement", str(ours), str(table))
        assert proc.returncode == 2 and "csv.DictReader" in proc.stderr, proc.stderr
        code = re.search(r'python -c "([^"]+)"', proc.stderr)
        assert code is not None, proc.stderr
        made = subprocess.run(
            [sys.executable, "-c", code.group(1), str(table)], capture_output=True, text=True
        )
        assert made.returncode == 0, made.stderr
        (tmp_path / "sheet.jsonl").write_text(made.stdout)
        proc = _psmlab(
            "agreement", str(ours), str(tmp_path / "sheet.jsonl"), "--reference-field", "Label"
        )
        assert proc.returncode == 0 and "n=3, accuracy 1.00" in proc.stdout, proc.stderr
    # A bad value is named by the field it is in.
    bad = _write(tmp_path / "bad.jsonl", [{"id": "1", "label": "AI"}, {"id": "2", "label": "N/A"}])
    proc = _psmlab("agreement", str(ours), str(bad), "--reference-field", "label")
    assert "bad.jsonl line 2: label 'N/A' is not one of" in proc.stderr, proc.stderr
    # Label Studio's full export, two annotators with numeric ids.
    tasks = [
        {
            "id": 1000 + i,
            "data": {"id": str(i), "text": t},
            "annotations": [
                {"completed_by": who, "result": [{"value": {"choices": [lab]}}]} for who in (1, 2)
            ],
        }
        for i, (t, lab) in enumerate(zip(texts, ["AI", "Human", "Neither"], strict=True), 1)
    ]
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps(tasks))
    proc = _psmlab("agreement", str(ours), str(ls))
    assert proc.returncode == 2 and ".data.id // .id" in proc.stderr, proc.stderr
    # The labels land in the field the command reads: the same command reads the new file.
    assert ".annotations[] |" in proc.stderr and '"self_id": .result[0]' in proc.stderr
    # What the jq program makes (one line per annotation), written here without jq.
    flat = _write(
        tmp_path / "flat.jsonl",
        [
            {"id": t["data"]["id"], "annotator": a["completed_by"], "self_id": lab}
            for t in tasks
            for a in t["annotations"]
            for lab in a["result"][0]["value"]["choices"]
        ],
    )
    proc = _psmlab("agreement", str(ours), str(flat))
    assert "select(.annotator == 1)" in proc.stderr, proc.stderr


def test_a_label_output_without_ids_keeps_its_texts_so_a_dropped_line_is_refused(
    tmp_path: Path,
) -> None:
    """A trial labelled 20 texts without ids and compared the output with people's 19 lines (one
    dropped): the output had no texts, so the shifted pairing got only a note (κ 0.05)."""
    texts = [f"I am an AI number {i}." if i % 2 else f"I'm a nurse in town {i}." for i in range(8)]
    src = _write(tmp_path / "texts.jsonl", [{"text": t} for t in texts])
    proc = _psmlab("label", str(src), "--json")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "labels.jsonl"
    out.write_text(proc.stdout)
    assert [json.loads(x)["text"] for x in proc.stdout.splitlines()] == texts
    people = [{"text": t, "label": "ai" if i % 2 else "human"} for i, t in enumerate(texts)]
    dropped = _write(tmp_path / "people.jsonl", people[:3] + people[4:])
    proc = _psmlab("agreement", str(out), str(dropped), "--reference-field", "label")
    assert proc.returncode == 2 and "shifted by a line" in proc.stderr, proc.stderr
    whole = _write(tmp_path / "whole.jsonl", people)
    proc = _psmlab("agreement", str(out), str(whole), "--reference-field", "label")
    assert proc.returncode == 0 and "accuracy 1.00" in proc.stdout, proc.stderr
