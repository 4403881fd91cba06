"""Parallel sampling of one group of seeds on a LlamaBackend: its lanes, records and cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from psmlab.core.backends.llama import parallel
from psmlab.core.backends.llama.prefix import PrefillCancelled
from psmlab.core.backends.stream import SourceReport, StreamBuilder, params_record
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.types import Generation, OnToken, SamplingParams, TokenLogprob
from psmlab.core.models.steering import Steering

if TYPE_CHECKING:
    from psmlab.core.backends.llama.backend import LlamaBackend


def generate_group(
    be: LlamaBackend,
    prompt: RenderedPrompt,
    params: SamplingParams,
    seeds: Sequence[int],
    idx: Sequence[int],
    cancel: threading.Event | None,
    on_token: OnToken | None,
    n_threads: int | None,
    logprobs: int,
    steering: Steering | None,
) -> list[Generation]:
    """Samples seeds[i] for i in `idx` as parallel sequences of the backend's parallel context
    (made on first use): the prompt is evaluated once, each step decodes one token per live
    sample. Every sample records the group's seeds, which replay needs (logits depend on the
    batch). A cancel while the prompt is read ends every sample as cancelled, with no text."""
    group = [seeds[i] for i in idx]
    extra: dict[str, Any] = {"steer": steering.record()} if steering is not None else {}
    with be.using():
        threads = be._set_threads(n_threads)
        if be._par is None:
            be._par = parallel.ParallelContext(be.llm, threads)
        par = be._par
        par.set_threads(threads)
        par.use_steering(
            steering.key if steering is not None else None,
            steering.directions() if steering is not None else None,
        )
        t0 = time.perf_counter()
        lanes = []
        for j, i in enumerate(idx):
            rec = params_record(
                params,
                seeds[i],
                be.n_ctx,
                n_threads=threads,
                n_batch=be.n_batch,
                parallel={"seeds": group, "seq": j},
                **extra,
            )
            builder = StreamBuilder(
                SourceReport(),
                origin=be,
                prompt=prompt,
                seed=seeds[i],
                sample=i,
                params=rec,
                t0=t0,
                on_token=on_token,
                limit=min(params.max_tokens, be.n_ctx - len(prompt.tokens)),
            )
            lanes.append(parallel.new_lane(j, builder, par.sampler(params, seeds[i])))
        try:
            try:
                evaluated = par.prepare(prompt.tokens, cancel)
            except PrefillCancelled:
                for lane in lanes:
                    lane.builder.report.finish = "cancelled"
                    lane.builder.report.tail = None
            else:
                for j, lane in enumerate(lanes):
                    lane.builder.report.evaluated = 1 + (evaluated if j == 0 else 0)
                lp = None
                if logprobs:

                    def lp(row: int, tok: int) -> TokenLogprob:
                        return be._token_logprob(tok, logprobs, row, par.ctx)

                par.run(
                    prompt.tokens,
                    lanes,
                    cancel,
                    be.vocab.is_eog,
                    be.vocab.piece_bytes,
                    lp,
                )
        finally:
            for lane in lanes:
                parallel.free_sampler(lane.sampler)
        return [lane.builder.finish() for lane in lanes]
