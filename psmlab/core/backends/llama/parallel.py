"""N samples of one prompt decoded together: one llama.cpp context, one sequence per sample.

The prompt is evaluated once (in sequence 0, the canonical way) and shared with the other
sequences; then every step decodes one token per live sequence in one batch, and each sequence
samples from its own row with its own sampler chain and seed. Logits depend on the batch's
composition, so a sample's tokens depend on which seeds were decoded with it: the group is
recorded (`params["parallel"]`) and replay decodes the same group again.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp

from psmlab.core.backends.llama import quiet, steer
from psmlab.core.backends.llama.prefix import CanonicalPrefix
from psmlab.core.backends.stream import Piece, StreamBuilder
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import ModelError

MAX_SEQ = 16  # sequences one context holds; 16 gave the same ~1.9x as 8 on the demo models


def group_size(n: int, n_prompt: int, max_tokens: int, n_ctx: int) -> int:
    """How many samples fit one batch: every sequence needs its own cells for its last prompt
    token and its answer, beside the shared prompt (one unified KV cache of n_ctx cells)."""
    free = n_ctx - max(0, n_prompt - 1)
    return max(1, min(n, MAX_SEQ, free // (max_tokens + 1)))


def groups(seeds: Sequence[int], size: int) -> list[list[int]]:
    """Sample indices in consecutive groups of at most `size`."""
    idx = list(range(len(seeds)))
    return [idx[i : i + size] for i in range(0, len(idx), size)]


@dataclass
class Lane:
    """One sequence of a parallel decode: its stream, sampler and next position."""

    seq: int
    builder: StreamBuilder
    sampler: Any  # llama_sampler_p, freed by the context after the run
    decode: Callable[[bytes], str]
    token: int = -1
    pos: int = 0


class ParallelContext:
    """A second context on a loaded `llama_cpp.Llama`'s weights, with MAX_SEQ sequences in one
    unified KV cache. Not thread-safe: the owning backend calls it under its model lock."""

    def __init__(self, llm: llama_cpp.Llama, n_threads: int) -> None:
        quiet.install()
        self._llm: llama_cpp.Llama | None = llm  # keeps the shared weights alive
        params = type(llm.context_params).from_buffer_copy(llm.context_params)
        params.n_seq_max = MAX_SEQ
        params.kv_unified = True  # prompt cells are shared by all sequences, not copied
        params.n_threads = params.n_threads_batch = n_threads
        ref = weakref.ref(self)

        def _close_first() -> None:  # the Llama frees its weights on close: free this first
            me = ref()
            if me is not None:
                me.close()

        llm._model._exit_stack.callback(_close_first)
        with quiet.capture_errors():
            ctx = llama_cpp.llama_init_from_model(llm._model.model, params)
        if not ctx:
            detail = "; ".join(quiet.recent_errors()) or "unknown error"
            raise ModelError(
                f"llama.cpp could not create a context for parallel samples: {detail}",
                "lower n_ctx, or sample one at a time (--sequential)",
            )
        self.ctx = ctx
        self.n_ctx = int(llama_cpp.llama_n_ctx(ctx))
        self.n_batch = int(params.n_batch)
        self.n_vocab = llm.n_vocab()
        self.n_threads = n_threads
        self.last_n = llm.last_n_tokens_size
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, MAX_SEQ), 0, MAX_SEQ)
        self._live = True
        self.prefix = CanonicalPrefix(self.n_batch)  # sequence 0's cached prompt
        self.steer_key: Any = None

    def close(self) -> None:
        if getattr(self, "_live", False):
            llama_cpp.llama_batch_free(self._batch)
            self._live = False
        if getattr(self, "ctx", None):
            llama_cpp.llama_free(self.ctx)
            self.ctx = None
        self._llm = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # --- setup per call -----------------------------------------------------------------------

    def set_threads(self, n: int) -> None:
        if n != self.n_threads:
            llama_cpp.llama_set_n_threads(self.ctx, n, n)
            self.n_threads = n

    def use_steering(self, key: Any, directions: Any) -> None:
        """Apply a control vector (None: none); a change forgets the cache (see LlamaBackend)."""
        if key == self.steer_key:
            return
        steer.apply(self.ctx, directions)
        self.steer_key = key
        llama_cpp.llama_memory_clear(self._mem, True)
        self.prefix.forget()

    def sampler(self, params: SamplingParams, seed: int) -> Any:
        """The chain `Llama.generate` builds (penalties, top-k, typical, top-p, min-p, temperature,
        dist), so parallel samples come from the same distribution as single ones."""
        ll = llama_cpp
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        # The same arguments Llama.generate passes (its binding's leading n_vocab included), so
        # the penalty behaves exactly as in a single sample.
        pen = ll.llama_sampler_init_penalties(
            self.n_vocab, self.last_n, params.repeat_penalty, 0.0, 0.0
        )
        ll.llama_sampler_chain_add(chain, pen)
        if params.temperature == 0.0:
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
        else:
            for s in (
                ll.llama_sampler_init_top_k(params.top_k),
                ll.llama_sampler_init_typical(1.0, 1),
                ll.llama_sampler_init_top_p(params.top_p, 1),
                ll.llama_sampler_init_min_p(params.min_p, 1),
                ll.llama_sampler_init_temp(params.temperature),
                ll.llama_sampler_init_dist(seed),
            ):
                ll.llama_sampler_chain_add(chain, s)
        return chain

    # --- decoding -----------------------------------------------------------------------------

    def _decode(self, rows: Sequence[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, pos, seq, wants logits) rows."""
        b = self._batch
        b.n_tokens = len(rows)
        for i, (tok, pos, seq, out) in enumerate(rows):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = out
        rc = llama_cpp.llama_decode(self.ctx, b)
        if rc != 0:
            raise ModelError(
                f"llama_decode failed on a parallel batch (code {rc})",
                "raise n_ctx or ask for fewer samples at once",
            )

    def prepare(self, tokens: Sequence[int], cancel: threading.Event | None) -> int:
        """Leave exactly tokens[:-1] in sequence 0 and nothing else; return tokens evaluated
        (the same canonical chunks as LlamaBackend's cache; PrefillCancelled when cancelled)."""

        def drop_from(keep: int) -> None:
            for seq in range(1, MAX_SEQ):
                llama_cpp.llama_memory_seq_rm(self._mem, seq, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._mem, 0, keep, -1)

        def evaluate(pos: int, chunk: Sequence[int]) -> None:
            self._decode([(t, pos + j, 0, j == len(chunk) - 1) for j, t in enumerate(chunk)])

        return self.prefix.fill(tokens, drop_from=drop_from, evaluate=evaluate, cancel=cancel)

    def run(
        self,
        tokens: Sequence[int],
        lanes: list[Lane],
        cancel: threading.Event | None,
        is_eog: Callable[[int], bool],
        piece_bytes: Callable[[int], bytes],
        logprob: Callable[[int, int], Any] | None,
    ) -> None:
        """Decode every lane to its end from a prepared sequence 0. Each step: every live lane
        decodes its previous token (at first: the prompt's last), then samples from its row."""
        n_prompt = len(tokens)
        for lane in lanes:
            if lane.seq:
                llama_cpp.llama_memory_seq_cp(self._mem, 0, lane.seq, -1, -1)
            lane.token, lane.pos = tokens[-1], n_prompt - 1
        live = list(lanes)
        try:
            while live:
                for lane in live:
                    lane.builder.open(cancel)
                live = [lane for lane in live if not lane.builder.ended]
                if not live:
                    break
                self._decode([(lane.token, lane.pos, lane.seq, True) for lane in live])
                for row, lane in enumerate(live):
                    tok = llama_cpp.llama_sampler_sample(lane.sampler, self.ctx, row)
                    if is_eog(tok):
                        lane.builder.end("eos")
                        continue
                    lps = (logprob(row, tok),) if logprob is not None else ()
                    lane.builder.push(Piece(lane.decode(piece_bytes(tok)), tok, lps))
                    lane.token, lane.pos = tok, lane.pos + 1
        finally:
            # The answers' cells go; sequence 0 again holds exactly the canonical prompt.
            for s in range(1, MAX_SEQ):
                llama_cpp.llama_memory_seq_rm(self._mem, s, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._mem, 0, n_prompt - 1, -1)


def new_lane(seq: int, builder: StreamBuilder, sampler: Any) -> Lane:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    builder.report.tail = lambda: decoder.decode(b"", final=True)
    return Lane(seq, builder, sampler, decoder.decode)


def free_sampler(sampler: Any) -> None:
    llama_cpp.llama_sampler_free(sampler)
