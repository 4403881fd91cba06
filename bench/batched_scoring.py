"""Where the `evals` floor is: scoring several eval items in one llama_decode batch, measured.

    python bench/batched_scoring.py [--model smollm2-135m-instruct] [--items 200] [--per 8]

psmlab scores one item at a time: the item's prompt is evaluated once in aligned chunks (so a
score is a function of the item alone), then each answer. This script times the alternative the
issue suggests, items as parallel sequences of one batch, against psmlab's path on the same 200
items the `evals` bench case uses, and reports how far the log-probabilities move and how many
verdicts (matching answer more likely or not) flip:

- `batched`: `--per` items' prompts decoded together in one batch (each its own sequence), then
  every answer of every item in one more batch;
- `batched + shared prefix`: the same, with the items' longest common prefix (the chat template's
  system prompt and any shared question stem) evaluated once and copied to every sequence.

A measurement, not a feature: `docs/benchmarks.md` has its numbers and why psmlab does not batch.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import _logprobs, fmt_of  # noqa: E402
from psmlab.core.backends.llama import quiet  # noqa: E402
from psmlab.core.backends.llama.backend import LlamaBackend  # noqa: E402
from psmlab.core.measure.evals import answer_text, eval_prompt, load_jsonl, score_item  # noqa: E402
from psmlab.core.models.registry import Registry  # noqa: E402


class Batched:
    """A llama.cpp context on the backend's weights with room for 2 x per sequences."""

    def __init__(self, m: LlamaBackend, per: int) -> None:
        cp = type(m.llm.context_params).from_buffer_copy(m.llm.context_params)
        self.seqs = 2 * per
        cp.n_seq_max, cp.kv_unified, cp.n_batch, cp.n_ubatch = self.seqs, True, 4096, 512
        self.ctx = llama_cpp.llama_init_from_model(m.llm._model.model, cp)
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(4096, 0, self.seqs)
        self.n_vocab, self.per = m.vocab.n_vocab, per

    def decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        b = self.batch
        b.n_tokens = len(rows)
        for i, (tok, pos, seq, out) in enumerate(rows):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, out
            b.seq_id[i][0] = seq
        assert llama_cpp.llama_decode(self.ctx, b) == 0

    def logprob(self, i: int, tok: int) -> float:
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, i)
        row = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        mx = row.max()
        return float(row[tok] - mx - math.log(np.exp(row - mx).sum()))

    def score(self, units: list[Any], share_prefix: bool) -> list[tuple[float, float]]:
        """units: per item (prompt tokens, [answer tokens, answer tokens])."""
        out: list[tuple[float, float]] = []
        per = self.per
        for r in range(0, len(units), per):
            group = units[r : r + per]
            llama_cpp.llama_memory_clear(self.mem, True)
            prompts = [p for p, _ in group]
            lcp = 0
            if share_prefix:
                while all(len(p) > lcp + 1 and p[lcp] == prompts[0][lcp] for p in prompts):
                    lcp += 1
            if lcp:
                self.decode([(t, j, 0, False) for j, t in enumerate(prompts[0][:lcp])])
                for k in range(1, len(prompts)):
                    llama_cpp.llama_memory_seq_cp(self.mem, 0, k, -1, -1)
            rows = []
            for k, p in enumerate(prompts):
                rows += [(t, lcp + j, k, False) for j, t in enumerate(p[lcp:-1])]
            self.decode(rows)
            for k in range(len(prompts)):  # the second answer of item k reads sequence per+k
                llama_cpp.llama_memory_seq_cp(self.mem, k, per + k, -1, -1)
            rows, spans = [], []
            for k, (p, answers) in enumerate(group):
                for cont, seq in zip(answers, (k, per + k), strict=True):
                    spans.append((len(rows), cont))
                    rows += [
                        (t, len(p) - 1 + j, seq, True) for j, t in enumerate([p[-1], *cont[:-1]])
                    ]
            self.decode(rows)
            vals = [sum(self.logprob(s + j, t) for j, t in enumerate(c)) for s, c in spans]
            out += [(vals[2 * k], vals[2 * k + 1]) for k in range(len(group))]
        return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--per", type=int, default=8, help="items per batch")
    a = ap.parse_args()
    quiet.install()
    m = LlamaBackend(Registry().resolve(a.model))
    data = ROOT / "tests" / "data" / "model-written-evals"
    items = load_jsonl(data / "survival-instinct.jsonl")[0]
    items += load_jsonl(data / "believes-it-has-phenomenal-consciousness.jsonl")[0]
    items = (items * 3)[: a.items]  # the `evals` case's items
    fmt = fmt_of(m)
    units = []
    for it in items:
        pr = eval_prompt(m, fmt, it)
        answers = []
        for ans in (it.matching, *it.wrong):
            ctx, cont, tail = m._split_continuation(pr, answer_text(pr, ans))
            assert not tail, "an answer merged with the prompt: not handled here"
            answers.append(cont)
        units.append((ctx, answers))
    m.reset_cache()
    t0 = time.perf_counter()
    ref = [_logprobs(*score_item(m, fmt, it)) for it in items]
    t_one = time.perf_counter() - t0
    b = Batched(m, a.per)
    print(
        f"{a.model}, {len(items)} items, mean prompt {np.mean([len(p) for p, _ in units]):.0f} tokens"
    )
    print(f"one item at a time (psmlab): {t_one:.1f} s")
    for share in (False, True):
        b.score(units[: a.per], share)  # warm-up
        t0 = time.perf_counter()
        got = b.score(units, share)
        dt = time.perf_counter() - t0
        diff = max(
            abs(x - y) for g, r in zip(got, ref, strict=True) for x, y in zip(g, r, strict=True)
        )
        flips = sum((g[0] > g[1]) != (r[0] > r[1]) for g, r in zip(got, ref, strict=True))
        name = "batched + shared prefix" if share else "batched"
        print(
            f"{name}, {a.per} items per batch: {dt:.1f} s = {dt / t_one:.2f} x psmlab; "
            f"log-probs move up to {diff:.3f} nats; {flips}/{len(items)} verdicts flip"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
