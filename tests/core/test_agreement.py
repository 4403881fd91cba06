"""Agreement statistics against hand-computed values, and chance-level labels near zero."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.errors import UsageError
from psmlab.core.measure.agreement import (
    ARCHETYPES,
    SELF_ID,
    compare_labels,
    lone_selector_error,
    open_source,
    read_jsonl,
    split_selector,
)
from psmlab.core.measure.coefficients import (
    bootstrap_alpha,
    bootstrap_kappa,
    cohen_kappa,
    krippendorff_alpha,
)
from psmlab.core.measure.kappa import (
    PER_ARCHETYPE,
    SMALL_N,
    compare,
    compare_sets,
    small_n_note,
)
from psmlab.core.measure.session_agreement import session_agreement
from psmlab.core.measure.session_labels import session_labels
from psmlab.core.session.disk import atomic_write
from psmlab.core.session.file import dumps
from psmlab.core.session.schema import (
    Annotation,
    AutoLabelRecord,
    GenerationRecord,
    Session,
    TurnRecord,
)


def test_kappa_matches_the_textbook_two_by_two() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-9)


def test_kappa_and_alpha_match_a_hand_computed_fixture() -> None:
    a = ["ai", "ai", "human", "human"]
    b = ["ai", "human", "human", "human"]
    # p_o = 3/4; p_e = (2/4)(1/4) + (2/4)(3/4) = 1/2; kappa = (3/4 - 1/2) / (1/2) = 1/2.
    assert cohen_kappa(a, b) == pytest.approx(0.5, abs=1e-9)
    # Coincidences: o(ai,ai) = 2, o(ai,human) = o(human,ai) = 1, o(human,human) = 4; n_ai = 3,
    # n_human = 5, n = 8; alpha = 1 - (n - 1) * 2 / (2 * 3 * 5) = 1 - 14/30 = 8/15.
    assert krippendorff_alpha(list(zip(a, b, strict=True))) == pytest.approx(8 / 15, abs=1e-9)


def test_alpha_with_missing_labels_and_four_coders_matches_krippendorff() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: 0.743.
    rows = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = list(zip(*rows, strict=True))
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_alphas_interval_holds_it_and_ignores_order_and_unpaired_items() -> None:
    rng = random.Random(3)
    classes = ["ai", "human", "none"]
    units = []
    for _ in range(60):
        truth = rng.choice(classes)
        units.append([truth if rng.random() < 0.8 else rng.choice(classes) for _ in range(3)])
    groups = [[u] for u in units]
    alpha = krippendorff_alpha(units)
    lo, hi = bootstrap_alpha(groups)
    assert lo < alpha < hi and hi - lo < 0.5
    # The same items in another order, and items one coder alone labelled, change nothing.
    shuffled = groups[:]
    rng.shuffle(shuffled)
    lonely = [[["ai", None, None]], [[None, None, "none"]]]
    assert bootstrap_alpha(shuffled + lonely) == (lo, hi)
    # Perfect agreement: the interval is the point.
    same = [[[c, c]] for c in classes * 5]
    assert bootstrap_alpha(same) == (1.0, 1.0)


def test_random_labels_give_kappa_near_zero() -> None:
    rng = random.Random(7)
    classes = ["ai", "human", "mixed", "none"]
    a = [rng.choice(classes) for _ in range(10_000)]
    b = [rng.choice(classes) for _ in range(10_000)]
    assert abs(cohen_kappa(a, b)) < 0.05


def test_the_report_has_intervals_f1_and_flags_chance_agreement() -> None:
    gold = ["ai"] * 30 + ["human"] * 30
    same = compare(gold, gold, resamples=200)
    assert same.kappa == 1.0 and not same.unreliable
    assert all(c.f1 == 1.0 for c in same.classes)
    rng = random.Random(3)
    noise = [rng.choice(["ai", "human"]) for _ in gold]
    chance = compare(noise, gold, resamples=500)
    assert chance.unreliable  # the interval includes 0
    lo, hi = bootstrap_kappa(noise, gold, resamples=500)
    assert lo < chance.kappa < hi
    assert sum(sum(row.values()) for row in chance.confusion.values()) == 60
    assert math.isnan(cohen_kappa(["ai"] * 5, ["ai"] * 5))  # one class only: undefined


def test_each_class_f1_has_a_bootstrap_interval_around_it() -> None:
    rng = random.Random(11)
    gold = [rng.choice(["ai", "human", "none"]) for _ in range(200)]
    # A source right on ~80% of items: each class's F1 sits inside its interval, which is narrower
    # for the common classes than for a class the reference gives 3 times.
    src = [g if rng.random() < 0.8 else rng.choice(["ai", "human", "none"]) for g in gold]
    src += ["mixed", "none", "mixed"]
    gold += ["mixed", "mixed", "none"]
    r = compare(src, gold, resamples=400)
    by = {c.label: c for c in r.classes}
    for c in r.classes:
        lo, hi = c.f1_ci
        assert lo <= c.f1 <= hi, c
    width = {k: c.f1_ci[1] - c.f1_ci[0] for k, c in by.items()}
    assert width["mixed"] > 2 * width["human"] > 0
    # The kappa interval is the one bootstrap_kappa gives: F1's resamples do not move it.
    assert r.kappa_ci == bootstrap_kappa(src, gold, resamples=400)
    assert r.to_dict()["classes"][0]["f1_ci95"] == list(by["ai"].f1_ci)
    same = compare(gold, gold, resamples=100)
    assert all(c.f1_ci == (1.0, 1.0) for c in same.classes)


# --- archetypes per archetype, label sources, sessions ---------------------------------------


def test_archetypes_compare_per_archetype_as_present_or_absent() -> None:
    src = [frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset({"b"})]
    ref = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), frozenset({"b"})]
    r = compare_sets(src, ref, resamples=200)
    # 4 items x {a, b} = 8 decisions, 6 agree; each source says "present" 4 times: p_e = 1/2.
    assert r.accuracy == pytest.approx(0.75, abs=1e-9)
    assert r.kappa == pytest.approx(0.5, abs=1e-9)
    # Coincidences: o(P,P) = o(A,A) = 6, o(P,A) = o(A,P) = 2; n = 16; alpha = 1 - 15 * 4 / 128.
    assert r.alpha == pytest.approx(17 / 32, abs=1e-9)
    assert r.confusion == {
        "present": {"present": 3, "absent": 1},
        "absent": {"present": 1, "absent": 3},
    }
    a, b = r.classes
    assert (a.label, a.precision, a.recall, a.f1, a.support) == ("a", 1.0, 1.0, 1.0, 2)
    assert (b.label, b.precision, b.recall, b.f1, b.support) == ("b", 0.5, 0.5, 0.5, 2)
    assert all(c.f1_ci[0] <= c.f1 <= c.f1_ci[1] for c in r.classes)
    assert r.comparison == PER_ARCHETYPE and r.to_dict()["comparison"] == PER_ARCHETYPE


def _gen(gid: str, text: str, **extra: object) -> GenerationRecord:
    return GenerationRecord(
        id=gid,
        model="m",
        format="dialogue",
        sample=0,
        seed=1,
        text=text,
        n_tokens=5,
        finish_reason="eos",
        role_leak=False,
        params={},
        turn=1,
        **extra,  # type: ignore[arg-type]
    )


TEXTS = {
    "g1": "I'm an AI language model.",  # ai
    "g2": "I'm a teacher from Ohio and I have two kids.",  # human
    "g3": "The weather is nice today.",  # none
    "g4": "I work as a nurse.",  # human
}


def _session() -> Session:
    s = Session(title="t", turns=[TurnRecord(role="user", content="What are you?")])
    s.generations = [_gen(k, v) for k, v in TEXTS.items()]
    # g1's self-id was recorded (and, to prove it is read, differs from what the rules say now);
    # g2's record predates the self-id axis; g3 and g4 have no automatic label at all.
    s.auto_labels = [
        # Said to be today's rules' label (one of other rules is read again when a file loads).
        AutoLabelRecord(
            labels=["helpful-assistant"],
            self_id="mixed",
            generation_id="g1",
            rules=rules_fingerprint(),
        ),
        AutoLabelRecord(labels=["unclear"], generation_id="g2"),
    ]

    def note(gid: str, who: str, **kw: object) -> None:
        s.annotate(Annotation(generation_id=gid, annotator=who, **kw))  # type: ignore[arg-type]

    note("g1", "alice", self_id="ai", labels=["helpful-assistant"])
    note("g2", "alice", self_id="ai")
    note("g2", "alice", self_id="human", blind=True)  # a later label replaces an earlier one
    note("g3", "alice", self_id="none", labels=["my own words"])  # free labels: no archetype
    note("g4", "alice", note="only a note")  # says nothing on self-id: not a label
    note("g1", "bob", self_id="ai", blind=True)
    note("g2", "bob", self_id="human", blind=True)
    note("g3", "bob", self_id="ai", blind=True)
    note("g4", "bob", self_id="human", blind=True)
    note("g2", "carol", self_id="human")
    note("g4", "carol", self_id="none")
    return s


def test_session_sources_read_recorded_labels_and_recompute_missing_ones() -> None:
    labels = session_labels(_session(), SELF_ID)
    assert labels.auto.values == {"g1": "mixed", "g2": "human", "g3": "none", "g4": "human"}
    assert (labels.recorded, labels.recomputed) == (1, 3)
    assert labels.auto.name == "automatic (markers)"
    alice = labels.annotators["alice"]
    assert alice.values == {"g1": "ai", "g2": "human", "g3": "none"} and alice.blind == {"g2"}
    assert labels.annotators["bob"].blind == {"g1", "g2", "g3", "g4"}
    # The people's label where every annotator's latest label agrees; on g3 (alice none, bob ai)
    # and g4 (bob human, carol none) they disagree, and which came last settles nothing.
    assert labels.people.values == {"g1": "ai", "g2": "human"}
    assert labels.people.disputed == {"g3", "g4"}
    assert labels.people.blind == set()  # alice labelled g1 and carol g2 seeing the model
    arch = session_labels(_session(), ARCHETYPES)
    assert arch.annotators["alice"].values == {
        "g1": frozenset({"helpful-assistant"}),
        "g3": frozenset(),
    }
    assert arch.auto.values["g1"] == frozenset({"helpful-assistant"})
    assert arch.auto.values["g2"] == frozenset()  # "unclear" is no archetype


def test_session_agreement_people_vs_rules_and_annotators(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    atomic_write(path, dumps(_session()))
    r = session_agreement(path, resamples=200)
    # g2's label was made before labels had a self-id: loading read it again (not recomputed).
    assert r.generations == 4 and r.recomputed == 2 and r.relabelled == 1
    assert r.annotators == {
        "alice": {"items": 3, "blind": 1},
        "bob": {"items": 4, "blind": 4},
        "carol": {"items": 2, "blind": 0},
    }
    vs_alice = r.vs_auto[0]
    assert (vs_alice.source, vs_alice.reference, vs_alice.n) == (
        "automatic (markers)",
        "alice",
        3,
    )
    # auto mixed/human/none vs alice ai/human/none: 2 of 3 agree; p_e = 2/9; kappa = (2/3 - 2/9)/(7/9).
    assert vs_alice.kappa == pytest.approx(4 / 7, abs=1e-9)
    assert vs_alice.blind == {"alice": 1}
    # Several annotators: the people's label where they agree too (g3 and g4 are disputed).
    assert r.vs_auto[-1].reference.startswith("people") and r.vs_auto[-1].n == 2
    pairs = {(x.reference, x.source): x for x in r.between}
    assert set(pairs) == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}
    ab = pairs[("alice", "bob")]
    assert ab.n == 3 and ab.accuracy == pytest.approx(2 / 3)
    # Alpha over three coders with missing labels equals the pairable-units formula by hand:
    # g1 (ai, ai), g2 (human, human, human), g3 (none, ai), g4 (bob human, carol none).
    units = [
        ["ai", "ai", None],
        ["human", "human", "human"],
        ["none", "ai", None],
        [None, "human", "none"],
    ]
    assert r.alpha == pytest.approx(krippendorff_alpha(units), abs=1e-12)
    assert r.alpha_items == 4
    # Alpha has its interval (a trial saw it printed alone): items resampled whole.
    lo, hi = r.alpha_ci
    assert lo <= r.alpha <= hi and lo < hi
    assert r.to_dict()["alpha_ci95"] == [lo, hi]
    d = r.to_dict()
    assert d["blind"] == 5 and d["automatic"]["recomputed"] == 2
    json.dumps(d)  # every number is JSON (no NaN)


def test_a_missing_people_row_is_said_why(tmp_path: Path) -> None:
    """Two annotators who differ on every generation they share give no "people" row: the
    report says so (a review saw the row missing, unsaid), and why, in the table and --json."""
    s = _session()
    s.annotations = [a for a in s.annotations if a.annotator in ("alice", "bob")]
    s.annotations = [
        a for a in s.annotations if a.generation_id in ("g3",) or a.annotator == "alice"
    ]
    path = tmp_path / "s.json"
    atomic_write(path, dumps(s))
    r = session_agreement(path, resamples=50)
    assert not any(x.reference.startswith("people") for x in r.vs_auto)
    assert r.notes == [
        "no row for the people's agreed label: the annotators differ on all 1 generation(s) "
        "two or more of them labelled"
    ]
    assert r.to_dict()["notes"] == r.notes
    # With no generation in common, that is said instead.
    s.annotations = [
        a for a in s.annotations if not (a.annotator == "alice" and a.generation_id == "g3")
    ]
    atomic_write(path, dumps(s))
    assert (
        "no generation was labelled by two annotators"
        in session_agreement(path, resamples=50).notes[0]
    )
    # With a shared, agreed label, the row is there and no note.
    atomic_write(path, dumps(_session()))
    assert session_agreement(path, resamples=50).notes == []


def test_sources_on_the_command_line_sessions_and_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    atomic_write(path, dumps(_session()))
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"id": k, "self_id": v, "split": "test" if k != "g1" else "dev"}) + "\n"
            for k, v in {"g1": "ai", "g2": "human", "g3": "none", "g4": "human"}.items()
        )
    )
    auto = open_source(f"{path}:auto", SELF_ID)
    assert auto.values["g1"] == "mixed" and not auto.human
    bob = open_source(f"{path}:bob", SELF_ID)
    assert bob.human and len(bob.values) == 4
    people = open_source(str(path), SELF_ID)  # a session alone: where the annotators agree
    assert people.values == {"g1": "ai", "g2": "human"} and people.disputed == {"g3", "g4"}
    pooled = compare_labels(auto, people, SELF_ID, resamples=100)
    assert pooled.n == 2
    assert any("2 item(s) the annotators labelled differently" in x for x in pooled.notes)
    # ...and only that: they are not also "labelled only in automatic" (a trial read both).
    assert not any("labelled only in" in x for x in pooled.notes), pooled.notes
    r = compare_labels(auto, open_source(str(gold), SELF_ID), SELF_ID, resamples=100)
    assert r.n == 4 and r.accuracy == 0.75
    test = compare_labels(auto, read_jsonl(gold, SELF_ID), SELF_ID, split="test", resamples=100)
    assert test.n == 3 and test.accuracy == 1.0
    # A split named in another case is the same split.
    upper = compare_labels(auto, read_jsonl(gold, SELF_ID), SELF_ID, split=" TEST", resamples=100)
    assert upper.n == 3
    # Judged by content, not name: JSONL lines in a .json file are labels, not a session.
    named = tmp_path / "labels.json"
    named.write_bytes(gold.read_bytes())
    assert open_source(str(named), SELF_ID).values == read_jsonl(gold, SELF_ID).values
    with pytest.raises(UsageError, match="annotators: alice, bob, carol"):
        open_source(f"{path}:dave", SELF_ID)
    with pytest.raises(UsageError, match="means nothing"):
        open_source(f"{gold}:auto", SELF_ID)
    with pytest.raises(UsageError, match="not found"):
        open_source(str(tmp_path / "nope.jsonl"), SELF_ID)
    with pytest.raises(UsageError, match="choose one of the splits: dev, test"):
        compare_labels(auto, read_jsonl(gold, SELF_ID), SELF_ID, split="train")
    with pytest.raises(UsageError, match="--field self_id or --field archetypes"):
        open_source(str(path), "rating")


def test_jsonl_archetypes_are_sets_and_null_labels_are_missing(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_text(
        '{"id": 1, "archetypes": ["hal-9000", "unclear"]}\n{"id": 2, "archetypes": "skynet"}\n'
        '{"id": 3, "archetypes": null}\n'
    )
    got = read_jsonl(a, ARCHETYPES)
    assert got.values == {"1": frozenset({"hal-9000"}), "2": frozenset({"skynet"})}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "archetypes": 3}\n')
    with pytest.raises(UsageError, match="line 1: 'archetypes' is neither a list nor a string"):
        read_jsonl(bad, ARCHETYPES)


# --- defects found in a user trial ----------------------------------------------------------------


def _labels(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_small_sample_says_its_interval_understates_the_uncertainty(tmp_path: Path) -> None:
    rows = [{"id": f"x{i}", "self_id": "ai" if i % 2 else "human"} for i in range(8)]
    f = _labels(tmp_path / "eight.jsonl", rows)
    r = compare_labels(read_jsonl(f, SELF_ID), read_jsonl(f, SELF_ID), SELF_ID, resamples=200)
    assert r.kappa_ci == (1.0, 1.0)  # the collapse the note warns about
    assert r.notes == [small_n_note(8)] and "understates the uncertainty" in r.notes[0]
    assert r.to_dict()["notes"] == r.notes
    big = [{"id": f"x{i}", "self_id": "ai" if i % 2 else "human"} for i in range(SMALL_N)]
    g = _labels(tmp_path / "big.jsonl", big)
    assert compare_labels(read_jsonl(g, SELF_ID), read_jsonl(g, SELF_ID), SELF_ID).notes == []
    # Per archetype too: n counts items, the unit the bootstrap resamples.
    sets = compare_sets([frozenset({"a"}), frozenset()], [frozenset({"a"}), frozenset()])
    assert sets.notes == [small_n_note(2)]


def test_an_undefined_kappa_says_one_label_is_used_by_both(tmp_path: Path) -> None:
    f = _labels(tmp_path / "same.jsonl", [{"id": f"x{i}", "self_id": "ai"} for i in range(12)])
    r = compare_labels(read_jsonl(f, SELF_ID), read_jsonl(f, SELF_ID), SELF_ID, resamples=100)
    assert math.isnan(r.kappa)
    note, small = r.notes
    assert "both sources give all 12 items the label 'ai', so chance agreement is 1" in note
    # No kappa interval, but the per-class F1 intervals are printed: over 12 items they too
    # look more certain than they are (an audit's n=1 read "1.00 to 1.00" with no word).
    assert small == small_n_note(12)
    allp = compare_sets([frozenset({"a", "b"})] * 3, [frozenset({"a", "b"})] * 3, resamples=50)
    assert allp.notes and "every archetype (a, b), so chance agreement is 1" in allp.notes[0]
    empty = compare_sets([frozenset()] * 3, [frozenset()] * 3, resamples=50)
    assert (
        empty.notes and "neither source gives any of the 3 item(s) an archetype" in empty.notes[0]
    )


def test_the_bootstrap_does_not_depend_on_the_order_of_the_items(tmp_path: Path) -> None:
    src = ["ai", "ai", "ai", "human", "human", "human", "none", "none", "mixed", "ai", "none"]
    ref = ["ai", "ai", "human", "human", "human", "none", "none", "ai", "mixed", "ai", "none"]
    rows = [{"id": f"x{i}", "self_id": v} for i, v in enumerate(ref)]
    a = _labels(tmp_path / "a.jsonl", [{"id": f"x{i}", "self_id": v} for i, v in enumerate(src)])
    b = _labels(tmp_path / "b.jsonl", rows)
    shuffled = _labels(tmp_path / "shuf.jsonl", random.Random(5).sample(rows, len(rows)))
    one = compare_labels(read_jsonl(a, SELF_ID), read_jsonl(b, SELF_ID), SELF_ID, resamples=300)
    two = compare_labels(
        read_jsonl(a, SELF_ID), read_jsonl(shuffled, SELF_ID), SELF_ID, resamples=300
    )
    assert one.kappa_ci == two.kappa_ci
    pairs = list(zip(src, ref, strict=True))
    back = list(reversed(pairs))
    assert bootstrap_kappa(src, ref, resamples=300) == bootstrap_kappa(
        [x for x, _ in back], [y for _, y in back], resamples=300
    )
    s = [frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset({"b"}), frozenset({"a"})]
    r = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), frozenset({"b"}), frozenset()]
    assert (
        compare_sets(s, r, resamples=300).kappa_ci
        == compare_sets(s[::-1], r[::-1], resamples=300).kappa_ci
    )


def test_per_archetype_counts_items_and_item_x_archetype_decisions() -> None:
    src = [frozenset({"a"}), frozenset({"a", "b"}), frozenset(), frozenset({"c"})]
    ref = [frozenset({"a"}), frozenset({"a"}), frozenset({"b"}), frozenset({"b"})]
    r = compare_sets(src, ref, resamples=50)
    assert (r.n, r.decisions) == (4, 12)  # 4 items x {a, b, c}
    assert sum(sum(row.values()) for row in r.confusion.values()) == r.decisions
    assert r.to_dict()["decisions"] == 12
    assert compare(["ai", "human"], ["ai", "ai"], resamples=50).decisions == 2


def test_a_line_error_names_exactly_what_is_missing_and_the_files_options(tmp_path: Path) -> None:
    ref = _labels(tmp_path / "ref.jsonl", [{"key": "x0", "label": "AI", "n": 0}])
    with pytest.raises(UsageError) as err:
        read_jsonl(ref, SELF_ID, options=("--reference-key", "--reference-field"))
    assert err.value.problem == f"{ref} line 1 lacks 'self_id' (its fields: 'key', 'label', 'n')"
    assert "its labels: --reference-key key --reference-field label (or --key key " in (
        err.value.fix
    )
    has_id = _labels(tmp_path / "has_id.jsonl", [{"id": "x0", "label": "ai"}])
    arch = _labels(tmp_path / "arch.jsonl", [{"id": "x0", "self_id": "ai", "tags": ["hal-9000"]}])
    with pytest.raises(UsageError) as err:
        read_jsonl(arch, ARCHETYPES)
    # The line has its 'id': only the label field is named missing; a list is the likely field.
    assert "lacks 'archetypes' (" in err.value.problem and "'id' or" not in err.value.problem
    assert err.value.fix.endswith("its labels: --field tags")
    with pytest.raises(UsageError) as err:
        read_jsonl(has_id, SELF_ID, "uid", column="verdict")
    assert "lacks 'uid' and 'verdict'" in err.value.problem
    assert err.value.fix.endswith("its ids and its labels: --key id --field label")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"key": 1, "self_id": "ai"}\n{"self_id": "ai"}\n')
    with pytest.raises(UsageError) as err:
        read_jsonl(mixed, SELF_ID, "key")
    assert (
        err.value.fix == "give every line the field 'key', or none (then lines match by position)"
    )


def test_a_session_selector_alone_is_asked_for_a_second_source(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    atomic_write(path, dumps(_session()))
    assert split_selector(f"{path}:alice") == (path, "alice")
    assert split_selector(str(path)) == (path, None)
    err = lone_selector_error(path, "alice")
    assert "one alone has nothing to agree with" in err.problem
    assert f"{path}:alice {path}:bob" in err.fix and "reference JSONL file" in err.fix
    assert f"{path}:auto {path}:alice" in lone_selector_error(path, "auto").fix


def test_label_files_made_by_other_people_get_errors_that_name_the_fix(tmp_path: Path) -> None:
    half = tmp_path / "half.jsonl"
    half.write_text('{"id": "1", "self_id": "ai"}\n{"id": "2"}\n')
    with pytest.raises(UsageError, match=r'line 2 lacks .self_id.*write "self_id": null'):
        read_jsonl(half, SELF_ID)
    long = tmp_path / "long.jsonl"
    long.write_text(
        '{"id": "1", "annotator": "x", "self_id": "ai"}\n'
        '{"id": "1", "annotator": "y", "self_id": "human"}\n'
    )
    with pytest.raises(UsageError, match="several people's labels \\(field 'annotator'\\)"):
        read_jsonl(long, SELF_ID)
    table = tmp_path / "labels.csv"
    table.write_text("id,self_id\n1,ai\n")
    with pytest.raises(UsageError, match=r"psmlab reads JSONL.*csv\.DictReader"):
        read_jsonl(table, SELF_ID)


def test_annotators_who_disagree_on_every_item_still_get_a_report(tmp_path: Path) -> None:
    s = _session()
    s.annotations = [a for a in s.annotations if a.generation_id in ("g3", "g4")]
    path = tmp_path / "s.json"
    atomic_write(path, dumps(s))
    r = session_agreement(path, resamples=100)  # no pooled row: no item is agreed on
    assert [x.reference for x in r.vs_auto] == ["alice", "bob", "carol"]
    with pytest.raises(UsageError, match="label each of their 2 shared item"):
        open_source(str(path), SELF_ID)


def test_self_id_labels_under_another_field_name_read_the_codebooks_synonyms(
    tmp_path: Path,
) -> None:
    """Another lab's file names the field its own way: its 'both'/'neither' still read as
    mixed/none (they were compared as classes of their own, lowering kappa); a blank is no label."""
    rows = [("1", "AI", "ai"), ("2", "both", "mixed"), ("3", "Neither", "none"), ("4", "", None)]
    theirs = _labels(tmp_path / "t.jsonl", [{"uid": i, "claim": a} for i, a, _ in rows])
    ours = _labels(tmp_path / "o.jsonl", [{"uid": i, "claim": b} for i, _, b in rows])
    a, b = read_jsonl(theirs, "claim", "uid"), read_jsonl(ours, "claim", "uid")
    assert a.missing == b.missing == {"4"}
    result = compare_labels(a, b, "claim")
    assert a.values == b.values == {"1": "ai", "2": "mixed", "3": "none"}
    assert result.accuracy == 1.0 and result.n == 3
    # Decided over both sources: one label that is no self-id class keeps every word as written
    # in both ('both' agreed with 'both'; mapping one file only would part them).
    x = _labels(tmp_path / "x.jsonl", [{"id": 1, "c": "both"}, {"id": 2, "c": "ai"}])
    y = _labels(tmp_path / "y.jsonl", [{"id": 1, "c": "both"}, {"id": 2, "c": "unsure"}])
    lx, ly = read_jsonl(x, "c"), read_jsonl(y, "c")
    compare_labels(lx, ly, "c")
    assert lx.values == {"1": "both", "2": "ai"} and ly.values == {"1": "both", "2": "unsure"}
    # In an archetypes column a blank is a missing label too ("none" is no archetype).
    arch = _labels(
        tmp_path / "a.jsonl", [{"id": 1, "archetypes": ""}, {"id": 2, "archetypes": "none"}]
    )
    assert read_jsonl(arch, ARCHETYPES).values == {"2": frozenset()}


def test_an_interval_over_resamples_that_mostly_missed_a_rare_class_says_so() -> None:
    """A review's case: 29 'a' and one 'b' in both sources is kappa 1.0 [1.0, 1.0] at n=30, from
    the resamples that drew the 'b' (about a third drew none and were left out), with no word."""
    rare = compare(["a"] * 29 + ["b"], ["a"] * 29 + ["b"])
    assert rare.kappa == 1.0 and len(rare.notes) == 1
    assert "undefined in 3" in rare.notes[0] and "too narrow" in rare.notes[0]
    common = compare(["a"] * 60 + ["b"] * 40, ["a"] * 55 + ["b"] * 45)
    assert common.notes == []


def test_the_people_label_counts_items_only_one_annotator_read() -> None:
    """An item one of several annotators labelled is one reading, not an agreement: kept in the
    people's label, and the comparison says how many there are."""
    s = _session()
    s.annotations = [
        a for a in s.annotations if not (a.generation_id == "g1" and a.annotator == "bob")
    ]
    labels = session_labels(s, SELF_ID)
    assert labels.people.values["g1"] == "ai" and labels.people.single == {"g1"}
    r = compare_labels(labels.auto, labels.people, SELF_ID, resamples=100)
    assert any("1 item(s) of people" in x and "one annotator only" in x for x in r.notes)
    # Its name says so too (a trial read "where the annotators agree" of such a row).
    assert labels.people.name == "people (where the annotators agree, or one read it)"
    everyone = session_labels(_session(), SELF_ID).people
    assert everyone.single == set() and everyone.name == "people (where the annotators agree)"


def test_a_few_odd_values_among_self_id_labels_are_named_not_read_as_new_classes(
    tmp_path: Path,
) -> None:
    """A trial's copy of the gold labels in another lab's words (AI/Human/Both/Neither) with one
    "N/A": read as free labels, both/neither became classes and kappa read 0.44 (true 1.00)."""
    words = {"ai": "AI", "human": "Human", "mixed": "Both", "none": "Neither"}
    gold = Path(__file__).resolve().parents[1] / "data" / "gold" / "test.jsonl"
    rows = [json.loads(x) for x in gold.read_text(encoding="utf-8").splitlines() if x.strip()]
    theirs = [{"sample": r["id"], "Label": words[r["self_id"]]} for r in rows]
    mine = tmp_path / "theirs.jsonl"
    mine.write_text("".join(json.dumps(r) + "\n" for r in theirs), encoding="utf-8")
    ref = open_source(str(gold), SELF_ID)
    whole = compare_labels(read_jsonl(mine, "Label", key="sample"), ref, "Label", resamples=50)
    assert whole.kappa == 1.0
    theirs[5]["Label"] = "N/A"
    mine.write_text("".join(json.dumps(r) + "\n" for r in theirs), encoding="utf-8")
    with pytest.raises(UsageError, match=r"327 of 328 .* but not 'n/a' \(1\)"):
        compare_labels(read_jsonl(mine, "Label", key="sample"), ref, "Label", resamples=50)


def test_no_pooled_row_when_no_item_was_read_by_two_annotators(tmp_path: Path) -> None:
    """Each person read other items: the row named "where the annotators agree" held no
    agreement at all, only their readings."""
    s = _session()
    # alice read g1 alone, bob g3 alone, carol g2 and g4 alone.
    alone = {"g1": "alice", "g3": "bob", "g2": "carol", "g4": "carol"}
    s.annotations = [a for a in s.annotations if alone[a.generation_id] == a.annotator]
    assert {a.annotator for a in s.annotations} == {"alice", "bob", "carol"}
    path = tmp_path / "s.json"
    atomic_write(path, dumps(s))
    report = session_agreement(path, SELF_ID, resamples=50)
    assert all("where the annotators agree" not in r.reference for r in report.vs_auto)
    full = tmp_path / "full.json"
    atomic_write(full, dumps(_session()))
    report = session_agreement(full, SELF_ID, resamples=50)
    assert any("where the annotators agree" in r.reference for r in report.vs_auto)


def test_alpha_from_a_pair_table_is_alpha_and_comes_with_an_interval() -> None:
    """Two sources' alpha gets the interval kappa has (it was printed bare), read per resample
    from the same pair tables: the table's alpha must be krippendorff_alpha's, to 1e-9."""
    from collections import Counter

    from psmlab.core.measure.coefficients import alpha_of

    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(2, 40)
        k = rng.randint(1, 4)
        pairs = [(rng.randrange(k), rng.randrange(k)) for _ in range(n)]
        got, want = alpha_of(Counter(pairs)), krippendorff_alpha(pairs)
        assert (math.isnan(got) and math.isnan(want)) or abs(got - want) < 1e-9
    a = ["ai", "human", "none", "ai", "mixed", "human"] * 8
    b = ["ai", "human", "none", "human", "mixed", "human"] * 8
    r = compare(a, b, resamples=500)
    lo, hi = r.alpha_ci
    assert lo < r.alpha < hi and r.to_dict()["alpha_ci95"] == [lo, hi]
    assert r.kappa_ci == bootstrap_kappa(a, b, resamples=500)  # kappa's draws unchanged


def test_a_source_with_one_label_is_said_to_measure_nothing() -> None:
    """A trial's rules labelled all three samples "none": kappa 0.00 (0.00 to 0.00) read as a
    certain finding. A constant source has kappa 0 in every resample; that is said."""
    from psmlab.core.measure.kappa import compare

    r = compare(["none"] * 3, ["ai", "none", "human"], source_name="rules", reference_name="people")
    assert r.kappa == 0.0 and r.kappa_ci == (0.0, 0.0)
    assert any("rules gives all 3 items the label 'none': kappa is 0 by construction" in x
               for x in r.notes), r.notes  # fmt: skip
    varied = compare(["ai", "none", "human"], ["ai", "none", "none"])
    assert not any("by construction" in x for x in varied.notes)
