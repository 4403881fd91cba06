"""Benchmark cases for looking inside: activation capture and steering, as ratios against plain
decoding of the same prompt in the same run, on both demo models.

Every case runs one thread per context (n_threads=1) so that the timings are not at the mercy
of whatever else shares the cores, interleaves the two sides' repeats (a load change hits both),
and first checks that both sides compute the same thing. The headline psmlab_s/reference_s
belong to the model with the worse ratio; per-model numbers are in `models`."""

from __future__ import annotations

import ctypes
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from psmlab.core.backends.llama.backend import LlamaBackend
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Generation, SamplingParams
from psmlab.core.inside.capture import Capture
from psmlab.core.models.cvec import write_cvec
from psmlab.core.models.steering import Steering

THREADS = 1
TARGETS = {
    "capture_one": 1.3,
    # Every layer includes the last, whose l_out holds only output rows, so the prompt is
    # evaluated with logits for every row: on Gemma's 262k vocabulary that is nearly all of the
    # cost (about 1.55x; 0.95-1.05x without the last layer). 2.0 leaves room for a loaded machine
    # and still catches a per-token or per-layer regression in the copying.
    "capture_all": 2.0,
    "steer": 1.05,
}


def interleaved(a: Callable[[], Any], b: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median seconds of a and of b, run alternately (a, b, b, a, ...) so drift hits both."""
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeats):
        order = [(a, ta), (b, tb)] if i % 2 == 0 else [(b, tb), (a, ta)]
        for fn, times in order:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _prompt(m: LlamaBackend, quick: bool) -> RenderedPrompt:
    """A few turns of history (~100 or ~250 tokens) ending in a request that keeps the chat model
    writing past the generated-token budget, so both sides decode the same number of tokens."""
    from bench.run import fmt_of, long_transcript

    history = long_transcript(60 if quick else 150).turns[:-1]
    ask = ("user", "Write a long story about the lighthouse keeper and the birds.")
    tr = Transcript.of(*((t.role, t.content) for t in history), ask)
    return render(tr, fmt_of(m), m.vocab, model_id=m.spec.id, n_ctx=m.n_ctx)


def _summary(per_model: dict[str, dict[str, Any]]) -> dict[str, Any]:
    worst = max(per_model, key=lambda k: per_model[k]["ratio"])
    w = per_model[worst]
    detail = " ".join(f"{k}={v['ratio']:.3f}" for k, v in per_model.items())
    return {
        "psmlab_s": w["psmlab_s"],
        "reference_s": w["reference_s"],
        "worst": worst,
        "models": per_model,
        "detail": detail,
    }


# --- capture ---------------------------------------------------------------------------------


def _capture(b: dict[str, LlamaBackend], quick: bool, which: str) -> dict[str, Any]:
    n_gen = 16 if quick else 64
    reps = 3 if quick else 5
    per: dict[str, dict[str, Any]] = {}
    for key, m in b.items():
        toks = list(_prompt(m, quick).tokens)
        # Both contexts share the backend's weights; only the layers read differ.
        plain = Capture(m.llm, [], n_threads=THREADS)
        n_layer = plain.n_layer
        layers = [n_layer // 2] if which == "one" else list(range(n_layer))
        cap = Capture(m.llm, layers, n_threads=THREADS)
        try:
            ref_trace = plain.generate(toks, n_gen)  # also the warm-up of both sides
            trace = cap.generate(toks, n_gen)
            assert len(ref_trace.generated) == n_gen, (
                f"capture_{which} ({key}): ended after {len(ref_trace.generated)} tokens"
            )
            assert trace.generated == ref_trace.generated, (
                f"capture_{which} ({key}): capturing changed the greedy tokens"
            )
            shapes = {a.shape for a in trace.acts.values()}
            assert shapes == {(len(trace.tokens), cap.n_embd)} and len(trace.acts) == len(layers), (
                f"capture_{which} ({key}): captured blocks of shapes {shapes}"
            )
            t_cap, t_plain = interleaved(
                partial(cap.generate, toks, n_gen), partial(plain.generate, toks, n_gen), reps
            )
        finally:
            cap.close()
            plain.close()
        per[key] = {
            "psmlab_s": t_cap,
            "reference_s": t_plain,
            "ratio": t_cap / t_plain,
            "layers": len(layers),
            "prompt_tokens": len(toks),
            "generated": len(trace.generated),
        }
    return _summary(per)


def case_capture_one(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    """Greedy decode capturing one middle layer vs the same decode capturing none."""
    return _capture(b, quick, "one")


def case_capture_all(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    """Greedy decode capturing every layer vs the same decode capturing none."""
    return _capture(b, quick, "all")


# --- steering --------------------------------------------------------------------------------


def _reference_steered(
    m: LlamaBackend, prompt: RenderedPrompt, dirs: dict[int, np.ndarray], alpha: float, n: int
) -> tuple[str, str]:
    """Plain llama-cpp-python with the same threads, batches and prompt order as the backend:
    (unsteered text, text with alpha * dirs applied through llama_set_adapter_cvec)."""
    llm = llama_cpp.Llama(
        m.spec.path,
        n_ctx=m.n_ctx,
        n_batch=m.n_batch,
        n_ubatch=m.n_batch,
        n_threads=THREADS,
        n_threads_batch=THREADS,
        verbose=False,
    )
    toks = list(prompt.tokens)

    def greedy() -> str:
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.eval(toks[:-1])
        out: list[int] = []
        for tok in llm.generate(toks, temp=0.0, reset=True):
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok) or len(out) == n:
                break
            out.append(tok)
        return llm.detokenize(out).decode("utf-8", errors="replace")

    try:
        plain = greedy()
        model = llm._model.model
        n_layer = llama_cpp.llama_model_n_layer(model)
        n_embd = llama_cpp.llama_model_n_embd(model)
        data = np.zeros((n_layer, n_embd), np.float32)
        for L, v in dirs.items():
            data[L - 1] = np.float32(alpha) * v  # the buffer starts at layer 1
        rc = llama_cpp.llama_set_adapter_cvec(
            llm._ctx.ctx,
            data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            data.size,
            n_embd,
            min(dirs),
            max(dirs),
        )
        assert rc == 0, f"llama_set_adapter_cvec returned {rc}"
        steered = greedy()
    finally:
        llm.close()
    return plain, steered


def _cold_generate(
    m: LlamaBackend, prompt: RenderedPrompt, p: SamplingParams, steering: Steering | None
) -> Generation:
    m.reset_cache()
    return m.generate(prompt, p, 1, n_threads=THREADS, steering=steering)


def case_steer(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    """LlamaBackend.generate steered by a control vector at three middle layers vs unsteered.

    Both sides forget the KV cache before every repeat (a steering change forgets it anyway), so
    each times one prompt evaluation plus the greedy decode."""
    n_gen = 16 if quick else 64
    reps = 3 if quick else 7
    p = SamplingParams(temperature=0.0, max_tokens=n_gen)
    alpha = 1.0
    per: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="psmlab-bench-cvec-"))
    for key, m in b.items():
        # No role-leak stop strings: the base would stop after a few tokens, and the decode is
        # what is measured (the reference greedy loop has no stop strings either).
        prompt = replace(_prompt(m, quick), stop=())
        n_layer = int(llama_cpp.llama_model_n_layer(m.llm._model.model))
        n_embd = int(llama_cpp.llama_model_n_embd(m.llm._model.model))
        mid = n_layer // 2
        layers = (mid - 1, mid, mid + 1)
        # A random direction of a tenth of the residual stream's typical norm at each layer
        # (about 13 on SmolLM2, 500 on Gemma): enough to change the greedy text, not to wreck it.
        with Capture(m.llm, layers, n_threads=THREADS) as cap:
            acts = cap.capture_prompt(list(prompt.tokens))
        rng = np.random.default_rng(11)
        dirs = {}
        for L in layers:
            v = rng.standard_normal(n_embd)
            size = 0.1 * float(np.median(np.linalg.norm(acts[L], axis=1)))
            dirs[L] = (v / np.linalg.norm(v) * size).astype(np.float32)
        path = write_cvec(tmp / f"{key}.gguf", dirs, model_hint=m.spec.id)
        steering = Steering.load(path, alpha=alpha)

        ours_steered = partial(_cold_generate, m, prompt, p, steering)
        ours_plain = partial(_cold_generate, m, prompt, p, None)
        steered, plain = ours_steered(), ours_plain()  # also the warm-up of both sides
        assert steered.text != plain.text, f"steer ({key}): the vector changed nothing"
        # Equal work on both sides: the same number of decoded tokens (no early end of text).
        assert steered.n_tokens == plain.n_tokens == n_gen, (
            f"steer ({key}): decoded {steered.n_tokens} steered vs {plain.n_tokens} tokens"
        )
        ref_plain, ref_steered = _reference_steered(m, prompt, dirs, alpha, n_gen)
        assert plain.text == ref_plain, (
            f"steer ({key}): unsteered texts differ\n{plain.text!r}\n{ref_plain!r}"
        )
        assert steered.text == ref_steered, (
            f"steer ({key}): steered texts differ\n{steered.text!r}\n{ref_steered!r}"
        )
        t_steer, t_plain = interleaved(ours_steered, ours_plain, reps)
        m.generate(prompt, p, 1)  # leave the backend unsteered, on its own thread count
        per[key] = {
            "psmlab_s": t_steer,
            "reference_s": t_plain,
            "ratio": t_steer / t_plain,
            "layers": sorted(dirs),
            "prompt_tokens": prompt.n_tokens,
            "generated": steered.n_tokens,
            "vector_norms": [round(float(np.linalg.norm(v)), 1) for v in dirs.values()],
        }
    return _summary(per)


CASES = {
    "capture_one": case_capture_one,
    "capture_all": case_capture_all,
    "steer": case_steer,
}
