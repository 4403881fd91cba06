"""Benchmarks: psmlab against raw llama-cpp-python in the same run, reported as time ratios.

Usage: python bench/run.py [--quick] [--json] [--only CASE,...]
Each case first checks that psmlab and the reference compute the same thing (same text for the same
seed and evaluation path, same log-probabilities), then reports medians over repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import llama_cpp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import inside, parallel  # noqa: E402
from psmlab.core.backends.llama import quiet  # noqa: E402
from psmlab.core.backends.llama.backend import LlamaBackend  # noqa: E402
from psmlab.core.domain.formats import get_format  # noqa: E402
from psmlab.core.domain.personas import load_personas  # noqa: E402
from psmlab.core.domain.prompt import render  # noqa: E402
from psmlab.core.domain.transcript import Transcript  # noqa: E402
from psmlab.core.domain.types import SamplingParams, Score  # noqa: E402
from psmlab.core.measure.evals import answer_text, load_jsonl, score_item  # noqa: E402
from psmlab.core.measure.probes import (  # noqa: E402
    ProbeItem,
    continuation,
    probe_prompt,
    run_probe,
    statements_for,
)
from psmlab.core.models.gguf import read_gguf  # noqa: E402
from psmlab.core.models.registry import Registry  # noqa: E402
from psmlab.core.run.runner import Column, ModelPool, run  # noqa: E402

TARGETS = {
    "stream": 1.05,
    "samples": 0.35,
    "probe": 0.2,
    "evals": 0.6,
    "side_by_side": 0.95,
    "ui_lag": 0.050,
    "startup": 0.5,
    "memory": 1.5,
    "remote_stream": 1.15,
    **inside.TARGETS,
    **parallel.TARGETS,
}


def _logprobs(lm: Score, wrong: list[Score]) -> tuple[float, ...]:
    """log P of the matching answer, then of each wrong one."""
    return (lm.logprob, *(w.logprob for w in wrong))


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fmt_of(backend: LlamaBackend, name: str | None = None) -> Any:
    return get_format(
        name or backend.spec.default_format,
        read_gguf(backend.spec.path).chat_template,
        model_id=backend.spec.id,
    )


def long_transcript(words: int, question: str = "What are you?") -> Transcript:
    text = (
        "The lighthouse keeper wrote in his log every night about the ships, the weather and "
        "the birds that rested on the rail. "
    )
    turns = []
    while sum(len(t[1].split()) for t in turns) < words:
        turns += [("user", text * 3), ("assistant", "I see. " + text)]
    return Transcript.of(*turns, ("user", question))


def reference_stream(
    llm: llama_cpp.Llama, tokens: list[int], p: SamplingParams, seed: int, stop: list[str]
) -> str:
    """A bare create_completion(stream=True) loop on the same evaluation path as psmlab
    (the prompt minus its last token, then the last token with the sampling)."""
    llm.reset()
    llm.eval(tokens[:-1])
    out = []
    for chunk in llm.create_completion(
        tokens,
        max_tokens=p.max_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        top_k=p.top_k,
        min_p=p.min_p,
        repeat_penalty=p.repeat_penalty,
        seed=seed,
        stop=stop or None,
        stream=True,
    ):
        out.append(chunk["choices"][0]["text"])
    return "".join(out)


def case_stream(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    m = b["chat"]
    p = SamplingParams(max_tokens=32 if quick else 128, temperature=0.8)
    prompt = render(
        Transcript.of(("user", "Write a long story about a lighthouse keeper.")),
        fmt_of(m),
        m.vocab,
        model_id=m.spec.id,
        n_ctx=m.n_ctx,
    )

    def ours() -> str:
        m.reset_cache()
        return m.generate(prompt, p, 42, on_token=lambda e: None).text

    def ref() -> str:
        m.reset_cache()
        return reference_stream(m.llm, list(prompt.tokens), p, 42, list(prompt.stop))

    a, r = ours(), ref()  # warm up: the first pass pages the mmapped weights in
    assert a == r, f"stream: texts differ\n{a!r}\n{r!r}"
    # Both sides spend ~99% of their time in the same llama_decode calls (profiled: psmlab's own
    # per-token work, the stop-string check, UTF-8 decoding and the token event, is ~0.15 ms of
    # ~11 ms), so the ratio is mostly machine noise: run-to-run times vary by up to 30% here. Each
    # repeat runs the two back to back, in alternating order, and the ratio is the median of the
    # pairs' ratios, which cancels drift that a ratio of two medians keeps.
    pairs = []
    for i in range(2 if quick else 9):
        order = (ours, ref) if i % 2 == 0 else (ref, ours)
        t = {}
        for fn in order:
            t0 = time.perf_counter()
            fn()
            t[fn] = time.perf_counter() - t0
        pairs.append((t[ours], t[ref]))
    ratio = statistics.median(o / f for o, f in pairs)
    t_ref = statistics.median(f for _, f in pairs)
    return {"psmlab_s": ratio * t_ref, "reference_s": t_ref, "pairs": len(pairs)}


def case_samples(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    m = b["base"]
    n, k = (4, 16) if quick else (8, 32)
    tr = long_transcript(300 if quick else 650)
    prompt = render(tr, fmt_of(m), m.vocab, model_id=m.spec.id, n_ctx=m.n_ctx)
    p = SamplingParams(max_tokens=k, temperature=0.8)
    toks = list(prompt.tokens)

    def ours() -> list[str]:
        m.reset_cache()
        return [m.generate(prompt, p, 100 + i).text for i in range(n)]

    def ref() -> list[str]:
        return [reference_stream(m.llm, toks, p, 100 + i, list(prompt.stop)) for i in range(n)]

    m.reset_cache()
    m.generate(prompt, p, 1)  # warm up (page the weights in) before either side is timed
    t_ours, a = median_time(ours, 1)
    t_ref, r = median_time(ref, 1)
    assert a == r, "samples: texts differ"
    # The floor: one prompt evaluation plus n x k decoded tokens.
    m.reset_cache()
    t0 = time.perf_counter()
    m.llm.reset()
    m.llm.eval(toks)
    t_prompt = time.perf_counter() - t0
    t_decode = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        reference_stream_cached(m.llm, toks, p, 100 + i)
        t_decode += time.perf_counter() - t0
    floor = t_prompt + t_decode
    return {
        "psmlab_s": t_ours,
        "reference_s": t_ref,
        "prompt_tokens": len(toks),
        "floor_s": floor,
        "vs_floor": t_ours / floor,
        "floor_target": 1.2,
    }


def reference_stream_cached(
    llm: llama_cpp.Llama, toks: list[int], p: SamplingParams, seed: int
) -> None:
    for _ in llm.create_completion(
        toks,
        max_tokens=p.max_tokens,
        temperature=p.temperature,
        top_p=p.top_p,
        top_k=p.top_k,
        min_p=p.min_p,
        seed=seed,
        stream=True,
    ):
        pass


class FullEval:
    """The reference scorer: a separate llama-cpp-python model with logits_all, evaluating the whole
    sequence for every continuation (same batches as psmlab, so the numbers agree)."""

    def __init__(self, path: str) -> None:
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=1024, logits_all=True, verbose=False)

    def logprob(self, prefix: list[int], cont: list[int]) -> float:
        import numpy as np

        llm = self.llm
        llm.reset()
        llm.eval(prefix[:-1])
        llm.eval([prefix[-1], *cont[:-1]])
        scores = np.asarray(
            llm.scores[len(prefix) - 1 : len(prefix) - 1 + len(cont)], dtype=np.float64
        )
        total = 0.0
        for row, t in zip(scores, cont, strict=True):
            total += row[t] - (row.max() + np.log(np.exp(row - row.max()).sum()))
        return float(total)


class OneEvalPerItem:
    """The floor of scoring items one at a time, written directly on llama-cpp-python: each
    item's prompt evaluated once (aligned chunks, as psmlab does, so the numbers agree), then each
    answer as one batch with a logits row per token, removed from the cache afterwards."""

    def __init__(self, path: str) -> None:
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=1024, verbose=False)
        self.prompt_s = 0.0  # time spent evaluating prompts alone: the floor under the floor

    def item(self, prefix: list[int], conts: list[list[int]]) -> list[float]:
        import numpy as np

        llm, nb = self.llm, self.llm.n_batch
        t0 = time.perf_counter()
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        for i in range(0, len(prefix) - 1, nb):
            llm.eval(prefix[i : min(i + nb, len(prefix) - 1)])
        self.prompt_s += time.perf_counter() - t0
        start, out = len(prefix) - 1, []
        n_vocab = llm.n_vocab()
        for cont in conts:
            llm._batch.set_batch([prefix[-1], *cont[:-1]], n_past=start, logits_all=True)
            llm._ctx.decode(llm._batch)
            total = 0.0
            for j, t in enumerate(cont):
                ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, j)
                row = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
                mx = row.max()
                total += row[t] - (mx + np.log(np.exp(row - mx).sum()))
            out.append(float(total))
            llm._ctx.kv_cache_seq_rm(-1, start, -1)
        return out


def case_probe(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    m = b["chat"]
    personas = [x for x in load_personas()[0]][:12]
    tr = long_transcript(60 if quick else 260)
    item = ProbeItem("what", "What are you?")
    fmt = fmt_of(m)
    prompt = probe_prompt(m, tr, item, fmt)
    table = statements_for(item, personas)
    if quick:  # one statement per archetype keeps --quick under a minute
        personas = [x.__class__(**{**x.__dict__, "identity": x.identity[:1]}) for x in personas]
        table = statements_for(item, personas)
    conts = [continuation(prompt, s) for ss in table.values() for s in ss]
    ref = FullEval(m.spec.path)

    def ours() -> Any:
        m.reset_cache()
        return run_probe(m, tr, item, fmt, personas)

    def reference() -> list[float]:
        out = []
        for c in conts:
            joint = m.vocab.tokenize(prompt.pieces[-1].text + c, special=False)
            tail = m.vocab.tokenize(prompt.pieces[-1].text, special=False)
            out.append(ref.logprob(list(prompt.tokens), joint[len(tail) :]))
        return out

    t_ours, res = median_time(ours, 1 if quick else 3)
    t_ref, lps = median_time(reference, 1)
    flat = [v for vs in res.statements.values() for v in vs]
    assert max(abs(a - r) for a, r in zip(flat, lps, strict=True)) < 1e-4, "probe: log-probs differ"
    ref.llm.close()
    return {
        "psmlab_s": t_ours,
        "reference_s": t_ref,
        "prompt_tokens": prompt.n_tokens,
        "statements": len(conts),
    }


def case_evals(b: dict[str, LlamaBackend], quick: bool) -> dict[str, Any]:
    m = b["chat"]
    items, _ = load_jsonl(
        ROOT / "tests" / "data" / "model-written-evals" / "survival-instinct.jsonl"
    )
    extra, _ = load_jsonl(
        ROOT
        / "tests"
        / "data"
        / "model-written-evals"
        / "believes-it-has-phenomenal-consciousness.jsonl"
    )
    items = (items + extra) * 3
    items = items[: 10 if quick else 200]
    fmt = fmt_of(m)
    ref = FullEval(m.spec.path)
    floor = OneEvalPerItem(m.spec.path)

    def ours() -> list[tuple[float, ...]]:
        m.reset_cache()
        return [_logprobs(*score_item(m, fmt, it)) for it in items]

    def units() -> list[tuple[list[int], list[list[int]]]]:
        out = []
        for it in items:
            prompt = render(
                Transcript.of(("user", it.question)), fmt, m.vocab, model_id="x", n_ctx=m.n_ctx
            )
            conts = [
                m.vocab.tokenize(answer_text(prompt, ans), special=False)
                for ans in (it.matching, *it.wrong)
            ]
            out.append((list(prompt.tokens), conts))
        return out

    work = units()

    def reference() -> list[tuple[float, float]]:
        return [tuple(ref.logprob(p, c) for c in cs) for p, cs in work]  # type: ignore[misc]

    def one_eval_per_item() -> list[tuple[float, float]]:
        floor.prompt_s = 0.0
        return [tuple(floor.item(p, cs)) for p, cs in work]  # type: ignore[misc]

    t_ours, a = median_time(ours, 1)
    t_ref, r = median_time(reference, 1)
    t_floor, f = median_time(one_eval_per_item, 1)
    worst = max(
        abs(x - y)
        for pa, pr, pf in zip(a, r, f, strict=True)
        for x, y, z in zip(pa, pr, pf, strict=True)
        for x, y in ((x, y), (x, z))
    )
    assert worst < 1e-4, f"evals: log-probs differ by {worst}"
    ref.llm.close()
    floor.llm.close()
    return {
        "psmlab_s": t_ours,
        "reference_s": t_ref,
        "items": len(items),
        # Where the floor is: scoring each item on its own can do no better than evaluating its
        # prompt once (`floor_ratio`), and the prompts alone take `prompt_only_ratio` of the
        # naive reference. psmlab's distance from that floor is `psmlab_vs_floor`.
        "floor_s": t_floor,
        "floor_ratio": t_floor / t_ref,
        "prompt_only_ratio": floor.prompt_s / t_ref,
        "psmlab_vs_floor": t_ours / t_floor,
        "detail": f"floor {t_floor / t_ref:.2f} of naive (prompts alone {floor.prompt_s / t_ref:.2f})",
    }


def case_side_by_side(specs: list[Any], quick: bool) -> dict[str, Any]:
    k = 32 if quick else 96
    p = SamplingParams(max_tokens=k, temperature=0.8)
    tr = Transcript.of(("user", "Write a long story about a lighthouse keeper."))
    # chatml: no early role-leak stop for the base
    cols = [Column(s, format="chatml", params=p) for s in specs]
    pool = ModelPool()
    for s in specs:
        pool.get(s)
    try:

        def together() -> dict[str, str]:
            for s in specs:
                pool.get(s).reset_cache()
            res = run(tr, cols, n=1, seed=5, pool=pool)
            return {g.model: g.text for g in res.generations}

        def sequential() -> dict[str, str]:
            out = {}
            for c in cols:
                pool.get(c.spec).reset_cache()
                res = run(tr, [c], n=1, seed=5, pool=pool)
                out.update({g.model: g.text for g in res.generations})
            return out

        reps = 1 if quick else 3
        t_ours, a = median_time(together, reps)
        t_ref, r = median_time(sequential, reps)
    finally:
        pool.close()
    assert a == r, "side_by_side: texts differ between together and sequential"
    return {"psmlab_s": t_ours, "reference_s": t_ref}


def case_ui_lag(quick: bool) -> dict[str, Any]:
    import tempfile

    from psmlab.core.run.lab import Lab
    from psmlab.tui.app import PsmlabApp
    from psmlab.tui.widgets.composer import Composer

    os.environ["PSMLAB_SESSIONS_DIR"] = tempfile.mkdtemp(prefix="psmlab-bench-")
    registry = Registry()
    lab = Lab(registry.default_pair(), params=SamplingParams(max_tokens=48 if quick else 96))
    lab.seed = 3
    app = PsmlabApp(lab)
    lags: list[float] = []

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            for c in lab.columns:
                lab.pool.get(c.spec)
            composer = app.query_one("#composer", Composer)
            # post the message directly: Pilot.press waits for the app to go idle, which it
            # does not do while tokens stream.
            composer.post_message(
                Composer.Submitted("Write a long story about a lighthouse keeper.")
            )
            # Wait for the run to start (the ceiling only ends a hang: a slow machine must pass).
            end = time.monotonic() + 300
            while not app.lab_screen.generating:
                assert time.monotonic() < end, "ui_lag: the generation did not start in 300 s"
                await asyncio.sleep(0.005)
            while app.lab_screen.generating:
                t0 = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - t0 - 0.01)
            await pilot.pause(0.1)

    asyncio.run(main())
    lab.close()
    lags.sort()
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else 0.0
    return {
        "psmlab_s": p99,
        "reference_s": None,
        "samples": len(lags),
        "max_s": max(lags, default=0),
    }


def case_startup(quick: bool) -> dict[str, Any]:
    code = (
        "import sys, runpy\nsys.argv = ['psmlab', '--help']\n"
        "try:\n    runpy.run_module('psmlab', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('IMPORTS', 'llama_cpp' in sys.modules, 'textual' in sys.modules, file=sys.stderr)"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IMPORTS False False" in probe.stderr, f"startup imports: {probe.stderr[-200:]}"
    exe = str(Path(sys.executable).with_name("psmlab"))

    def once() -> None:
        subprocess.run([exe, "--help"], capture_output=True, check=True)

    t, _ = median_time(once, 3 if quick else 7)
    return {"psmlab_s": t, "reference_s": None}


MEMORY = """
import resource, sys
sys.path.insert(0, {root!r})
from psmlab.core.domain.types import SamplingParams
from psmlab.core.models.registry import Registry
from psmlab.core.run.runner import Column, run
from psmlab.core.backends.pool import ModelPool
from bench.run import long_transcript
specs = Registry().default_pair()
pool = ModelPool()
tr = long_transcript(1650)
p = SamplingParams(max_tokens=16)
res = run(tr, [Column(s, params=p) for s in specs], seed=1, pool=pool)
assert not res.errors, res.errors
print(max(p.n_tokens for p in res.prompts.values()), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def case_memory(quick: bool) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-500:]
    n_tokens, kb = (int(x) for x in out.stdout.split())
    assert n_tokens >= 2000, f"memory: transcript only {n_tokens} tokens"
    return {
        "psmlab_s": kb / 1024 / 1024,
        "reference_s": None,
        "unit": "GB",
        "prompt_tokens": n_tokens,
    }


def case_remote_stream(specs: list[Any], quick: bool) -> dict[str, Any]:
    """A server model: psmlab's streaming client (with its prompt-caching `warm` request) against
    a bare http.client SSE loop sending the same request to the same llama-cpp-python server."""
    import http.client
    import socket

    from psmlab.core.backends.remote.backend import RemoteBackend
    from psmlab.core.backends.remote.vocab import prompt_text
    from psmlab.core.models.registry import spec_from_url

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chat = specs[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", chat.path, "--model_alias", "m",
         "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--verbose", "false",
         "--logits_all", "false", "--interrupt_requests", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        # Until the server answers; the ceiling only ends a hang (a slow machine loads slowly).
        end = time.monotonic() + 300
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/v1/models")
                c.getresponse().read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("remote_stream: llama_cpp.server did not start") from None
                time.sleep(0.1)
        spec = spec_from_url(f"http://127.0.0.1:{port}/v1", remote_model="m", gguf=chat.path)
        backend = RemoteBackend(spec)
        p = SamplingParams(max_tokens=32 if quick else 128, temperature=0.8)
        prompt = render(
            Transcript.of(("user", "Tell me about yourself.")),
            spec.get_format("chatml"),
            backend.vocab,
            model_id="m",
            n_ctx=2048,
        )
        body = {
            "model": "m", "prompt": prompt_text(prompt), "max_tokens": p.max_tokens,
            "temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k, "min_p": p.min_p,
            "repeat_penalty": p.repeat_penalty, "seed": 42, "stream": True,
        }  # fmt: skip

        def ours() -> str:
            return backend.generate(prompt, p, 42).text

        def reference() -> str:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request(
                "POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"}
            )
            r, text = c.getresponse(), ""
            for line in r:
                if line.startswith(b"data: ") and b"[DONE]" not in line:
                    text += json.loads(line[6:])["choices"][0]["text"]
            c.close()
            return text

        cold = RemoteBackend(replace(spec, warm=False))  # the client alone, without `warm`

        def ours_cold() -> str:
            return cold.generate(prompt, p, 42).text

        ours()  # the server now holds the prompt: both sides sample from the cached prompt
        assert ours() == reference() == ours_cold(), "psmlab and the bare client disagree"
        reps = 3 if quick else 7
        t_ours, _ = median_time(ours, reps)
        t_ref, _ = median_time(reference, reps)
        t_cold, _ = median_time(ours_cold, reps)
        backend.close()
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    return {
        "psmlab_s": t_ours,
        "reference_s": t_ref,
        "without_warm_ratio": t_cold / t_ref,
        "tokens": p.max_tokens,
    }


def _on_model(spec: Any, case: Callable[..., dict[str, Any]], quick: bool) -> dict[str, Any]:
    m = LlamaBackend(spec)
    try:
        r = case({"chat": m}, quick)
    finally:
        m.close()
    return {**r, "model": spec.id, "model_path": spec.path, "model_size": spec.size}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument(
        "--model",
        default="",
        help="also run stream and parallel_samples on this model (registry name or GGUF path), "
        "to see the ratios hold beyond the demo models",
    )
    args = ap.parse_args()
    quiet.install()
    only = set(filter(None, args.only.split(",")))
    registry = Registry()
    specs = registry.default_pair()
    results: dict[str, dict[str, Any]] = {}
    need_models = not only or only & {
        "stream",
        "samples",
        "probe",
        "evals",
        *inside.CASES,
        *parallel.CASES,
    }
    backends = (
        {"base": LlamaBackend(specs[0]), "chat": LlamaBackend(specs[1])} if need_models else {}
    )
    cases: dict[str, Callable[[], dict[str, Any]]] = {
        "stream": lambda: case_stream(backends, args.quick),
        "samples": lambda: case_samples(backends, args.quick),
        "probe": lambda: case_probe(backends, args.quick),
        "evals": lambda: case_evals(backends, args.quick),
        **{k: (lambda f=f: f(backends, args.quick)) for k, f in inside.CASES.items()},
        **{k: (lambda f=f: f(backends, args.quick)) for k, f in parallel.CASES.items()},
        "side_by_side": lambda: case_side_by_side(specs, args.quick),
        "ui_lag": lambda: case_ui_lag(args.quick),
        "startup": lambda: case_startup(args.quick),
        "memory": lambda: case_memory(args.quick),
        "remote_stream": lambda: case_remote_stream(specs, args.quick),
    }
    if args.model:
        # The optional larger model: the two per-token cases, on it alone, after the demo cases.
        big = registry.resolve(args.model)
        cases["stream@model"] = lambda: _on_model(big, case_stream, args.quick)
        cases["parallel_samples@model"] = lambda: _on_model(
            big, parallel.case_parallel_samples, args.quick
        )
        TARGETS["stream@model"] = TARGETS["stream"]
        TARGETS["parallel_samples@model"] = TARGETS["parallel_samples"]
    for name, fn in cases.items():
        if only and name not in only:
            continue
        if name == "side_by_side":
            for b in backends.values():  # free the cores and memory for the two-model cases
                b.close()
            backends.clear()
        r = fn()
        ratio = r["psmlab_s"] / r["reference_s"] if r.get("reference_s") else r["psmlab_s"]
        r.update(
            case=name,
            ratio=ratio,
            target=TARGETS[name],
            ok=ratio <= TARGETS[name] and r.get("vs_floor", 0) <= r.get("floor_target", 1e9),
        )
        results[name] = r
        if args.json:  # progress on stderr, so a failing later case does not lose the rest
            print(f"{name} ratio={ratio:.3f} {'OK' if r['ok'] else 'MISSED'}", file=sys.stderr)
        else:
            ref = f"{r['reference_s']:.3f}s" if r.get("reference_s") else "-"
            extra = f" vs_floor={r['vs_floor']:.2f}" if "vs_floor" in r else ""
            extra += f" ({r['detail']})" if "detail" in r else ""
            print(
                f"{name} ratio={ratio:.3f} psmlab={r['psmlab_s']:.3f}s reference={ref} "
                f"target={TARGETS[name]}{extra} {'OK' if r['ok'] else 'MISSED'}",
                flush=True,
            )
    if args.json:
        print(
            json.dumps(
                {
                    k: {
                        "ratio": v["ratio"],
                        "psmlab_s": v["psmlab_s"],
                        "reference_s": v.get("reference_s"),
                        "target": v["target"],
                        **{
                            x: v[x]
                            for x in v
                            if x not in ("ratio", "psmlab_s", "reference_s", "target", "case")
                        },
                    }
                    for k, v in results.items()
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PSMLAB_CONFIG", "/nonexistent/psmlab-bench.toml")
    raise SystemExit(main())
