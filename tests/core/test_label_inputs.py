"""Label files as other people and their tools write them: each once read as another number."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import pytest

from psmlab.core.domain import selfid, selfid_speaker
from psmlab.core.domain.classify import _CLAUSE_END, _NEGATION, negated
from psmlab.core.errors import UsageError
from psmlab.core.measure.agreement import (
    ARCHETYPES,
    SELF_ID,
    compare_labels,
    is_session_file,
    read_jsonl,
)
from psmlab.core.measure.coefficients import f1_score
from psmlab.core.measure.kappa import compare

TEXTS = ["I am an AI.", "I'm a nurse.", "Nice weather.", "I am a bot.", "I'm Tom, a teacher."]
GOLD = ["ai", "human", "none", "ai", "human"]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_labelling_tools_annotator_field_is_several_people(tmp_path: Path) -> None:
    """Prodigy's `_annotator_id` (Label Studio's `completed_by`) in a file without ids: two
    readers who agree with gold on every item were paired line by line with it (kappa -0.17)."""
    for who in ("_annotator_id", "completed_by", "annotator_id"):
        rows = [
            {"text": t, "label": g.upper(), who: name}
            for t, g in zip(TEXTS, GOLD, strict=True)
            for name in ("alice", "bob")
        ]
        f = _write(tmp_path / f"{who}.jsonl", rows)
        with pytest.raises(UsageError, match="several people's labels") as e:
            read_jsonl(f, SELF_ID, column="label")
        assert f"field '{who}'" in str(e.value)


def test_files_paired_by_position_must_hold_the_same_texts(tmp_path: Path) -> None:
    """Both files give each line's text: a dropped or reordered line is refused, not read as
    disagreement."""
    gold = _write(
        tmp_path / "gold.jsonl",
        [{"text": t, "self_id": g} for t, g in zip(TEXTS, GOLD, strict=True)],
    )
    same = _write(
        tmp_path / "same.jsonl",
        [{"text": f"  {t} ", "self_id": g} for t, g in zip(TEXTS, GOLD, strict=True)],
    )
    ok = compare_labels(read_jsonl(same, SELF_ID), read_jsonl(gold, SELF_ID), SELF_ID)
    assert ok.kappa == 1.0 and ok.n == 5  # spacing aside, the same texts
    shifted = _write(
        tmp_path / "shifted.jsonl",
        [{"text": t, "self_id": g} for t, g in zip(TEXTS[1:], GOLD[1:], strict=True)],
    )
    with pytest.raises(UsageError, match="4 of 4 lines paired by position hold different texts"):
        compare_labels(read_jsonl(shifted, SELF_ID), read_jsonl(gold, SELF_ID), SELF_ID)
    # With ids, texts that differ are said (the ids may name other items), not refused.
    a = _write(tmp_path / "a.jsonl", [{"id": 1, "text": "I am an AI.", "self_id": "ai"}])
    b = _write(tmp_path / "b.jsonl", [{"id": 1, "text": "I'm a nurse.", "self_id": "ai"}])
    r = compare_labels(read_jsonl(a, SELF_ID), read_jsonl(b, SELF_ID), SELF_ID)
    assert any("1 of 1 paired items have different texts" in n for n in r.notes)


def test_nan_labels_are_missing_and_whole_floats_are_their_numbers(tmp_path: Path) -> None:
    """pandas writes NaN for an empty cell (json.dumps writes it as NaN) and a column of whole
    numbers with a blank as floats: NaN was a class "nan", 3.0 a class apart from 3."""
    s = tmp_path / "s.jsonl"
    s.write_text(
        '{"id": 1, "stance": "pro"}\n{"id": 2, "stance": NaN}\n{"id": 3, "stance": "con"}\n'
    )
    r = _write(
        tmp_path / "r.jsonl",
        [{"id": 1, "stance": "pro"}, {"id": 2, "stance": "con"}, {"id": 3, "stance": "con"}],
    )
    got = compare_labels(read_jsonl(s, "stance"), read_jsonl(r, "stance"), "stance")
    assert got.n == 2 and got.accuracy == 1.0
    assert any("1 item(s) with no label (null, blank or NaN)" in n for n in got.notes)
    # And as text, as `df.astype(str)` writes it ("nan", "<NA>"), a class "nan" no more; the
    # self-id class "none" spelled "None" stays a label.
    s.write_text(
        '{"id": 1, "stance": "pro"}\n{"id": 2, "stance": "nan"}\n{"id": 3, "stance": "<NA>"}\n'
    )
    got = compare_labels(read_jsonl(s, "stance"), read_jsonl(r, "stance"), "stance")
    assert got.n == 1 and "nan" not in {k for row in got.confusion.values() for k in row}
    assert any("2 item(s) with no label (null, blank or NaN)" in n for n in got.notes)
    sid = _write(tmp_path / "sid.jsonl", [{"id": 1, "self_id": "None"}])
    assert read_jsonl(sid, "self_id").values == {"1": "none"}
    # "null" written as text, and an empty list of choices (doccano's "label": []), are no
    # label: the first was refused with a fix asking for null, the second as "a list".
    gaps = _write(
        tmp_path / "gaps.jsonl",
        [{"id": 1, "self_id": "null"}, {"id": 2, "self_id": []}, {"id": 3, "self_id": ["AI"]}],
    )
    read = read_jsonl(gaps, "self_id")
    assert read.values == {"3": "ai"} and read.missing == {"1", "2"}
    none_of = _write(tmp_path / "arch.jsonl", [{"id": 1, "archetypes": []}])
    assert read_jsonl(none_of, "archetypes").values == {"1": frozenset()}  # [] is no archetype
    ints = _write(tmp_path / "i.jsonl", [{"id": i, "rating": i % 5 + 1} for i in range(10)])
    mixed = _write(
        tmp_path / "m.jsonl",
        [{"id": i, "rating": float(i % 5 + 1) if i % 2 else i % 5 + 1} for i in range(10)],
    )
    same = compare_labels(read_jsonl(mixed, "rating"), read_jsonl(ints, "rating"), "rating")
    assert same.kappa == 1.0 and same.accuracy == 1.0


def test_a_blank_archetypes_cell_is_unlabelled_and_none_is_no_archetype(tmp_path: Path) -> None:
    """As the README says of every label: a reader who stopped left blanks, which counted as
    "no archetype" against gold (kappa 0.70 for a reader who agreed on every item read)."""
    f = _write(
        tmp_path / "a.jsonl",
        [
            {"id": 1, "archetypes": ""},
            {"id": 2, "archetypes": "none"},
            {"id": 3, "archetypes": []},
            {"id": 4, "archetypes": "hal-9000"},
        ],
    )
    got = read_jsonl(f, ARCHETYPES)
    assert got.missing == {"1"}
    assert got.values == {"2": frozenset(), "3": frozenset(), "4": frozenset({"hal-9000"})}


def test_rejected_and_skipped_prodigy_rows_are_left_out_and_said(tmp_path: Path) -> None:
    rows = [
        {"id": i, "label": g, "answer": "accept"}
        for i, g in enumerate(GOLD)
        if i != 2  # "none" rejected below: the person said it does not apply
    ] + [
        {"id": 2, "label": "none", "answer": "reject"},
        {"id": 9, "answer": "ignore"},  # skipped: no label field at all,
    ]
    f = _write(tmp_path / "prodigy.jsonl", rows)
    gold = _write(
        tmp_path / "gold.jsonl",
        [{"id": i, "self_id": g} for i, g in enumerate(GOLD)] + [{"id": 9, "self_id": "human"}],
    )
    got = compare_labels(read_jsonl(f, SELF_ID, column="label"), read_jsonl(gold, SELF_ID), SELF_ID)
    assert got.n == 4 and got.accuracy == 1.0
    assert any("2 item(s)" in n and "rejected or skipped" in n for n in got.notes)
    assert not any("labelled only in" in n for n in got.notes)


def test_other_codebooks_with_none_or_both_are_compared_as_written(tmp_path: Path) -> None:
    """A severity scale with "none" was refused as a bad self-id file; a preference's "neither"
    and "nothing", all self-id synonyms, merge into "none" as before, now with a note."""
    tox = ["none", "severe", "mild", "none", "mild", "severe"]
    a = _write(tmp_path / "a.jsonl", [{"id": i, "toxicity": x} for i, x in enumerate(tox)])
    got = compare_labels(read_jsonl(a, "toxicity"), read_jsonl(a, "toxicity"), "toxicity")
    assert got.accuracy == 1.0
    pref = _write(tmp_path / "p.jsonl", [{"id": i, "f": x} for i, x in enumerate(["a", "both"])])
    assert compare_labels(read_jsonl(pref, "f"), read_jsonl(pref, "f"), "f").accuracy == 1.0
    merged = _write(
        tmp_path / "m.jsonl", [{"id": i, "f": x} for i, x in enumerate(["neither", "nothing"])]
    )
    other = _write(tmp_path / "q.jsonl", [{"id": i, "f": x} for i, x in enumerate(["none"] * 2)])
    r = compare_labels(read_jsonl(merged, "f"), read_jsonl(other, "f"), "f")
    assert r.accuracy == 1.0  # a self-id file of the unclear cases reads as before
    assert any("neither, nothing mapped to mixed or none" in n for n in r.notes), r.notes
    # Labels of AI and human read as self-id, with the codebook's synonyms, and no note.
    b = _write(tmp_path / "b.jsonl", [{"id": 0, "c": "AI"}, {"id": 1, "c": "Neither"}])
    lb = read_jsonl(b, "c")
    assert not any("mapped" in n for n in compare_labels(lb, read_jsonl(b, "c"), "c").notes)
    assert lb.values == {"0": "ai", "1": "none"}


def test_a_json_label_file_with_a_bad_line_is_no_session(tmp_path: Path) -> None:
    """It was called a broken session (exit 10, "restore it from a backup"), with no line."""
    lines = tmp_path / "export.json"
    lines.write_text('{"id": 1, "self_id": "ai"}\n{"id": 2, "self_id": "human"},\n')
    array = tmp_path / "array.json"
    array.write_text('[\n{"id": 1, "self_id": "ai"},\n{"id": 2, "self_id": "human"},\n]\n')
    broken = tmp_path / "session.json"
    broken.write_text('{\n "schema_version": 2,\n "generations": [')
    first = tmp_path / "first.json"
    first.write_text('{"id": 1, "self_id": "ai"},\n{"id": 2, "self_id": "human"}\n')
    assert not is_session_file(lines) and not is_session_file(array)
    assert not is_session_file(first)  # the bad line is the first one
    assert is_session_file(broken)
    one_line = tmp_path / "cut.json"
    one_line.write_text('{"generations": [{"id": "g1", "text": "I am')
    assert is_session_file(one_line)  # a compact session, cut short
    with pytest.raises(UsageError, match=r"line 2 is not JSON \(Extra data; a trailing comma\?\)"):
        read_jsonl(lines, SELF_ID)
    with pytest.raises(UsageError, match=r"JSON array with an error at line 4 .*trailing comma"):
        read_jsonl(array, SELF_ID)


def test_f1_of_a_class_only_the_source_finds_is_zero() -> None:
    """As scikit-learn has it: the source's only false positives give F1 = 0 (it was n/a, and
    an average of the F1s left it out)."""
    assert f1_score(0, 3, 0) == 0.0
    assert f1_score(0, 0, 0) != f1_score(0, 0, 0)  # nan: neither has the class
    got = compare(["ai", "mixed", "human"], ["ai", "human", "human"])
    mixed = next(c for c in got.classes if c.label == "mixed")
    assert mixed.f1 == 0.0 and mixed.support == 0
    # ...with no interval: every resample gives 0, which is no measurement ("0.00 to 0.00").
    assert all(math.isnan(x) for x in mixed.f1_ci)
    human = next(c for c in got.classes if c.label == "human")
    assert not any(math.isnan(x) for x in human.f1_ci)


def _negated_all(text: str, start: int) -> bool:
    """The reading before it was made linear: the whole text before the marker."""
    before = text[:start]
    ends = list(_CLAUSE_END.finditer(before))
    clause = before[ends[-1].end() :] if ends else before
    return any(_NEGATION.fullmatch(w.strip("'-")) for w in clause.split()[-3:])


def test_negation_reads_only_near_text_and_says_the_same() -> None:
    rng = random.Random(3)
    words = ["not", "no", "an", "AI", "I'm", "x" * 150, "y" * 300, ",", ".", "never", "a"]
    for _ in range(400):
        text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 12))) + " AI"
        start = len(text) - 2
        assert negated(text, start) == _negated_all(text, start), text
    assert negated("I'm not " + "a" * 300 + " AI", 310)


def _quoted_naive(text: str, start: int, end: int) -> bool:
    """The reading before it counted on an index: the line before the claim, scanned."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    inside = before.count('"') % 2 == 1 or before.rfind("\u201c") > before.rfind("\u201d")
    if not inside:
        return False
    close = selfid_speaker._QUOTE_CLOSE.match(text, end)
    if close is None:
        return False
    quoted = close.group(0)[:-1].rstrip()
    after = close.end()
    if text.startswith(",", after):
        after += 1
    elif not quoted.endswith(","):
        clause = text[after:].lstrip(" \t")
        if not clause[:1].islower():
            return False
    return selfid_speaker._ATTRIBUTED.match(text, after) is not None


def test_quotes_are_counted_on_an_index_and_say_the_same() -> None:
    rng = random.Random(5)
    parts = ['"', "\u201c", "\u201d", "\n", "I am an AI", ", she said.", " x ", "."]
    for _ in range(500):
        text = "".join(rng.choice(parts) for _ in range(rng.randrange(1, 14)))
        for m in re.finditer("I am an AI", text):
            assert selfid_speaker.quoted_for_another(text, m.start(), m.end()) == _quoted_naive(
                text, m.start(), m.end()
            ), text
    claim = 'She wrote "I am an AI," she said.'
    at = claim.index("I am")
    assert selfid_speaker.quoted_for_another(claim, at, at + 10)


def test_a_label_studio_export_and_an_empty_file_say_what_they_are(tmp_path: Path) -> None:
    task = {"id": 1, "data": {"text": "hi"}, "annotations": [{"result": [{"value": {}}]}]}
    ls = tmp_path / "ls.json"
    ls.write_text(json.dumps([task]))
    with pytest.raises(UsageError, match="is a Label Studio task") as e:
        read_jsonl(ls, SELF_ID)
    assert "JSON-MIN" in e.value.fix
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UsageError, match=r"empty\.jsonl is empty"):
        read_jsonl(empty, SELF_ID)


def test_reported_claims_are_read_near_the_claim_and_say_the_same() -> None:
    rng = random.Random(7)
    parts = ["you", "think", "that", "said", ":", '"', "\u201c", " " * 250, "I'm", "x" * 120, ","]
    for _ in range(600):
        s = " ".join(rng.choice(parts) for _ in range(rng.randrange(1, 10))) + " "
        end = len(s)
        assert selfid_speaker.reported(s, end) == bool(selfid_speaker._REPORTED.search(s[:end])), (
            repr(s)
        )


def test_a_long_run_on_text_is_read_in_bounded_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A base model stuck in a loop ("I am an AI I am an AI ..."): every claim searched the
    whole sentence before it and scanned its line for quotes (minutes for 240 KB). Counted, not
    timed: each search reads a bounded window, and the quote index is built once."""
    spans: list[int] = []
    real = selfid_speaker._REPORTED

    class Counting:
        def search(self, s: str, pos: int = 0, endpos: int | None = None):  # type: ignore[no-untyped-def]
            spans.append((len(s) if endpos is None else endpos) - pos)
            return real.search(s, pos, len(s) if endpos is None else endpos)

    monkeypatch.setattr(selfid_speaker, "_REPORTED", Counting())
    text = "I am an AI " * 3000
    before = selfid_speaker._marks.cache_info().misses
    got = selfid.self_identify(text)
    assert got.label == "ai" and len(spans) >= 3000
    assert max(spans) <= 200
    assert selfid_speaker._marks.cache_info().misses - before <= 1


def test_one_line_of_other_text_is_said_and_one_sided_texts_are_noted(tmp_path: Path) -> None:
    """One differing line of many (a cell an export changed) refused the whole comparison; a
    labeller's output (no texts) beside a people's file was paired with no word of it."""
    gold = _write(
        tmp_path / "gold.jsonl",
        [{"text": t, "self_id": g} for t, g in zip(TEXTS, GOLD, strict=True)],
    )
    edited = [dict(text=t, self_id=g) for t, g in zip(TEXTS, GOLD, strict=True)]
    edited[2]["text"] = "'=Nice weather."
    one = _write(tmp_path / "one.jsonl", edited)
    r = compare_labels(read_jsonl(one, SELF_ID), read_jsonl(gold, SELF_ID), SELF_ID)
    assert r.n == 5 and any("1 of 5 paired items have different texts" in n for n in r.notes)
    bare = _write(tmp_path / "bare.jsonl", [{"self_id": g} for g in GOLD])
    r = compare_labels(read_jsonl(bare, SELF_ID), read_jsonl(gold, SELF_ID), SELF_ID)
    assert any("could not be checked against each other" in n for n in r.notes), r.notes


def test_evidence_in_the_prefill_alone_is_refused() -> None:
    """A prefill "I grew up" quoted as the evidence of a human claim: the user's own words,
    stored as the model's."""
    from psmlab.core.session.records import quote_span

    text = "I grew up in a small town; I grew up fast."
    given = len("I grew up")
    with pytest.raises(UsageError, match="in the prefill only"):
        quote_span("I grew up in a town.", "I grew up", given=given)
    # A later occurrence the model wrote counts, as does a quote reaching past the prefill.
    assert quote_span(text, "I grew up", given=given).start == text.index("; I grew up") + 2
    assert quote_span(text, "I grew up in", given=given).start == 0


def test_a_line_that_is_no_object_or_whose_text_is_no_string_says_what_it_is(
    tmp_path: Path,
) -> None:
    """`["I am an AI."]` said 'has no "text" string', which reads as a missing field: it says
    the line is an array; a null or numeric text says it is null or a number. (A file that
    is one JSON array is a list of lines: its elements are the lines.)"""
    from psmlab.core.measure.labeling import label_jsonl

    cases = {
        '["I am an AI."]': "line 2 is an array, not an object",
        '"I am an AI."': "line 2 is a string, not an object",
        "null": "line 2 is null, not an object",
        '{"text": null}': 'line 2 has no "text" string (its text is null)',
        '{"text": 12345}': 'line 2 has no "text" string (its text is a number)',
        '{"id": 1}': 'line 2 has no "text" string',
        # Context that is no text was dropped unsaid (a trial's "prefill": 123).
        '{"text": "x", "prefill": 123}': 'line 2 has a "prefill" that is a number, not text',
        '{"text": "x", "question": ["q"]}': 'line 2 has a "question" that is an array, not text',
    }
    for line, said in cases.items():
        f = tmp_path / "in.jsonl"
        f.write_text('{"text": "I am a nurse."}\n' + line + "\n")
        with pytest.raises(UsageError) as info:
            list(label_jsonl(f))
        assert said in info.value.problem, (line, info.value.problem)
    # An experiment row's "question" is an id and "question_text" the words: only the words
    # are read, so only they must be text.
    f.write_text('{"text": "I am a nurse.", "question": 17, "question_text": "Who are you?"}\n')
    assert [r["self_id"] for r in label_jsonl(f)] == ["human"]
    f.write_text('{"text": "I am a nurse.", "prefill": null, "question": null}\n')
    assert [r["self_id"] for r in label_jsonl(f)] == ["human"]  # null: no context given


def test_source_kind_names_what_a_lone_file_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One reading of a file says session, labels, JSON that is neither, or something else
    (it was read up to three times: a large session or label file, three times over)."""
    from psmlab.core.measure.agreement import source_kind

    files = {
        "empty.json": "{}",
        "other.json": '{"title": "notes"}',
        "one.json": '{"id": "a", "self_id": "ai"}',  # one label line named .json
        "array.json": '[{"id": "a", "self_id": "ai"}]',
        "lines.json": '{"id": "a", "self_id": "ai"}\n{"id": "b", "self_id": "human"}\n',
        "lab.jsonl": '{"id": "a", "self_id": "ai"}\n{"id": "b", "self_id": "human"}\n',
        "s.json": '{\n"schema_version": 9, "turns": []}',
        "r.toml": "x = 1\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    # Not text: read once too (it was read again when found undecodable).
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00 not utf-8 \xff")
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00 not utf-8 \xff")
    files |= {"bin.json": "", "bin.jsonl": ""}
    reads: list[str] = []
    real = Path.read_text

    def counted(self: Path, *a: object, **k: object) -> str:
        reads.append(self.name)
        return real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    got = {name: source_kind(tmp_path / name) for name in files}
    assert sorted(reads) == sorted(files)  # each once
    assert got == {
        "empty.json": "json",
        "other.json": "json",
        "one.json": "labels",
        "array.json": "labels",
        "lines.json": "labels",  # JSONL named .json (a review: an internal error)
        "lab.jsonl": "labels",
        "s.json": "session",
        "r.toml": "neither",
        "bin.json": "session",  # its loader says what is wrong with it
        "bin.jsonl": "neither",
    }


def test_persona_display_names_follow_the_persona_folders_of_the_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A persona's display name is read as its id, from the personas found now: a review
    showed the map frozen for the process, so a user persona added by a config pointed
    elsewhere ("Robo Friend", id robo) became a class "robo-friend" of its own."""
    from psmlab.core.measure.label_values import archetype_set

    assert archetype_set(["HAL-9000-like", "Helpful AI assistant"]) == {
        "hal-9000",
        "helpful-assistant",
    }
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "robo.toml").write_text(
        'id = "robo"\nname = "Robo Friend"\ndescription = "A friendly robot."\n'
        'markers = ["beep"]\nidentity = ["I am a robot friend."]\n',
        encoding="utf-8",
    )
    assert archetype_set(["Robo Friend"]) == {"robo-friend"}  # not a persona yet
    monkeypatch.setenv("PSMLAB_PERSONAS_DIR", str(mine))
    assert archetype_set(["Robo Friend"]) == {"robo"}


def test_a_label_file_reads_the_persona_names_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Display names are read once per file: reading 300 archetype labels listed and stat'ed
    every persona file 300 times. The names still apply to every row."""
    from psmlab.core.measure import label_files, label_values

    calls = []
    real = label_values.persona_names

    def counted() -> dict[str, str]:
        calls.append(1)
        return real()

    monkeypatch.setattr(label_files, "persona_names", counted)
    f = _write(
        tmp_path / "a.jsonl",
        [{"id": str(i), "archetypes": ["HAL-9000-like"]} for i in range(300)],
    )
    got = read_jsonl(f, ARCHETYPES)
    assert len(calls) == 1
    assert set(got.values.values()) == {frozenset({"hal-9000"})}


def test_doccanos_user_field_names_people_but_a_users_message_does_not(tmp_path: Path) -> None:
    """doccano writes who labelled a line as "user": two people's rows without ids were paired
    by position (kappa 0.00, notes only). A "user" field holding the user's message is no name."""
    people = _write(
        tmp_path / "people.jsonl",
        [{"self_id": s, "user": u} for s in ("ai", "human") for u in (1, 2)],
    )
    with pytest.raises(UsageError, match=r"several people's labels \(field 'user': 2 names\)"):
        read_jsonl(people, SELF_ID)
    # Annotator 0 is a name too (a truthiness test dropped it: 0 and 1 read as one person).
    zero = _write(
        tmp_path / "zero.jsonl",
        [{"self_id": s, "annotator": u} for s in ("ai", "human") for u in (0, 1)],
    )
    with pytest.raises(UsageError, match=r"field 'annotator': 2 names"):
        read_jsonl(zero, SELF_ID)
    chat = _write(
        tmp_path / "chat.jsonl",
        [
            {"self_id": "ai", "user": "What are you?"},
            {"self_id": "human", "user": "Are you a human?"},
        ],
    )
    assert read_jsonl(chat, SELF_ID).values == {"1": "ai", "2": "human"}
