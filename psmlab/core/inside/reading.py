"""Re-reading one recorded answer under capture: the prompt it saw plus its tokens, projected
per layer and per token on a vector's unit directions (under its steering, if it had any)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from psmlab.core.backends.llama import steer
from psmlab.core.backends.llama.vocab import Vocab
from psmlab.core.backends.stream import answer_token_count
from psmlab.core.domain.prompt import render
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import PsmlabError
from psmlab.core.inside.capture import Capture
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering
from psmlab.core.session.schema import GenerationRecord, Session, tokens_sha256


def _reserve(g: GenerationRecord) -> int:
    """The tokens replay reserves when rendering: the recorded max_tokens, as the original
    run kept room for them (a cancelled answer's too: its prompt was trimmed for them)."""
    return int(g.params.get("max_tokens") or SamplingParams().max_tokens)


class Model:
    """One local model opened for capture on the vector's layers."""

    def __init__(self, spec: ModelSpec, layers: list[int], n_threads: int) -> None:
        self.spec = spec
        self.cap = Capture(spec.path, layers, n_ctx=spec.n_ctx, n_threads=n_threads)
        self.vocab = Vocab(self.cap._vocab, self.cap)
        self.n_ctx = min(spec.n_ctx, self.cap.n_ctx)

    def close(self) -> None:
        self.vocab.invalidate()
        self.cap.close()


def _file_of(rec: object) -> str:
    """The file a steering record names (a hand-edited record may hold anything)."""
    return str(rec.get("file")) if isinstance(rec, dict) else repr(rec)


class Skip(Exception):
    """Why an answer has no projection (said in its row, not raised to the caller), and what
    to do when it is not the vector's fault (`fix`)."""

    def __init__(self, why: str, fix: str | None = None) -> None:
        super().__init__(why)
        self.fix = fix


@dataclass
class Reading:
    """One answer read on the vector: per layer its mean and per-token projections, and per
    steered layer the part of each value that is the added vector itself."""

    projection: dict[int, float]
    per_token: dict[int, list[float]]
    added: dict[int, float]
    n_tokens: int  # the answer's tokens read (a stop string's are not the answer's)


def project(
    model: Model, session: Session, g: GenerationRecord, units: dict[int, np.ndarray]
) -> Reading:
    """The answer's projections (see `Reading`); `Skip` says why there are none.

    The answer is re-read under the control vector it was generated with (if any): the trace of
    a steered conversation is the steered model's, not the plain one's."""
    if not g.tokens:
        raise Skip("no generated token ids recorded")
    fmt = model.spec.get_format(g.format)
    if fmt.kind == "server":
        raise Skip(f"format {fmt.name} hides the prompt")
    history = session.history_of(g)
    # As replay does: a partial assistant turn in the history is itself the prefill.
    prefill = None if history.turns and history.turns[-1].role == "assistant" else g.prefill
    prompt = render(
        history,
        fmt,
        model.vocab,
        model_id=model.spec.id,
        model=model.spec,
        n_ctx=model.n_ctx,
        system=g.system,
        prefill=prefill,
        reserve=_reserve(g),
    )
    toks = list(prompt.tokens)
    if g.prompt_sha256 and tokens_sha256(toks) != g.prompt_sha256:
        raise Skip("the re-rendered prompt differs from the recorded one (prompt_sha256)")
    if len(toks) + len(g.tokens) > model.cap.n_ctx:
        raise Skip(f"{len(toks) + len(g.tokens)} tokens exceed n_ctx={model.cap.n_ctx}")
    rec = g.params.get("steer")
    added: dict[int, float] = {}
    if rec:
        try:
            dirs = Steering.from_record(rec).directions()
            steer.apply(model.cap, dirs)
        except PsmlabError as exc:
            raise Skip(
                f"cannot re-apply its steering: {exc.problem}",
                f"restore the steering vector recorded at {_file_of(rec)}: the answers were "
                "made with it",
            ) from exc
        # Part of every value read at a steered layer: said beside it, so a steered answer's
        # +50 is not read as the model's own shift when +42 of it is the vector.
        added = {
            L: float(np.asarray(dirs[L], dtype=np.float64) @ u)
            for L, u in units.items()
            if L in dirs
        }
    try:
        trace = model.cap.trace_prompt(toks + list(g.tokens))
    finally:
        if rec:
            steer.clear(model.cap)
    n, k = len(toks), answer_tokens(model, g)
    # The answer's rows (trace_prompt sees one prompt): a base frame's recorded tokens go on
    # into the next speaker's "\nUser:", whose rows sat far out and moved the mean (a trial:
    # +157 with them, +82 without).
    means = trace.mean(n, n + k)
    per_token = {
        L: [float(x) for x in trace.acts[L][n : n + k].astype(np.float64) @ u]
        for L, u in units.items()
    }
    proj = {L: float(means[L] @ u) for L, u in units.items()}
    if not all(math.isfinite(x) for v in (proj.values(), *per_token.values()) for x in v):
        # Overflowed activations: a NaN stored is a session file that is not JSON and a
        # crashed sparkline; said instead, like any other answer that cannot be read.
        raise Skip("its activations are not finite numbers (NaN or inf): nothing to project")
    return Reading(proj, per_token, added, k)


def answer_tokens(model: Model, g: GenerationRecord) -> int:
    """How many of `g`'s recorded tokens are its answer: those before the stop string it ended
    at (all of them for any other end); `Skip` when none are."""
    if g.finish_reason != "stop_string" or not g.stop_string:
        return len(g.tokens)
    k = g.stream_split(len(g.tokens))
    if k is None:  # an older record: where the stop string starts in the tokens' decoded bytes
        k = answer_token_count([model.vocab.piece_bytes(t) for t in g.tokens], [g.stop_string])
    if k == 0:
        raise Skip(f"no answer to read: it began with the stop string {g.stop_string!r}")
    return k
