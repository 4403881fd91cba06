"""The backend contract (`Backend`) and its one factory (`open_backend`): in-process or on a server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from psmlab.core.domain.types import Generation, OnToken, SamplingParams, Score, Tokenizer

if TYPE_CHECKING:
    from psmlab.core.backends.remote.slots import EndpointSlots
    from psmlab.core.domain.prompt import RenderedPrompt
    from psmlab.core.models.spec import ModelSpec
    from psmlab.core.models.steering import Steering


class Backend(Protocol):
    """A loaded model. Implementations are thread-safe: columns and scorers share one.

    Everything that holds a model (runner, lab, replay, probes, evals, experiments) types it as
    `Backend`; `pool.ModelPool` keeps loaded ones for reuse."""

    # Read-only to holders, so an implementation may narrow them (llama.cpp's `Vocab`).
    @property
    def spec(self) -> ModelSpec: ...

    @property
    def vocab(self) -> Tokenizer:
        """What rendering needs (a server model without a local GGUF has a text-only stand-in)."""
        ...

    @property
    def n_ctx(self) -> int:
        """The context the model runs with (a prompt plus its answer must fit)."""
        ...

    @property
    def load_s(self) -> float:
        """Seconds the load took."""
        ...

    def generate(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seed: int,
        *,
        sample: int = 0,
        cancel: threading.Event | None = None,
        on_token: OnToken | None = None,
        n_threads: int | None = None,
        logprobs: int = 0,
        steering: Steering | None = None,
    ) -> Generation:
        """Sample one continuation, streaming text through `on_token`; a cancel returns what
        streamed so far with finish reason `cancelled`. Steering is for local models only."""
        ...

    def generate_many(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seeds: Sequence[int],
        *,
        cancel: threading.Event | None = None,
        on_token: OnToken | None = None,
        on_done: Callable[[Generation], None] | None = None,
        n_threads: int | None = None,
        logprobs: int = 0,
        steering: Steering | None = None,
        group: int | None = None,
    ) -> list[Generation]:
        """One sample per seed (sample i has seeds[i]), each handed to `on_done` as it is
        finished; a cancel ends the running samples and starts no more. Samples may be decoded
        together (`group` at most at once); how is recorded in their params."""
        ...

    def score(
        self,
        prompt: RenderedPrompt,
        continuations: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        steering: Steering | None = None,
    ) -> list[Score]:
        """log P(continuation | prompt) for each continuation."""
        ...

    def provenance(self) -> dict[str, Any]:
        """What identifies the weights and the software (sha256 or endpoint, versions)."""
        ...

    def reset_cache(self) -> None:
        """Forget any cached prompt state (results never depend on it)."""
        ...

    def close(self) -> None: ...


def open_backend(spec: ModelSpec, *, slots: EndpointSlots | None = None) -> Backend:
    """Load the model a spec names: a GGUF in-process, or a model on an OpenAI-compatible server
    (whose requests take a slot of its URL in `slots`, by default the process-wide ones)."""
    # Imported here so `import psmlab.core` stays light (llama.cpp loads only when a model does).
    # Returning them as `Backend` is what makes mypy check both against the protocol.
    if spec.is_remote:
        from psmlab.core.backends.remote.backend import RemoteBackend

        return RemoteBackend(spec, slots=slots)
    from psmlab.core.backends.llama.backend import LlamaBackend

    return LlamaBackend(spec)


def open_vocab(spec: ModelSpec) -> tuple[Tokenizer, Callable[[], None]]:
    """Just a model's vocabulary, without its weights (fast: for rendering prompts and counting
    tokens), and the function that frees it."""
    if spec.is_remote:
        from psmlab.core.backends.remote.vocab import vocab_for

        tok, owner = vocab_for(spec)
        return tok, (owner.close if owner is not None else _nothing)
    from psmlab.core.backends.llama.vocab import VocabOnly

    only = VocabOnly(spec)
    return only.vocab, only.close


def quiet_native_logs() -> None:
    """Route llama.cpp's log to Python logging before any model loads: a terminal program's
    screen must never receive llama.cpp's own output (idempotent)."""
    from psmlab.core.backends.llama import quiet

    quiet.install()


def _nothing() -> None:
    """Nothing to free."""


def generate_each(
    backend: Backend,
    prompt: RenderedPrompt,
    params: SamplingParams,
    seeds: Sequence[int],
    *,
    cancel: threading.Event | None = None,
    on_token: OnToken | None = None,
    on_done: Callable[[Generation], None] | None = None,
    **kwargs: Any,
) -> list[Generation]:
    """`generate_many` one sample after another, for backends that cannot decode them together."""
    out: list[Generation] = []
    for i, seed in enumerate(seeds):
        if cancel is not None and cancel.is_set():
            break
        g = backend.generate(
            prompt, params, seed, sample=i, cancel=cancel, on_token=on_token, **kwargs
        )
        if on_done is not None:
            on_done(g)
        out.append(g)
    return out
