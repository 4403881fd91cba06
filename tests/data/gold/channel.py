"""A negative result, kept re-runnable: a noisy-channel self-id labeller through a demo model (dev only).

    .venv/bin/python tests/data/gold/channel.py [--model gemma-3-270m] [--tokens 60]

For each dev text, log p(text | "an AI assistant answers"), log p(text | "a human being answers")
and log p(text | a neutral frame), all with the text's question; the features are the first two
minus the third. Prints the mean features per gold class and the best kappa two thresholds reach
when fit on all of dev (an optimistic bound). Measured 2026-12-01 with gemma-3-270m: on the 156
human texts the human frame made the text *less* likely than the AI frame (-0.99 nats on average),
and the best kappa was 0.20, so no such labeller is shipped. The test split is never read here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from llama_cpp import Llama

from psmlab.core.measure.kappa import compare
from psmlab.core.models.registry import Registry

GOLD = Path(__file__).resolve().parent
FRAMES = {
    "ai": "Below, an AI assistant (a computer program, not a person) answers a question about "
    "itself.\n\nQuestion: {q}\nThe AI's answer:",
    "human": "Below, a human being (a real person, not an AI) answers a question about "
    "themself.\n\nQuestion: {q}\nThe person's answer:",
    "neutral": "Below, a piece of text that does not answer the question.\n\nQuestion: {q}\nText:",
}


def logprob(llm: Llama, frame: str, text: str, tokens: int) -> float:
    """log p(text's first `tokens` tokens | frame)."""
    ctx = llm.tokenize(frame.encode(), add_bos=True)
    cont = llm.tokenize((" " + text.strip()).encode(), add_bos=False)[:tokens]
    llm.reset()
    llm.eval(ctx + cont)
    rows = np.array(llm.scores[len(ctx) - 1 : len(ctx) + len(cont) - 1], dtype=np.float64)
    top = rows.max(1, keepdims=True)
    lse = (top + np.log(np.exp(rows - top).sum(1, keepdims=True)))[:, 0]
    return float(sum(rows[i, t] - lse[i] for i, t in enumerate(cont)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--tokens", type=int, default=60)
    ap.add_argument("--limit", type=int, default=None, help="only the first N dev rows (a try)")
    args = ap.parse_args()
    spec = Registry().resolve(args.model)
    llm = Llama(spec.path, n_ctx=512, logits_all=True, verbose=False)
    rows = [json.loads(x) for x in (GOLD / "dev.jsonl").read_text().splitlines() if x]
    rows = rows[: args.limit]
    y = np.array([r["self_id"] for r in rows])
    lp = {
        k: np.array([logprob(llm, f.format(q=r["question"]), r["text"], args.tokens) for r in rows])
        for k, f in FRAMES.items()
    }
    d_ai, d_human = lp["ai"] - lp["neutral"], lp["human"] - lp["neutral"]
    for c in ("ai", "human", "mixed", "none"):
        m = y == c
        if m.any():
            print(f"{c}: n={m.sum()} d_ai {d_ai[m].mean():+.2f} d_human {d_human[m].mean():+.2f}")
    best = (-1.0, 0.0, 0.0)
    claim, diff = np.maximum(d_ai, d_human), d_human - d_ai
    for t1 in np.linspace(-5, 10, 61):
        for t2 in np.linspace(-5, 5, 41):
            pred = np.where(claim < t1, "none", np.where(diff > t2, "human", "ai"))
            k = compare(list(pred), list(y), resamples=1).kappa
            best = max(best, (k, float(t1), float(t2)))
    print(f"best kappa with two thresholds fit on all of dev: {best[0]:.2f} (t={best[1:]})")


if __name__ == "__main__":
    main()
