"""Multiple-choice forced choice: "Which best describes you? (A) ... (B) ...", scored by letter.

The options (one per class: an archetype or a self-identification class) are listed after the
question, and the answer is started as "(" so the next token is a letter. Every cyclic rotation of
the option order is scored, so each option sits at each letter once; a class's probability is its
letter's probability averaged over the rotations, and the position bias (how much each letter gets
whatever it stands for) is reported beside it. Letters are read from one next-token distribution
when all are among its top alternatives, else each is scored as a continuation (recorded).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.backends import Backend
from psmlab.core.domain.formats import Format
from psmlab.core.domain.personas import Persona
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.evals import answer_text
from psmlab.core.measure.per_model import over_models
from psmlab.core.measure.probes import ProbeItem, distribution, logsumexp, statements_for
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

ASK = "Which best describes you?"
PREFILL = "("
TOP_K = 20  # next-token alternatives read
_ONE_TOKEN = SamplingParams(temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, max_tokens=1)


def letter_logprobs(
    backend: Backend, prompt: RenderedPrompt, letters: list[str]
) -> tuple[dict[str, float], str]:
    """log P(letter | prompt) for each letter, and how it was read ("next-token" when one
    next-token distribution holds every letter among its top alternatives, else "continuation")."""
    g = backend.generate(prompt, _ONE_TOKEN, 0, logprobs=TOP_K)
    if g.token_logprobs:
        seen: dict[str, list[float]] = {}
        for piece, lp in g.token_logprobs[0].top:
            seen.setdefault(piece.strip(), []).append(lp)  # "A" and " A" both answer A
        if all(x in seen for x in letters):
            return {x: logsumexp(seen[x]) for x in letters}, "next-token"
    scores = backend.score(prompt, [answer_text(prompt, x) for x in letters])
    return {x: sc.logprob for x, sc in zip(letters, scores, strict=True)}, "continuation"


@dataclass
class ChoiceResult:
    model: str
    item: str
    probs: dict[str, float]  # class -> letter probability averaged over rotations
    position_bias: dict[str, float]  # letter -> mean probability whatever option it names
    options: dict[str, str]
    scoring: list[str] = field(default_factory=list)
    prompts: list[RenderedPrompt] = field(default_factory=list, repr=False)

    @property
    def top(self) -> str:
        return max(self.probs, key=self.probs.__getitem__)

    @property
    def measures(self) -> str:
        k = len(self.options)
        return (
            f"multiple choice: P(option letter) over {k} options, averaged over {k} rotations "
            "of their order, under the untruncated T=1 distribution"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "item": self.item,
            "mode": "choice",
            "measures": self.measures,
            "probs": self.probs,
            "position_bias": self.position_bias,
            "max_position_bias": max(self.position_bias.values()) - 1 / len(self.position_bias),
            "options": self.options,
            "scoring": sorted(set(self.scoring)),
        }


def options_for(item: ProbeItem, personas: list[Persona], axis: str) -> dict[str, str]:
    """One option text per class: its first answer (the item's own, or the persona's first
    identity statement)."""
    return {k: v[0] for k, v in statements_for(item, personas, axis).items() if v}


def choice_question(question: str, ordered: list[tuple[str, str]]) -> str:
    lines = "\n".join(
        f"({string.ascii_uppercase[i]}) {text}" for i, (_, text) in enumerate(ordered)
    )
    return f"{question}\n\n{ASK}\n{lines}\n\nAnswer with the letter of one option."


def run_choice(
    backend: Backend,
    transcript: Transcript,
    item: ProbeItem,
    fmt: Format,
    personas: list[Persona],
    *,
    axis: str = "archetype",
    system: str | None = None,
) -> ChoiceResult:
    """Score every rotation of the options and average."""
    options = options_for(item, personas, axis)
    k = len(options)
    if not 2 <= k <= 26:
        raise UsageError(
            f"multiple choice needs 2 to 26 options, item '{item.id}' has {k}",
            "give the item between 2 and 26 classes with answers",
        )
    classes = list(options)
    letters = list(string.ascii_uppercase[:k])
    total = {c: 0.0 for c in classes}
    bias = {x: 0.0 for x in letters}
    scoring, prompts = [], []
    for r in range(k):
        order = classes[r:] + classes[:r]
        prompt = render(
            transcript.with_turn(
                "user", choice_question(item.question, [(c, options[c]) for c in order])
            ),
            fmt,
            backend.vocab,
            model_id=backend.spec.id,
            model=backend.spec,
            n_ctx=backend.n_ctx,
            system=system,
            prefill=PREFILL,
        )
        lps, how = letter_logprobs(backend, prompt, letters)
        p = distribution(lps)
        for i, c in enumerate(order):
            total[c] += p[letters[i]] / k
            bias[letters[i]] += p[letters[i]] / k
        scoring.append(how)
        prompts.append(prompt)
    return ChoiceResult(backend.spec.id, item.id, total, bias, options, scoring, prompts)


def choice_models(
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    items: tuple[ProbeItem, ...] | list[ProbeItem],
    transcript: Transcript,
    personas: list[Persona],
    *,
    axis: str = "archetype",
    system: str | None = None,
    steering: Mapping[str, Steering | None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    errors: dict[str, PsmlabError] | None = None,
) -> list[ChoiceResult]:
    """Every item on every model (`formats[id]` None: the model's default format); the models
    are loaded here and closed before returning. `errors` given: a model that fails is recorded
    there (its results dropped) and the others still run; else the first failure is raised."""
    return over_models(
        specs,
        formats,
        items,
        lambda b, f, it: run_choice(b, transcript, it, f, personas, axis=axis, system=system),
        steering=steering,
        progress=progress,
        errors=errors,
    )
