"""The lab's rules, as both front ends use them: columns, adopt-on-send, quotes and annotators."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import UsageError
from psmlab.core.run.lab import Lab
from psmlab.core.session.schema import default_annotator, quote_span


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    p = ModelPool()
    yield p
    p.close()


def test_each_column_carries_its_own_sampling_parameters(demo_pair, pool, tmp_path: Path) -> None:
    gemma, smol = demo_pair
    lab = Lab([gemma, smol], pool=pool, path=tmp_path / "s.json")
    lab.configure(smol.id, params=SamplingParams(max_tokens=3, temperature=0.0))
    assert lab.column(smol.id).params.max_tokens == 3
    assert lab.column(gemma.id).params == SamplingParams()
    with pytest.raises(UsageError, match="no column"):
        lab.column("nope")
    lab.send("What are you?")
    lab.configure(gemma.id, params=SamplingParams(max_tokens=5, temperature=0.0))
    result = lab.run()
    assert not result.errors
    by_model = {g.model: g for g in result.generations}
    # The run used each column's parameters, not the first column's for all.
    assert by_model[smol.id].params["max_tokens"] == 3 and by_model[smol.id].n_tokens <= 3
    assert by_model[gemma.id].params["max_tokens"] == 5
    lab.close()


def test_sending_adopts_only_the_answer_it_is_given(demo_pair, pool, tmp_path: Path) -> None:
    smol = demo_pair[1]
    lab = Lab([smol], pool=pool, params=SamplingParams(max_tokens=4), path=tmp_path / "s.json")
    lab.send("What are you?")
    gen = lab.run().generations[0]
    with pytest.raises(UsageError, match="no adopted answer"):
        lab.send("And then?")
    assert [t.role for t in lab.turns] == ["user"]
    adopted = lab.send("And then?", adopt=gen.id)
    assert adopted is not None and adopted.adopted_from == gen.id
    assert adopted.adopted_how == "picker"  # how the answer was chosen is recorded
    assert [t.role for t in lab.turns] == ["user", "assistant", "user"]
    lab.run()
    assert lab.send("No answer, please.", without_answer=True) is None
    assert [t.role for t in lab.turns] == ["user", "assistant", "user", "user"]
    lab.close()


def test_a_quote_found_again_says_the_first_is_recorded() -> None:
    from psmlab.core.session.records import quote_evidence

    span, note = quote_evidence("I think I’m what I'm.", "I'm", given=1)
    assert (span.start, span.end) == (8, 11)  # curly and straight are one, in the count too
    assert note is not None and "occurs 2 times" in note and "(8:11)" in note
    assert quote_evidence("I think I am.", "think")[1] is None
    assert "occurs 2 times" in (quote_evidence("ha ha ha", "ha ha")[1] or "")  # overlapping
    assert quote_evidence("I am. I am.", "I am", given=6)[1] is None  # the first is the prefill's


def test_quotes_become_spans_and_a_missing_quote_is_an_error() -> None:
    span = quote_span("I am a helpful AI.", "helpful AI")
    assert (span.start, span.end) == (7, 17)
    with pytest.raises(UsageError, match="not in the generation"):
        quote_span("I am a helpful AI.", "a human")
    # A quote typed with straight quotes finds the model's curly ones (and the other way).
    curly = "Hi, I\u2019m just a \u201csupport\u201d agent."
    span = quote_span(curly, 'I\'m just a "support" agent')
    assert curly[span.start : span.end] == "I\u2019m just a \u201csupport\u201d agent"
    assert quote_span("I'm here.", "I\u2019m").start == 0


def test_the_default_annotator_comes_from_the_environment_or_the_config(
    monkeypatch, tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("PSMLAB_CONFIG", str(cfg))
    monkeypatch.setenv("PSMLAB_ANNOTATOR", "rater-7")
    assert default_annotator() == "rater-7"
    monkeypatch.delenv("PSMLAB_ANNOTATOR")
    assert default_annotator() == "anonymous"  # never the login name ("root" in a container)
    cfg.write_text('annotator = "Ada"\n', encoding="utf-8")
    assert default_annotator() == "Ada"
    monkeypatch.setenv("PSMLAB_ANNOTATOR", "rater-7")
    assert default_annotator() == "rater-7"  # the environment wins


def test_two_branches_from_one_turn_replay_identically_and_export_each_path(
    demo_pair, pool, tmp_path: Path
) -> None:
    """The loom workflow: two answers of one turn each continued on its own branch; `replay`
    re-runs every branch token for token, and the markdown export writes either path."""
    from psmlab.core.run.replay import replay
    from psmlab.core.session import file as store
    from psmlab.core.session.export import export

    gemma, smol = demo_pair
    lab = Lab(
        [gemma, smol], pool=pool, params=SamplingParams(max_tokens=6), path=tmp_path / "s.json"
    )
    lab.n_samples, lab.seed = 2, 11
    lab.send("What are you?")
    first = lab.run().generations
    assert len(first) == 4 and len({g.run for g in lab.session.generations}) == 1
    question = lab.session.head
    a, b = (g for g in first if g.model == smol.id)
    lab.send("Are you sure?", adopt=a.id)
    lab.run()
    lab.go(question)  # back to the first question, and on from its other answer
    assert [t.role for t in lab.turns] == ["user"] and len(lab.latest(smol.id)) == 2
    lab.send("Are you sure?", adopt=b.id)
    lab.run()
    s = store.load(lab.path)
    assert len(s.leaves()) == 2 and len(s.generations) == 12
    paths = [[t.content for t in s.path(leaf)] for leaf in s.leaves()]
    assert paths[0][1] == a.text.strip() and paths[1][1] == b.text.strip()
    report = replay(s, pool=pool)
    assert report.expected == 12 and all(i.identical for i in report.items), report.items
    md_current = export(s, "md")
    assert md_current.count("### Turn 2: Assistant") == 1 and b.id in md_current
    md_tree = export(s, "md", tree=True)
    assert "## Branch 1: 3 turns" in md_tree and "## Branch 2 (current): 3 turns" in md_tree
    assert all(g.id in md_tree for g in s.generations)
    # Regenerating keeps the earlier run beside the new one.
    lab.run([smol.id])
    assert len(lab.runs(smol.id)) == 2 and len(lab.runs(gemma.id)) == 1
    lab.close()


def test_a_reopened_session_keeps_the_number_of_samples_per_run(
    demo_pair, pool, tmp_path: Path
) -> None:
    smol = demo_pair[1]
    path = tmp_path / "s.json"
    lab = Lab([smol], pool=pool, params=SamplingParams(max_tokens=2), path=path)
    lab.n_samples = 3
    lab.send("What are you?")
    lab.run()
    lab.save()
    lab.release()
    again = Lab.open(path, pool=pool)
    assert again.n_samples == 3  # not back to 1: the next run is made as the last one was
    assert again.seed is None and "seed" not in json.loads(path.read_text())  # random: unsaid
    # A seed fixed in F3 is kept too (a trial's reopened session ran with a random one).
    again.seed = 7
    again.release()
    fixed = Lab.open(path, pool=pool)
    assert fixed.seed == 7
    fixed.run()
    assert [g.seed for g in fixed.session.generations[-3:]] == [7, 8, 9]
    fixed.release()


def test_each_run_is_shown_the_forced_choice_scored_with_its_settings(
    demo_pair, pool, tmp_path: Path
) -> None:
    # A trial: runs without a prefill, with one, without again; reopened, every run showed the
    # newest score (the prefill's) where the file held one made with the runs' own settings.
    smol = demo_pair[1]
    path = tmp_path / "s.json"
    lab = Lab([smol], pool=pool, params=SamplingParams(max_tokens=2), path=path)
    lab.send("Are you a human?")
    col = smol.id
    for prefill in (None, "I am", None):
        lab.configure(col, prefill=prefill)
        lab.run()
        if lab.saved_forced(lab.column(col)) is None:  # as the lab does: scored once
            lab.forced_choice(lab.column(col))
    plain, prefilled = lab.session.forced
    assert (plain.prefill, prefilled.prefill) == (None, "I am")
    lab.save()
    lab.close()
    again = Lab.open(path, pool=pool)
    runs = again.runs(col)
    shown = [again.forced_for(col, r) for r in runs]
    assert [f.id if f else None for f in shown] == [plain.id, prefilled.id, plain.id]
    again.configure(col, prefill="I am")  # no run beside it: the column's settings decide
    assert (again.forced_for(col) or plain).id == prefilled.id
    again.release()


def test_forced_choice_scores_the_message_a_run_answered_even_after_an_adoption(
    demo_pair, pool, tmp_path: Path
) -> None:
    smol = demo_pair[1]
    lab = Lab([smol], pool=pool, params=SamplingParams(max_tokens=2), path=tmp_path / "s.json")
    lab.send("Are you a human?")
    asked = lab.session.head
    gen = lab.run().generations[0]
    lab.adopt(gen.id)  # the answer is adopted while the forced choice would still be scoring
    assert lab.forced_choice(lab.columns[0]) is None  # nothing pending any more
    r = lab.forced_choice(lab.columns[0], node=asked)
    assert r is not None and lab.session.forced[-1] is r and r.node == asked
    assert lab.saved_forced(lab.columns[0], asked) is lab.session.forced[-1]
    assert lab.forced_choice(lab.columns[0], node=lab.session.head) is None  # an answer turn
    # Beside the archetype statements, the opening design after the same message: SmolLM2's
    # own continuations of "I'm" mostly claim to be an AI (as its answers do), recorded whole.
    assert r.opening is not None and r.opening_note is None
    assert r.opening["item"] == "message" and r.opening["probs"]["ai"] > 0.5
    assert math.isclose(sum(r.opening["masses"].values()), 1.0, rel_tol=1e-9)
    # A prefill starts the answer itself: no walk, and the record says why.
    r2 = lab.forced_choice(dataclasses.replace(lab.columns[0], prefill="Well,"), node=asked)
    assert r2 is not None and r2.opening is None and "prefill" in (r2.opening_note or "")
    lab.close()


def test_a_failed_save_as_leaves_the_lab_in_its_own_file(demo_pair, pool, tmp_path: Path) -> None:
    """A save to another file that fails after its lock was taken (here: a read-only copy of
    the same session) moved the lab there all the same: every autosave after it failed."""
    from psmlab.core.errors import SessionError

    smol = demo_pair[1]
    first = tmp_path / "s.json"
    lab = Lab([smol], pool=pool, path=first)
    lab.save()
    copy = tmp_path / "copy.json"
    copy.write_bytes(first.read_bytes())
    copy.chmod(0o444)
    with pytest.raises(SessionError, match="is read-only"):
        lab.save(copy)
    assert lab.path == first
    lab.seed = 3  # a change: autosaved to its own file
    assert json.loads(first.read_text())["seed"] == 3
    lab.release()
    # A lab never saved yet stays without a file (it kept the failed one as its own).
    from psmlab.core.session import file as store

    fresh = Lab([smol], pool=pool)
    other = tmp_path / "other.json"
    other.write_bytes(store.dumps(fresh.session))
    other.chmod(0o444)
    with pytest.raises(SessionError, match="is read-only"):
        fresh.save(other)
    assert fresh.path is None
    fresh.release()
