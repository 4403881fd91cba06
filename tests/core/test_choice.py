"""Multiple-choice forced choice: rotated option order, letter scoring, position bias."""

import math
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Score
from psmlab.core.measure.choice import run_choice
from psmlab.core.measure.probes import ProbeItem, load_probe_set

PERSONAS = load_personas()[0]


@dataclass
class AlwaysA:
    """A scripted model that always answers with the letter A, over the real rendered prompts."""

    real: Any
    prompts: list[str] = field(default_factory=list)

    spec = property(lambda self: self.real.spec)
    vocab = property(lambda self: self.real.vocab)
    n_ctx = property(lambda self: self.real.n_ctx)

    def generate(self, prompt: RenderedPrompt, *a: Any, **k: Any) -> Any:
        return type("G", (), {"token_logprobs": []})()  # no alternatives: letters get scored

    def score(self, prompt: RenderedPrompt, continuations, *, cancel=None) -> list[Score]:  # type: ignore[no-untyped-def]
        self.prompts.append(prompt.text)
        return [Score(c, -0.01 if c.strip() == "A" else -6.0, 1, (-0.01,)) for c in continuations]


def test_a_model_that_always_answers_a_gets_an_even_split_and_full_position_bias(smol) -> None:
    item = ProbeItem("q", "What are you?")
    fake = AlwaysA(smol)
    fmt = smol.spec.get_format(smol.spec.default_format)
    r = run_choice(fake, Transcript(), item, fmt, PERSONAS)  # type: ignore[arg-type]
    k = len(r.options)
    assert k == len(PERSONAS) and len(fake.prompts) == k  # one prompt per rotation
    for p in r.probs.values():
        assert math.isclose(p, 1 / k, rel_tol=1e-9)
    assert r.position_bias["A"] > 0.95 and r.to_dict()["max_position_bias"] > 0.85
    assert "<|im_start|>" in fake.prompts[0] and fake.prompts[0] != fake.prompts[1]


def test_self_id_choice_on_the_real_model_rotates_and_reports_bias(smol, gemma) -> None:
    item = load_probe_set("self-id").items[0]
    for backend in (smol, gemma):
        fmt = backend.spec.get_format(backend.spec.default_format)
        r = run_choice(backend, Transcript(), item, fmt, PERSONAS, axis="self_id")
        assert set(r.probs) == {"ai", "human"} and len(r.prompts) == 2
        assert math.isclose(sum(r.probs.values()), 1.0, abs_tol=1e-9)
        assert math.isclose(sum(r.position_bias.values()), 1.0, abs_tol=1e-9)
        first, second = (p.text for p in r.prompts)
        ai, human = r.options["ai"], r.options["human"]
        assert f"(A) {ai}" in first and f"(B) {human}" in first
        assert f"(A) {human}" in second and f"(B) {ai}" in second
        assert set(r.scoring) <= {"next-token", "continuation"}
