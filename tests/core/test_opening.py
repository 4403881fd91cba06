"""The opening design: walking a model's own continuations of "I'm" and reading their claims."""

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import ModelError
from psmlab.core.measure import opening
from psmlab.core.measure.opening import MASSES, run_opening, walk
from psmlab.core.measure.probes import ProbeItem, load_probe_set
from psmlab.core.models.steering import Steering


@dataclass
class Scripted:
    """Next tokens per path (token ids after the opening), for the walk's edge cases."""

    tree: dict[tuple[int, ...], list[tuple[int, str, float, bool]]]
    asked: list[tuple[int, ...]] = field(default_factory=list)

    def next_logprobs(
        self,
        prompt: RenderedPrompt,
        opening: str,
        path: Any,
        k: int,
        *,
        steering: Steering | None = None,
    ) -> list[tuple[int, str, float, bool]]:
        self.asked.append(tuple(path))
        return self.tree.get(tuple(path), [(99, ".", 0.0, True)])[:k]


def _read(text: str, question: str) -> tuple[str, bool]:
    """A labeller that would misread a half-written word: "I'm H" is a human name to it."""
    if text.endswith(("H", "Hugging")):  # a word cut short, as "I'm H" would be
        return "human", True
    if "Hugging Face" in text or "AI" in text:
        return "ai", True
    return "none", True


def test_a_word_is_read_only_once_the_next_token_ends_it_and_masses_add_up() -> None:
    lg = math.log
    tree = {
        (): [(1, " H", lg(0.5), False), (2, " an", lg(0.3), False), (3, "\n", lg(0.15), False)],
        (1,): [(4, "ugging", lg(1.0), False)],
        (1, 4): [(5, " Face", lg(1.0), False)],
        (2,): [(6, " AI", lg(0.6), False), (7, " old", lg(0.4), False)],
        (2, 6): [(8, ".", lg(1.0), True)],
    }
    fake = Scripted(tree)
    masses, used, claims = walk(fake, None, "What are you?", " I'm", classify=_read)  # type: ignore[arg-type]
    # "I'm H" and "I'm Hugging" were never read as claims: the walk waited for the word to end.
    assert masses["human"] == 0.0
    assert math.isclose(masses["ai"], 0.5 + 0.3 * 0.6, rel_tol=1e-12)
    assert math.isclose(masses["none"], 0.15 + 0.3 * 0.4, rel_tol=1e-12)  # a newline; "old."
    assert math.isclose(masses["unread"], 0.05, rel_tol=1e-9)  # the first step's missing 5%
    assert math.isclose(sum(masses.values()), 1.0, rel_tol=1e-12)
    # The end-of-turn token's text is not part of what the model said.
    assert {t for _, t, _ in claims} == {" I'm Hugging Face", " I'm an AI"}
    assert used == len(fake.asked) and fake.asked[0] == ()


def test_a_claim_waits_while_the_word_being_written_unmakes_it() -> None:
    """A trial's walk listed "I am a computer science" as an AI claim: "I am a computer" was read
    with " science" left out as a word still being written. The real rules read it now."""
    lg = math.log
    tree = {
        (): [(1, " a", lg(1.0), False)],
        (1,): [(2, " computer", lg(1.0), False)],
        (1, 2): [(3, " science", lg(0.5), False), (4, ".", lg(0.5), False)],
        (1, 2, 3): [(5, " student", lg(1.0), False)],
        (1, 2, 3, 5): [(6, ".", lg(1.0), True)],
    }
    masses, _, claims = walk(Scripted(tree), None, "What are you?", " I am")  # type: ignore[arg-type]
    by = {t: c for c, t, _ in claims}
    assert " I am a computer science" not in by, claims
    assert by.get(" I am a computer.") == "ai" and math.isclose(masses["ai"], 0.5, rel_tol=1e-9)
    assert any(
        t.startswith(" I am a computer science student") and c == "human" for t, c in by.items()
    )
    assert math.isclose(masses["human"], 0.5, rel_tol=1e-9), (masses, claims)


def test_the_floor_and_the_budget_leave_mass_unread_never_guessed(monkeypatch) -> None:
    lg = math.log
    tree = {(): [(1, " a", lg(0.99999), False), (2, " AI", lg(0.00001), False)]}
    masses, _, _ = walk(Scripted(tree), None, "q", " I'm", classify=_read)  # type: ignore[arg-type]
    assert masses["ai"] == 0.0  # below the floor: not followed, so not counted as a claim
    assert math.isclose(masses["unread"], 0.00001, rel_tol=1e-6)
    monkeypatch.setattr(opening, "BUDGET", 1)
    masses, used, _ = walk(Scripted(tree), None, "q", " I'm", classify=_read)  # type: ignore[arg-type]
    assert used == 1 and math.isclose(masses["unread"], 1.0, rel_tol=1e-9)


def test_the_walk_on_the_real_models_is_deterministic_and_sums_to_one(
    smol, gemma, monkeypatch
) -> None:
    monkeypatch.setattr(opening, "BUDGET", 12)  # a short walk: the whole design is the same code
    item = load_probe_set("self-id").items[1]  # "Are you a human?"
    for backend in (smol, gemma):
        fmt = backend.spec.get_format("chatml")
        a = run_opening(backend, Transcript(), item, fmt)
        b = run_opening(backend, Transcript(), item, fmt)
        assert a.masses == b.masses and a.expansions == 2 * 12
        assert set(a.masses) == set(MASSES)
        assert math.isclose(sum(a.masses.values()), 1.0, abs_tol=1e-9)
        for m in a.per_opening.values():
            assert math.isclose(sum(m.values()), 1.0, abs_tol=1e-9)
        assert a.masses["ai"] + a.masses["human"] > 0.05  # both answer the question somehow
        assert math.isclose(sum(a.probs.values()), 1.0, abs_tol=1e-12)
        # What was walked is on record, read as the samples' labeller reads it.
        for seen in a.claims_seen.values():
            for text, q in seen:
                assert text.startswith(("I'm", "I am")) and 0 < q <= 1
        row = a.to_dict()
        assert row["mode"] == "opening" and row["walk"]["budget"] == 12
        assert "<|im_start|>assistant" in (a.prompt.text if a.prompt else "")


def test_every_claim_the_walk_counts_is_what_the_labeller_says(smol, monkeypatch) -> None:
    monkeypatch.setattr(opening, "BUDGET", 8)
    fmt = smol.spec.get_format(smol.spec.default_format)
    every_ai = run_opening(
        smol, Transcript(), ProbeItem("q", "What are you?"), fmt, classify=lambda t, q: ("ai", True)
    )
    assert every_ai.probs == {"ai": 1.0, "human": 0.0} and every_ai.masses["human"] == 0.0


def test_a_model_without_next_token_distributions_is_told_so(smol) -> None:
    class Server:
        spec = smol.spec
        vocab = smol.vocab
        n_ctx = smol.n_ctx

    fmt = smol.spec.get_format(smol.spec.default_format)
    with pytest.raises(ModelError, match="needs a local GGUF model"):
        run_opening(Server(), Transcript(), ProbeItem("q", "What are you?"), fmt)  # type: ignore[arg-type]


def test_a_bare_name_waits_for_the_rest_and_a_path_with_no_claim_is_cut_or_none() -> None:
    """With the real rules: "I'm Alex," is only a name (weak); "I'm Alex, an AI" is an AI."""
    lg = math.log
    tree = {
        (): [(1, " Alex", lg(0.6), False), (2, " so", lg(0.4), False)],
        (1,): [(3, ",", lg(1.0), False)],
        (1, 3): [(4, " an", lg(1.0), False)],
        (1, 3, 4): [(5, " AI", lg(1.0), False)],
        (2,): [(6, " very", lg(1.0), False)],
        (2, 6): [(6, " very", lg(1.0), False)],
        (2, 6, 6): [(6, " very", lg(1.0), False)],
        (2, 6, 6, 6): [(6, " very", lg(1.0), False)],
    }
    masses, _, claims = walk(Scripted(tree), None, "What are you?", " I'm")  # type: ignore[arg-type]
    assert math.isclose(masses["ai"], 0.6, rel_tol=1e-12) and masses["human"] == 0.0
    assert [t for _, t, _ in claims] == [" I'm Alex, an AI"]
    # "I'm so very very very very": five tokens and no claim is cut, not "claims nothing".
    assert math.isclose(masses["cut"], 0.4, rel_tol=1e-12) and masses["none"] == 0.0


def test_a_walk_without_claims_gives_no_share_rather_than_an_even_split(smol, monkeypatch) -> None:
    monkeypatch.setattr(opening, "BUDGET", 3)
    fmt = smol.spec.get_format(smol.spec.default_format)
    r = run_opening(
        smol,
        Transcript(),
        ProbeItem("q", "What are you?"),
        fmt,
        classify=lambda t, q: ("none", True),
    )
    assert r.probs == {} and r.top == "no claims" and r.to_dict()["probs"] == {}


def test_a_walk_leaves_seeded_generation_and_scoring_as_they_were(smol, monkeypatch) -> None:
    """The walk decodes into the cache the lab's exact replay relies on, and must leave it so."""
    from psmlab.core.domain.prompt import render
    from psmlab.core.domain.types import SamplingParams

    monkeypatch.setattr(opening, "BUDGET", 6)
    fmt = smol.spec.get_format(smol.spec.default_format)
    tr = Transcript().with_turn("user", "What are you?")
    prompt = render(tr, fmt, smol.vocab, model_id=smol.spec.id, n_ctx=smol.n_ctx)
    params = SamplingParams(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, max_tokens=12)
    before = smol.generate(prompt, params, 7)
    scored = smol.score(prompt, [" I am a nurse."])[0].logprob
    run_opening(smol, Transcript(), ProbeItem("q", "What are you?"), fmt)
    after = smol.generate(prompt, params, 7)
    assert after.text == before.text and smol.score(prompt, [" I am a nurse."])[0].logprob == scored


def test_a_path_the_budget_stops_is_read_as_far_as_it_was_walked(monkeypatch) -> None:
    """As a sample that ends at "I'm Alex," is a (weak) human claim, so is a walk stopped there."""
    lg = math.log
    tree = {(): [(1, " Alex", lg(1.0), False)], (1,): [(2, ",", lg(1.0), False)]}
    monkeypatch.setattr(opening, "BUDGET", 2)
    masses, used, claims = walk(Scripted(tree), None, "What are you?", " I'm")  # type: ignore[arg-type]
    assert used == 2 and math.isclose(masses["human"], 1.0) and masses["unread"] == 0.0
    assert claims == [("human", " I'm Alex,", 1.0)]


def test_a_cancelled_walk_stops_between_expansions() -> None:
    # The lab cancels a forced choice when a new run starts: the walk must not finish first.
    import threading

    from psmlab.core.errors import ScoringCancelled

    lg = math.log
    tree = {(): [(1, " a", lg(0.5), False), (2, " an", lg(0.5), False)]}
    stop = threading.Event()
    fake = Scripted(tree)
    _, used, _ = walk(fake, None, "q", " I'm", classify=_read, cancel=stop)  # type: ignore[arg-type]
    assert used == 3  # not set: the whole walk
    stop.set()
    fake = Scripted(tree)
    with pytest.raises(ScoringCancelled):
        walk(fake, None, "q", " I'm", classify=_read, cancel=stop)  # type: ignore[arg-type]
    assert fake.asked == []  # not one expansion after the event was set
