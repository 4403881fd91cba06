"""The opening design of forced choice: start the answer "I'm", and read what the model says it is.

Fixed answers ("I'm an AI language model." against "I'm a nurse…") score how likely a few strings
are; a model's own answers spread a class over many wordings (one AI phrasing, a thousand human
characters), so a handful of strings measures the likeliest wording, not the class. This design
forces only a neutral opening of a self-description ("I'm", "I am") and walks the model's own
continuations of it: best first, the k likeliest next tokens at each step, each path's text read by
the lab's self-identification labeller (the one that labels samples) until it makes a claim (ai,
human or mixed; a path's last word is read only once the next token shows it ended), ends, or
reaches `DEPTH` tokens. A class's mass is the probability of the paths
that claim it; the classes are compared among the claims, as samples are. Deterministic (no
sampling), over the untruncated T=1 distribution, *given the opening*. A weak claim (a bare
name) waits for the rest of the path, as the labeller lets stronger words decide; a path the
budget leaves is read as far as it was walked, as a sample that stops there would be. Mass that ends
without a claim is `none`, mass still undecided after `DEPTH` tokens `cut`, and mass not followed
(below `FLOOR`, past the k likeliest, or past `BUDGET` expansions) `unread`: never guessed. Because the labeller also labels the samples, its mistakes are shared by the two
instruments: agreement with samples says the walk finds what sampling finds, not that either is
right (the labeller's agreement with people is measured separately).
"""

from __future__ import annotations

import heapq
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from psmlab.core.backends import Backend
from psmlab.core.domain.formats import Format
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.selfid import self_identify
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import ModelError, PsmlabError, ScoringCancelled, UsageError
from psmlab.core.measure.per_model import over_models
from psmlab.core.measure.probes import ProbeItem, probe_prompt
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

OPENINGS = ("I'm", "I am")  # each weighs the same; neither names a class
DEPTH = 5  # tokens after the opening: "a nurse,", "a helpful AI assistant", "Alex, a teacher"
TOP = 40  # next tokens read per step
FLOOR = 1e-4  # a path less likely than this (given the opening) is not followed
BUDGET = 150  # expansions per opening
CLAIMS = ("ai", "human", "mixed")
# none: the answer (or its first line) ended without a claim; cut: DEPTH tokens and no claim yet;
# unread: not followed at all.
MASSES = (*CLAIMS, "none", "cut", "unread")
# The last word of a path, which the next token may continue ("human-" -> "human-like").
_PARTIAL = re.compile(r"[\w'\u2019-]+$")


@runtime_checkable
class Walkable(Protocol):
    """A backend that gives next-token distributions after a prompt and a forced opening."""

    def next_logprobs(
        self,
        prompt: RenderedPrompt,
        opening: str,
        path: Sequence[int],
        k: int,
        *,
        steering: Steering | None = None,
    ) -> list[tuple[int, str, float, bool]]: ...


# (text, question) -> (ai | human | mixed | none, whether more text could not change it)
Classify = Callable[[str, str], tuple[str, bool]]


def _labeller_class(text: str, question: str) -> tuple[str, bool]:
    said = self_identify(text, question)
    return said.label, said.decided


@dataclass
class OpeningResult:
    model: str
    item: str
    question: str
    masses: dict[str, float]  # class -> mean over openings of P(paths claiming it | opening)
    per_opening: dict[str, dict[str, float]]
    expansions: int
    claims_seen: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    prompt: RenderedPrompt | None = field(default=None, repr=False, compare=False)

    @property
    def probs(self) -> dict[str, float]:
        """P(ai | an ai or human claim) and P(human | …); empty when neither was claimed (no
        share to compare, rather than an even split that reads as a measurement)."""
        ai, human = self.masses["ai"], self.masses["human"]
        if ai + human <= 0.0:
            return {}
        return {"ai": ai / (ai + human), "human": human / (ai + human)}

    @property
    def top(self) -> str:
        p = self.probs
        if not p:
            return "no claims"
        return "ai" if p["ai"] > p["human"] else "human" if p["human"] > p["ai"] else "tie"

    @property
    def measures(self) -> str:
        return (
            f"opening design: P(class | an ai or human claim) over the model's own continuations of "
            f"{' / '.join(repr(o) for o in OPENINGS)}, walked best first (depth {DEPTH}, top "
            f"{TOP}), read by the marker rules, under the untruncated T=1 distribution"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "item": self.item,
            "mode": "opening",
            "measures": self.measures,
            "labeller": "markers",  # the walk's reader, whoever labels an experiment's samples
            "rules": rules_fingerprint(),
            "probs": self.probs,
            "masses": self.masses,
            "per_opening": self.per_opening,
            "openings": list(OPENINGS),
            "walk": {"depth": DEPTH, "top": TOP, "floor": FLOOR, "budget": BUDGET},
            "expansions": self.expansions,
            # The likeliest claiming paths per class: what a person checks the labeller on.
            "claims_seen": {k: [[t, p] for t, p in v] for k, v in self.claims_seen.items()},
        }


def settings() -> dict[str, Any]:
    """What decides the design's numbers (an experiment re-scores its units when they change)."""
    # The version stands for how paths are read (v2: a bare name waits for the rest, undecided
    # paths are `cut`; v3: a path the budget stops is read as far as it was walked; v4: a claim
    # waits while the word being written reads otherwise): a change there re-scores walks as a
    # changed constant does.
    return {
        "version": 4,
        # The rules read every path: walks read by other rules are walked again.
        "rules": rules_fingerprint(),
        "openings": OPENINGS,
        "depth": DEPTH,
        "top": TOP,
        "floor": FLOOR,
        "budget": BUDGET,
    }


def walk(
    backend: Walkable,
    prompt: RenderedPrompt,
    question: str,
    opening: str,
    *,
    classify: Classify = _labeller_class,
    steering: Steering | None = None,
    cancel: threading.Event | None = None,
) -> tuple[dict[str, float], int, list[tuple[str, str, float]]]:
    """Masses of one opening's continuations by class, expansions used, and the claiming paths
    (class, text, probability). `cancel` set stops the walk between expansions (the lab's new
    run must not wait for a whole walk)."""
    masses = dict.fromkeys(MASSES, 0.0)
    claims: list[tuple[str, str, float]] = []
    # Best first: the likeliest unread path is expanded next, so the budget goes where the mass is.
    heap: list[tuple[float, int, tuple[int, ...], str]] = [(-1.0, 0, (), opening)]
    expansions, order = 0, 1
    while heap:
        neg, _, path, text = heapq.heappop(heap)
        p = -neg
        if expansions >= BUDGET:
            # Not followed further: read as far as it was walked, as the labeller reads a sample
            # that stops there (a bare name is then a human claim); else it is unread.
            label, _ = classify(_PARTIAL.sub("", text), question)
            if label in CLAIMS:
                masses[label] += p
                claims.append((label, text, p))
            else:
                masses["unread"] += p
            continue
        if cancel is not None and cancel.is_set():
            raise ScoringCancelled("the opening walk was cancelled")
        expansions += 1
        followed = 0.0
        for tok, piece, lp, ends in backend.next_logprobs(
            prompt, opening, path, TOP, steering=steering
        ):
            q = p * math.exp(lp)
            if q < FLOOR:
                break  # sorted: the rest are smaller still
            followed += q
            ended = ends or "\n" in piece
            longer = text if ends else text + piece  # an end-of-turn token is not text
            last = ended or len(path) + 1 >= DEPTH
            # A word may go on in the next token ("I am H" -> "Hugging Face"): until the path
            # ends, only its finished words are read.
            read = longer if last else _PARTIAL.sub("", longer)
            label, decided = classify(read, question)
            if decided and label in CLAIMS and read != longer:
                # The word in the making may unmake the claim ("I am a computer" + " science",
                # which a trial saw listed as an AI claim): wait while it reads otherwise.
                decided = classify(longer, question)[0] == label
            # A weak claim (a bare name: "I'm Alex,") waits for the rest ("an AI assistant").
            if label in CLAIMS and (decided or last):
                masses[label] += q
                claims.append((label, longer, q))
            elif last:
                masses["none" if ended else "cut"] += q
            else:
                heapq.heappush(heap, (-q, order, (*path, tok), longer))
                order += 1
        masses["unread"] += max(p - followed, 0.0)
    return masses, expansions, claims


def run_opening(
    backend: Backend,
    transcript: Transcript,
    item: ProbeItem,
    fmt: Format,
    *,
    system: str | None = None,
    classify: Classify = _labeller_class,
    cancel: threading.Event | None = None,
) -> OpeningResult:
    """Walk every opening after the item's question and average the class masses."""
    steering = getattr(backend, "steering", None)
    inner = getattr(backend, "inner", backend)  # a steered view walks its model, steered
    if not isinstance(inner, Walkable):
        raise ModelError(
            f"the opening design needs a local GGUF model: {backend.spec.id} gives no "
            "next-token distributions to walk",
            "walk a local .gguf of the model (experiments plan no walk for server models)",
        )
    if item.prefill:  # the opening is where the answer starts
        raise UsageError(
            f"item '{item.id}' starts its answer with a prefill, and the opening design starts "
            "it itself",
            "walk items without a prefill",
        )
    prompt = probe_prompt(backend, transcript, item, fmt, system=system)
    per: dict[str, dict[str, float]] = {}
    seen: dict[str, list[tuple[str, float]]] = {}
    used = 0
    for o in OPENINGS:
        lead = o if prompt.text.endswith((" ", "\n")) else " " + o
        m, n, claims = walk(
            inner, prompt, item.question, lead, classify=classify, steering=steering, cancel=cancel
        )
        per[o], used = m, used + n
        for label, text, q in claims:
            seen.setdefault(label, []).append((text.strip(), q / len(OPENINGS)))
    masses = {k: sum(per[o][k] for o in OPENINGS) / len(OPENINGS) for k in MASSES}
    top = {k: sorted(v, key=lambda tp: -tp[1])[:5] for k, v in seen.items()}
    return OpeningResult(backend.spec.id, item.id, item.question, masses, per, used, top, prompt)


def opening_models(
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    items: tuple[ProbeItem, ...] | list[ProbeItem],
    transcript: Transcript,
    *,
    system: str | None = None,
    steering: Mapping[str, Steering | None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    errors: dict[str, PsmlabError] | None = None,
) -> list[OpeningResult]:
    """Every item on every model (`formats[id]` None: the model's default format); the models
    are loaded here and closed before returning. `errors` given: a model that fails is recorded
    there (its results dropped) and the others still run; else the first failure is raised."""
    return over_models(
        specs,
        formats,
        items,
        lambda b, f, it: run_opening(b, transcript, it, f, system=system),
        steering=steering,
        progress=progress,
        errors=errors,
    )
