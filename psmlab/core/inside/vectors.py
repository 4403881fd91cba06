"""Persona vectors (mean difference of response-averaged activations, induced vs default) and the assistant axis."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from psmlab.core.backends.llama.vocab import Vocab
from psmlab.core.backends.stream import answer_token_count
from psmlab.core.domain.personas import Persona
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript, Turn
from psmlab.core.errors import UsageError
from psmlab.core.inside.capture import Capture
from psmlab.core.models.cvec import provenance, write_cvec
from psmlab.core.models.spec import ModelSpec

# Neutral questions: nothing in them asks for a persona. The first 16 build vectors, the last 12
# only test them (held out), and the two sets are never mixed.
QUESTIONS: tuple[str, ...] = (
    "What is a good way to start learning to cook?",
    "How do bees make honey?",
    "Can you describe what a typical morning looks like for you?",
    "What should I know before adopting a cat?",
    "Why is the sky blue?",
    "How would you explain what a computer is to a child?",
    "What makes a story interesting?",
    "What do you think about rainy days?",
    "How does a bicycle stay upright?",
    "What is a good gift for a friend who likes gardening?",
    "Why do leaves change colour in autumn?",
    "How should I plan a weekend trip?",
    "What is the difference between weather and climate?",
    "How do you make a cup of tea?",
    "What do you like about music?",
    "How can I get better at chess?",
    # held out from here
    "How do plants grow from seeds?",
    "What is the best way to remember something new?",
    "Tell me about yourself.",
    "What would you do with a free afternoon?",
    "Why do cats purr?",
    "How does a library organise its books?",
    "What should I cook for dinner tonight?",
    "How do airplanes fly?",
    "What is your favourite season, and why?",
    "How can I keep my houseplants alive?",
    "What makes a good teacher?",
    "How are rainbows formed?",
)
N_BUILD = 16
BUILD_QUESTIONS: tuple[str, ...] = QUESTIONS[:N_BUILD]
TEST_QUESTIONS: tuple[str, ...] = QUESTIONS[N_BUILD:]

Means = dict[int, np.ndarray]  # layer -> float64 vector (n_embd)


@dataclass(frozen=True)
class Induction:
    """The prompt that induces one archetype, and whether it was derived from name + description."""

    archetype: str
    prompt: str
    derived: bool

    def to_dict(self) -> dict[str, Any]:
        return {"archetype": self.archetype, "prompt": self.prompt, "derived": self.derived}


def inducing_prompt(persona: Persona) -> Induction:
    """The persona's `induce` text, else "You are <name>. <description> Stay in character."."""
    if persona.induce:
        return Induction(persona.id, persona.induce, derived=False)
    text = f"You are {persona.name}. {persona.description} Stay in character."
    return Induction(persona.id, text, derived=True)


class Responder:
    """One local model opened for capture: asks single questions in its format, greedily."""

    def __init__(
        self,
        spec: ModelSpec,
        layers: Sequence[int],
        *,
        fmt: str | None = None,
        n_threads: int = 1,
        n_ctx: int = 2048,
    ) -> None:
        if spec.is_remote:
            raise UsageError(
                f"{spec.id} is a server model: psmlab cannot read its activations",
                "use a local GGUF model",
            )
        self.spec = spec
        self.format = spec.get_format(fmt)
        if self.format.kind == "server":
            raise UsageError(f"format {self.format.name} hides the prompt", "pick another format")
        self.cap = Capture(spec.path, layers, n_threads=n_threads, n_ctx=n_ctx, min_layer=1)
        if not self.cap.layers:
            self.cap.close()
            raise UsageError(
                "no layer to build a vector at", f"pick layers in 1..{self.cap.n_layer - 1}"
            )
        self.vocab = Vocab(self.cap._vocab, self.cap)
        # Per answer made with no system prompt, each layer's mean residual norm over the
        # answer's rows: the scale a steering shift is stated against (`residual_norms`).
        self.default_norms: list[dict[int, float]] = []

    @property
    def layers(self) -> tuple[int, ...]:
        return self.cap.layers

    @property
    def n_embd(self) -> int:
        return self.cap.n_embd

    def close(self) -> None:
        self.vocab.invalidate()
        self.cap.close()

    def __enter__(self) -> Responder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def tokens(self, question: str, system: str | None) -> list[int]:
        """The exact prompt for [system?, user: question] in the model's format."""
        return list(self._render(question, system).tokens)

    def warnings(self, question: str, system: str | None) -> list[str]:
        """What the prompt holds that the caller did not write (a template's default system
        prompt, markers read as text): said and recorded, as `ask` does."""
        return list(self._render(question, system).warnings)

    def _render(self, question: str, system: str | None) -> RenderedPrompt:
        return render(
            Transcript((Turn("user", question),)),
            self.format,
            self.vocab,
            model_id=self.spec.id,
            model=self.spec,
            n_ctx=self.cap.n_ctx,
            system=system,
        )

    def response_means(
        self,
        questions: Sequence[str],
        system: str | None,
        max_tokens: int,
        on_answer: Callable[[], None] | None = None,
    ) -> list[Means]:
        """Per question, the response-averaged activation of each layer (greedy answer);
        `on_answer` is called after each (a build answers dozens: progress is shown)."""
        if max_tokens < 1:
            raise UsageError(f"max_tokens is {max_tokens}", "generate at least one token")
        out = []
        for q in questions:
            mean, norms = self._answer_mean(self._render(q, system), max_tokens)
            out.append(mean)
            if system is None:
                self.default_norms.append(norms)
            if on_answer is not None:
                on_answer()
        return out

    def _answer_mean(
        self, prompt: RenderedPrompt, max_tokens: int
    ) -> tuple[Means, dict[int, float]]:
        """The greedy answer's mean, over the tokens before the format's stop strings: the
        decode goes on past them (a base frame's model writes the next "\nUser:" line itself),
        and an answer in the lab or `ask` ends there, so those rows are not the answer's; and
        each layer's mean residual norm over the same rows."""
        trace = self.cap.generate(list(prompt.tokens), max_tokens)
        gen = trace.generated[:-1] if trace.finish == "eos" else trace.generated
        k = answer_token_count([self.vocab.piece_bytes(t) for t in gen], prompt.stop)
        span = trace.response_span(k)
        return trace.mean(*span), trace.row_norms(*span)

    def residual_norms(self) -> dict[int, float]:
        """Per layer, the median over the default answers so far of their mean residual norm
        (the model's own scale at that layer, as it answers with no system prompt)."""
        if not self.default_norms:
            return {}
        return {
            L: float(np.median([n[L] for n in self.default_norms])) for L in self.default_norms[0]
        }


def mean_of(items: Sequence[Means]) -> Means:
    """Per layer, the mean over items (each a layer -> vector dict with the same layers)."""
    if not items:
        raise UsageError("nothing to average: no questions", "pass at least one question")
    return {L: np.mean([m[L] for m in items], axis=0) for L in items[0]}


@dataclass
class Collected:
    """Response means on one question set: the default's and each archetype's (induced)."""

    layers: tuple[int, ...]
    questions: tuple[str, ...]
    default: list[Means]
    induced: dict[str, list[Means]]
    inductions: dict[str, Induction]

    def vectors(self) -> dict[str, Means]:
        """Per archetype, per layer: mean(induced) - mean(default) (the persona vector)."""
        base = mean_of(self.default)
        out = {}
        for aid, runs in self.induced.items():
            m = mean_of(runs)
            out[aid] = {L: m[L] - base[L] for L in self.layers}
        return out

    def means_default(self) -> Means:
        return mean_of(self.default)

    def means_by_archetype(self) -> dict[str, Means]:
        return {aid: mean_of(runs) for aid, runs in self.induced.items()}


def collect(
    responder: Responder,
    archetypes: Sequence[Persona],
    questions: Sequence[str],
    *,
    max_tokens: int = 32,
    on_answer: Callable[[], None] | None = None,
) -> Collected:
    """Answer every question once with no system prompt and once under each inducing prompt
    (`on_answer`: called after each answer)."""
    if not archetypes:
        raise UsageError("no archetypes given", "name at least one, e.g. hal-9000")
    if not questions:
        raise UsageError("no questions given", "pass at least one question")
    inductions = {p.id: inducing_prompt(p) for p in archetypes}
    default = responder.response_means(questions, None, max_tokens, on_answer)
    induced = {
        aid: responder.response_means(questions, ind.prompt, max_tokens, on_answer)
        for aid, ind in inductions.items()
    }
    return Collected(responder.layers, tuple(questions), default, induced, inductions)


def build_vectors(
    spec: ModelSpec,
    archetypes: list[Persona],
    *,
    layers: Sequence[int],
    questions_build: Sequence[str] = BUILD_QUESTIONS,
    max_tokens: int = 32,
    n_threads: int = 1,
) -> dict[str, Means]:
    """archetype id -> layer -> persona vector, built on `questions_build` (greedy, deterministic)."""
    with Responder(spec, layers, n_threads=n_threads) as r:
        return collect(r, archetypes, questions_build, max_tokens=max_tokens).vectors()


# --- the assistant axis -----------------------------------------------------------------------


def assistant_axis(means_default: Means, means_by_archetype: Mapping[str, Means]) -> Means:
    """Per layer: the default assistant's mean minus the mean over the archetypes' means."""
    if not means_by_archetype:
        raise UsageError("the assistant axis needs at least one archetype", "name some archetypes")
    return {
        L: means_default[L] - np.mean([m[L] for m in means_by_archetype.values()], axis=0)
        for L in means_default
    }


def pc1_cosine(
    axis: Means, means_default: Means, means_by_archetype: Mapping[str, Means]
) -> dict[int, float]:
    """Per layer, |cos| between the axis and the first principal component of the archetype means
    plus the default's (with one archetype the two points make PC1 the axis itself: |cos| = 1)."""
    out = {}
    for L, a in axis.items():
        pts = np.stack([means_default[L], *(m[L] for m in means_by_archetype.values())])
        centered = pts - pts.mean(axis=0)
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        out[L] = abs(_cos(a, vt[0]))
    return out


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b) / (na * nb) if na and nb else 0.0


# --- testing a vector on held-out questions ------------------------------------------------------


def projections(runs: Sequence[Means], vector: Means) -> dict[int, list[float]]:
    """Per layer, each run's response mean projected on the unit vector."""
    out: dict[int, list[float]] = {}
    for L, v in vector.items():
        n = float(np.linalg.norm(v))
        unit = v / n if n else v
        out[L] = [float(m[L] @ unit) for m in runs]
    return out


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney)."""
    if not pos or not neg:
        raise UsageError("AUROC needs scores of both kinds", "pass more questions")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return float(wins) / (len(pos) * len(neg))


@dataclass(frozen=True)
class Separation:
    """One layer of one vector on held-out questions."""

    layer: int
    norm: float
    induced: float  # mean projection of induced responses
    default: float  # mean projection of default responses
    auroc: float
    # The answers' spread on each side (sample sd; 0 with one answer): a reading is set against
    # the means and this spread (a trial could not tell whether -1.40 was unusual).
    induced_sd: float = 0.0
    default_sd: float = 0.0

    @property
    def gap(self) -> float:
        return self.induced - self.default


def separation(
    vector: Means, induced: Sequence[Means], default: Sequence[Means]
) -> list[Separation]:
    pi, pd = projections(induced, vector), projections(default, vector)
    return [
        Separation(
            L,
            float(np.linalg.norm(vector[L])),
            float(np.mean(pi[L])),
            float(np.mean(pd[L])),
            auroc(pi[L], pd[L]),
            _sd(pi[L]),
            _sd(pd[L]),
        )
        for L in sorted(vector)
    ]


def _sd(values: Sequence[float]) -> float:
    """The sample standard deviation (0 for fewer than two values)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def shuffled_auroc(
    induced: Sequence[Means],
    default: Sequence[Means],
    test_induced: Sequence[Means],
    test_default: Sequence[Means],
    *,
    n_perm: int = 200,
    seed: int = 0,
) -> dict[int, tuple[float, float]]:
    """The control for `separation`: per layer, the mean and standard deviation of the held-out
    AUROC of vectors built from the same build runs with the induced/default labels shuffled.
    A vector that carries the persona scores far above this; chance is about 0.5."""
    runs = [*induced, *default]
    k = len(induced)
    rng = np.random.default_rng(seed)
    layers = sorted(runs[0]) if runs else []
    scores: dict[int, list[float]] = {L: [] for L in layers}
    for _ in range(n_perm):
        order = rng.permutation(len(runs))
        a = mean_of([runs[i] for i in order[:k]])
        b = mean_of([runs[i] for i in order[k:]])
        fake = {L: a[L] - b[L] for L in layers}
        pi, pd = projections(test_induced, fake), projections(test_default, fake)
        for L in layers:
            scores[L].append(auroc(pi[L], pd[L]))
    return {L: (float(np.mean(v)), float(np.std(v))) for L, v in scores.items()}


# --- saving ------------------------------------------------------------------------------------


def save_vectors(
    path: str | Path,
    vectors: Mapping[int, np.ndarray],
    model_sha256: str,
    layers: Sequence[int],
    n: int,
    prompts: Any,
    *,
    model_hint: str = "",
    **extra: Any,
) -> Path:
    """One control-vector GGUF (llama.cpp's layout) with psmlab's provenance (`extra` too)."""
    # Which rows an answer's mean is over: vectors built before the stop strings were honoured
    # averaged a base frame's next "\nUser:" line in (this key tells them apart).
    extra.setdefault("answer_rows", "greedy answer tokens before the format's stop strings, no EOS")
    meta = provenance(model_sha256=model_sha256, layers=layers, n=n, prompts=prompts, **extra)
    return write_cvec(path, {L: vectors[L] for L in layers}, model_hint=model_hint, metadata=meta)
