"""In-process llama.cpp backend: one lock per model, quiet logging, canonical prefix reuse, scoring."""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import llama_cpp

import psmlab
from psmlab.core.backends.llama import group as group_run
from psmlab.core.backends.llama import parallel, quiet, scoring, steer
from psmlab.core.backends.llama.prefix import CanonicalPrefix, PrefillCancelled
from psmlab.core.backends.llama.vocab import Vocab, load_error
from psmlab.core.backends.stream import (
    Piece,
    SourceReport,
    generation_from,
    params_record,
)
from psmlab.core.domain.code_version import code_fingerprint
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.types import Generation, OnToken, SamplingParams, Score, TokenLogprob
from psmlab.core.errors import ModelError, ScoringCancelled
from psmlab.core.models.gguf import read_gguf
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

N_BATCH = 512


class LlamaBackend:
    """A loaded GGUF model. Thread-safe: every call that touches the context holds `lock`.

    Prompt evaluation always takes the same path (the prompt minus its last token in n_batch
    chunks aligned to position 0, then the last token alone), so a seeded generation gives the
    same tokens whether or not the KV cache already held part of the prompt. That is what makes
    replay exact."""

    def __init__(self, spec: ModelSpec, *, n_batch: int = N_BATCH) -> None:
        quiet.install()
        try:
            read_gguf(spec.path, weights=True)
        except ModelError as exc:  # said as a load failure: the other columns go on
            raise ModelError(f"could not load {spec.id}: {exc.problem}", exc.fix) from None
        self.spec = spec
        self.lock = threading.Lock()
        self._closed = False
        t0 = time.perf_counter()
        with quiet.capture_errors():
            try:
                self.llm = llama_cpp.Llama(
                    model_path=spec.path,
                    n_ctx=spec.n_ctx,
                    n_batch=min(n_batch, spec.n_ctx),
                    n_ubatch=min(n_batch, spec.n_ctx),
                    n_threads=spec.n_threads,
                    n_threads_batch=spec.n_threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise load_error(spec, exc) from None
        self.load_s = time.perf_counter() - t0
        self.vocab = Vocab(self.llm._model.vocab, self)
        self.n_batch = self.llm.n_batch
        # llama.cpp may round the context up (to 256); llama-cpp-python's buffers keep the asked size.
        self.n_ctx = min(self.llm.n_ctx(), spec.n_ctx)
        self.n_threads = spec.n_threads
        self._prefix = CanonicalPrefix(self.n_batch)  # what the KV cache holds
        self._sha: str | None = None
        self._steer_key: tuple[str, tuple[int, ...], float] | None = None  # the vector applied now
        self._par: parallel.ParallelContext | None = None  # made on the first parallel sampling

    # --- provenance -------------------------------------------------------------------------

    def provenance(self) -> dict[str, Any]:
        if self._sha is None:
            self._sha = self.spec.sha256()
        return {
            "model_id": self.spec.id,
            "model_path": self.spec.path,
            "model_sha256": self._sha,
            "model_size": self.spec.size,
            "kind": self.spec.kind,
            "backend": "llama_cpp",
            "llama_cpp_python": llama_cpp.__version__,
            "psmlab": psmlab.__version__,
            "psmlab_code": code_fingerprint(),
        }

    def close(self) -> None:
        with self.lock:
            if self._closed:
                return
            self._closed = True
            self.vocab.invalidate()
            if self._par is not None:
                self._par.close()
                self._par = None
            self.llm.close()

    @contextmanager
    def using(self) -> Iterator[None]:
        """The model, held for one call; a closed model is an error, not a freed context (llama.cpp
        crashes the process on one: a worker still running when a stopped run closes its pool)."""
        with self.lock:
            if self._closed:
                raise ModelError(
                    f"{self.spec.id} was closed while a unit still ran", "run the command again"
                )
            yield

    # --- the KV cache -----------------------------------------------------------------------

    def _prepare(self, tokens: Sequence[int], cancel: threading.Event | None = None) -> int:
        """Leave exactly tokens[:-1] in the KV cache, evaluated canonically; return tokens evaluated."""
        llm = self.llm

        def drop_from(keep: int) -> None:
            llm.n_tokens = keep
            llm._ctx.kv_cache_seq_rm(-1, keep, -1)

        def evaluate(pos: int, chunk: Sequence[int]) -> None:
            llm.eval(list(chunk))  # appends at llm.n_tokens, which is `pos`

        return self._prefix.fill(tokens, drop_from=drop_from, evaluate=evaluate, cancel=cancel) + 1

    def reset_cache(self) -> None:
        """Forget the KV cache (benchmarks start cold; results never depend on it)."""
        with self.using():
            self.llm.n_tokens = 0
            self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            self._prefix.forget()
            if self._par is not None:
                self._par.prepare([0], None)  # empties every sequence
                self._par.prefix.forget()

    def _use_steering(self, steering: Steering | None) -> None:
        """Apply `steering` (None: none) before a call. The KV cache was computed under the old
        vector, so a change forgets it: two columns on one model that steer differently share
        the weights and pay a full prompt evaluation at each switch, never a wrong cache."""
        key = steering.key if steering is not None else None
        if key == self._steer_key:
            return
        steer.apply(self.llm, steering.directions() if steering is not None else None)
        self._steer_key = key
        self.llm.n_tokens = 0
        self.llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        self._prefix.forget()

    def _set_threads(self, n_threads: int | None) -> int:
        n = n_threads or self.spec.n_threads
        if n != self.n_threads:
            llama_cpp.llama_set_n_threads(self.llm._ctx.ctx, n, n)
            self.n_threads = n
        return n

    # --- generation -------------------------------------------------------------------------

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
        """Sample one continuation, streaming text through `on_token`; never raises on cancel.

        With `logprobs=k`, every token's log-probability and the k most likely alternatives are
        recorded, read from the logits llama.cpp computed for sampling (no `logits_all`). With
        `steering`, its control vector is added while the prompt is read and the answer sampled,
        and recorded in the params."""
        if not prompt.tokens:
            raise ModelError("the rendered prompt is empty", "add a message to the transcript")
        extra = {"steer": steering.record()} if steering is not None else {}
        with self.using():
            self._use_steering(steering)
            threads = self._set_threads(n_threads)
            report = SourceReport()
            t0 = time.perf_counter()
            try:
                report.evaluated = self._prepare(prompt.tokens, cancel)
            except PrefillCancelled:
                # Nothing sampled, and no timings: an empty stream that ends cancelled.
                report.finish = "cancelled"
                pieces: Iterator[Piece] = iter(())
            else:
                pieces = self._pieces(prompt, params, seed, logprobs, report)
            return generation_from(
                pieces,
                report,
                origin=self,
                prompt=prompt,
                seed=seed,
                sample=sample,
                params=params_record(
                    params, seed, self.n_ctx, n_threads=threads, n_batch=self.n_batch, **extra
                ),
                t0=t0,
                cancel=cancel,
                on_token=on_token,
                limit=min(params.max_tokens, self.n_ctx - len(prompt.tokens)),
            )

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
        """Sample one continuation per seed (sample i has seeds[i]), decoded together as parallel
        sequences of one context: the prompt is evaluated once and each step decodes one token of
        every live sample in one batch. As many samples as fit n_ctx (at most `group`, default
        parallel.MAX_SEQ) form a group; each records its group's seeds, which replay needs
        because logits depend on the batch. One sample, or a group of one, takes `generate`.
        A cancel ends every sample of the running group and starts no further group."""
        if not prompt.tokens:
            raise ModelError("the rendered prompt is empty", "add a message to the transcript")
        limit = min(params.max_tokens, self.n_ctx - len(prompt.tokens))
        size = parallel.group_size(len(seeds), len(prompt.tokens), limit, self.n_ctx)
        size = min(size, group or parallel.MAX_SEQ)
        out: list[Generation] = []
        for idx in parallel.groups(seeds, size):
            if cancel is not None and cancel.is_set():
                break
            if len(idx) == 1:
                i = idx[0]
                g = self.generate(
                    prompt,
                    params,
                    seeds[i],
                    sample=i,
                    cancel=cancel,
                    on_token=on_token,
                    n_threads=n_threads,
                    logprobs=logprobs,
                    steering=steering,
                )
                gens = [g]
            else:
                gens = group_run.generate_group(
                    self,
                    prompt,
                    params,
                    seeds,
                    idx,
                    cancel,
                    on_token,
                    n_threads,
                    logprobs,
                    steering,
                )
            for g in gens:
                if on_done is not None:
                    on_done(g)
            out.extend(gens)
        return out

    def _pieces(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seed: int,
        logprobs: int,
        report: SourceReport,
    ) -> Iterator[Piece]:
        """Sample from the prepared cache: one piece per token, its bytes decoded incrementally
        (a character split over tokens arrives with its last token); EOG ends it as `eos`."""
        llm = self.llm
        llm.set_seed(seed)
        gen = llm.generate(
            list(prompt.tokens),
            top_k=params.top_k,
            top_p=params.top_p,
            min_p=params.min_p,
            temp=params.temperature,
            repeat_penalty=params.repeat_penalty,
            reset=True,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        report.tail = lambda: decoder.decode(b"", final=True)
        return self._decode(gen, decoder.decode, logprobs, report)

    def _decode(
        self,
        gen: Generator[int, Any, None],
        decode: Callable[[bytes], str],
        logprobs: int,
        report: SourceReport,
    ) -> Iterator[Piece]:
        piece_bytes, is_eog = self.vocab.piece_bytes, self.vocab.is_eog
        try:
            for tok in gen:
                if is_eog(tok):
                    report.finish = "eos"
                    return
                if logprobs:
                    yield Piece(
                        decode(piece_bytes(tok)), tok, (self._token_logprob(tok, logprobs),)
                    )
                else:
                    yield Piece(decode(piece_bytes(tok)), tok)
        finally:
            gen.close()

    def _token_logprob(self, tok: int, k: int, i: int = -1, ctx: Any = None) -> TokenLogprob:
        return scoring.token_logprob(ctx or self.llm._ctx.ctx, self.vocab, tok, k, i)

    # --- scoring ----------------------------------------------------------------------------

    def score(
        self,
        prompt: RenderedPrompt,
        continuations: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        steering: Steering | None = None,
    ) -> list[Score]:
        """log P(continuation | prompt) for each continuation; the prompt is evaluated once."""
        out = []
        with self.using():
            self._use_steering(steering)
            for c in continuations:
                if cancel is not None and cancel.is_set():
                    raise ScoringCancelled("scoring was cancelled")
                out.append(self._score_one(prompt, c))
        return out

    def _score_one(self, prompt: RenderedPrompt, continuation: str) -> Score:
        ctx, cont, tail, spaces = self._split_continuation(prompt, continuation)
        if not cont and not tail:
            return Score(continuation, 0.0, 0, ())
        scoring.check_fits(ctx, len(cont), len(tail), self.n_ctx)
        self._prepare(ctx)
        lps = self._logprobs(ctx, cont)
        base = self._logprobs(ctx, tail) if tail and not spaces else []
        return scoring.make_score(self.vocab, continuation, lps, tail, base, spaces)

    def next_logprobs(
        self,
        prompt: RenderedPrompt,
        opening: str,
        path: Sequence[int],
        k: int,
        *,
        steering: Steering | None = None,
    ) -> list[tuple[int, str, float, bool]]:
        """The k likeliest next tokens after prompt + opening + `path` (tokens the model wrote
        after the opening): (token, its text, log-probability, whether it ends the turn). The
        prompt and opening stay cached, so walking many paths evaluates only their tokens."""
        with self.using():
            self._use_steering(steering)
            ctx, cont, tail, _ = self._split_continuation(prompt, opening)
            if tail:  # the opening merged with the prompt's last token: no clean place to walk from
                raise ModelError(
                    f"the opening {opening!r} merges with the end of {prompt.format}'s prompt",
                    "use another format (-f, or formats in an experiment)",
                )
            root = ctx + cont
            if len(root) + len(path) + 1 > self.n_ctx or len(path) + 1 > self.n_batch:
                raise ModelError(
                    f"prompt plus walked answer is {len(root) + len(path)} tokens, over "
                    f"n_ctx={self.n_ctx} (or a path over n_batch={self.n_batch})",
                    "raise n_ctx or shorten the prompt",
                )
            self._prepare(root)
            return scoring.next_top(self.llm, self.vocab, root, list(path), k)

    def _logprobs(self, ctx: list[int], cont: list[int]) -> list[float]:
        return scoring.continuation_logprobs(self.llm, self.vocab.n_vocab, self.n_batch, ctx, cont)

    def _split_continuation(
        self, prompt: RenderedPrompt, continuation: str
    ) -> tuple[list[int], list[int], list[int], str]:
        return scoring.split_continuation(self.vocab, prompt, continuation)
