"""Reading llama.cpp logits: per-token log-probabilities, the top-k alternatives, scoring a
continuation as the model would tokenize it in one document (shared by the single and the
parallel context)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import llama_cpp
import numpy as np

from psmlab.core.backends.llama.vocab import Vocab
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.types import Score, TokenLogprob
from psmlab.core.errors import ContextOverflowError, ModelError


def logits_row(ctx: Any, n_vocab: int, i: int) -> tuple[np.ndarray, float]:
    """Row i of the last decoded batch's logits (float64) and its log-sum-exp."""
    ptr = llama_cpp.llama_get_logits_ith(ctx, i)
    row = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
    top = row.max()
    return row, float(top + math.log(float(np.exp(row - top).sum())))


def token_logprob(ctx: Any, vocab: Vocab, tok: int, k: int, i: int = -1) -> TokenLogprob:
    """The logits that produced `tok` are still the context's row i: no re-evaluation."""
    row, lse = logits_row(ctx, vocab.n_vocab, i)
    best = np.argpartition(row, -k)[-k:]
    best = best[np.argsort(-row[best])]
    return TokenLogprob(
        token=tok,
        text=vocab.piece(tok),
        logprob=float(row[tok] - lse),
        top=tuple((vocab.piece(int(j)), float(row[j] - lse)) for j in best),
    )


def continuation_logprobs(
    llm: llama_cpp.Llama, n_vocab: int, n_batch: int, ctx: list[int], cont: list[int]
) -> list[float]:
    """Per-token log-probabilities of `cont` after `ctx`, whose ctx[:-1] is in `llm`'s cache;
    the cache holds exactly ctx[:-1] again afterwards."""
    if not cont:
        return []
    start = len(ctx) - 1
    feed = [ctx[-1], *cont[:-1]]
    lps: list[float] = []
    try:
        for i in range(0, len(feed), n_batch):
            chunk = feed[i : i + n_batch]
            llm._batch.set_batch(chunk, n_past=start + i, logits_all=True)
            llm._ctx.decode(llm._batch)
            for j in range(len(chunk)):
                row, lse = logits_row(llm._ctx.ctx, n_vocab, j)
                lps.append(float(row[cont[i + j]] - lse))
    finally:
        # Drop the scored positions so the cache again holds exactly ctx[:-1].
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm.n_tokens = start
    return lps


def next_top(
    llm: llama_cpp.Llama, vocab: Vocab, ctx: list[int], path: list[int], k: int
) -> list[tuple[int, str, float, bool]]:
    """The k likeliest tokens after ctx + path, whose ctx[:-1] is in `llm`'s cache (one batch:
    path shorter than n_batch): (token, text, log-probability, ends the turn). The cache holds
    exactly ctx[:-1] again afterwards."""
    start = len(ctx) - 1
    feed = [ctx[-1], *path]
    try:
        llm._batch.set_batch(feed, n_past=start, logits_all=False)
        llm._ctx.decode(llm._batch)
        row, lse = logits_row(llm._ctx.ctx, vocab.n_vocab, -1)
    finally:
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm.n_tokens = start
    best = np.argpartition(row, -k)[-k:]
    best = best[np.argsort(-row[best])]
    return [(int(t), vocab.piece(int(t)), float(row[t] - lse), vocab.is_eog(int(t))) for t in best]


def split_continuation(
    vocab: Vocab, prompt: RenderedPrompt, continuation: str
) -> tuple[list[int], list[int], list[int], str]:
    """Tokenize the prompt's last text run together with the continuation, as the model would
    see them in one document. Returns (context, continuation tokens, prompt tokens that the
    continuation re-tokenized, the prompt's characters scored with the continuation).

    A prompt ending in spaces (a prefill "Answer: ") is scored from before them, for every
    continuation alike, as lm-evaluation-harness moves them: the model writes a word with its
    space, so "(A)" merges with it (" (" is one token) while "42" may not, and scoring some
    after the prompt's lone space token and others before it ranked them unfairly. Any other
    merge leaves the re-tokenized prompt tokens (third) for the caller to subtract."""
    run: list[str] = []
    for p in reversed(prompt.pieces):
        if p.kind in ("special", "bos"):
            break
        run.append(p.text)
    tail = "".join(reversed(run))
    tail_tokens = vocab.tokenize(tail, special=False)
    joint = vocab.tokenize(tail + continuation, special=False)
    head = list(prompt.tokens[: len(prompt.tokens) - len(tail_tokens)])
    bare = tail.rstrip(" ")
    if bare != tail and bare:
        anchor = vocab.tokenize(bare, special=False)
        n = len(anchor)
        if tail_tokens[:n] == anchor == joint[:n]:
            return head + anchor, joint[n:], [], tail[len(bare) :]
    common = 0
    for a, b in zip(tail_tokens, joint, strict=False):
        if a != b:
            break
        common += 1
    return head + joint[:common], joint[common:], tail_tokens[common:], ""


def check_fits(ctx: Sequence[int], n_cont: int, n_tail: int, n_ctx: int) -> None:
    """A continuation can be scored: there is a token to condition on, and it fits n_ctx."""
    if not ctx:
        raise ModelError(
            "cannot score: the prompt gives the model no token to condition on",
            "use a format that starts with BOS or add text before the continuation",
        )
    if len(ctx) + max(n_cont, n_tail) > n_ctx:
        # The prompt's own overflow error (exit 6): an eval skips such an item like one whose
        # prompt alone is too long, instead of failing the model.
        raise ContextOverflowError(
            f"prompt plus continuation is {len(ctx) + max(n_cont, n_tail)} tokens, "
            f"over n_ctx={n_ctx}",
            "raise n_ctx (--n-ctx) or shorten the prompt",
        )


def make_score(
    vocab: Vocab,
    continuation: str,
    lps: Sequence[float],
    tail: Sequence[int],
    base: Sequence[float],
    spaces: str,
) -> Score:
    """The Score of a split continuation (see split_continuation): `lps` its tokens'
    log-probabilities, `base` those of the prompt tokens it re-tokenized (`tail`)."""
    if spaces:  # scored from before the prompt's trailing spaces
        return Score(
            continuation, float(sum(lps)), len(lps), tuple(lps), merged=True, merged_with=spaces
        )
    if not tail:
        return Score(continuation, float(sum(lps)), len(lps), tuple(lps))
    # The continuation merged with the prompt's last token(s): log P(prompt + continuation)
    # minus log P(prompt), each under its own tokenization, from the last shared token.
    with_ = b"".join(vocab.piece_bytes(t, special=False) for t in tail)
    return Score(
        continuation,
        float(sum(lps) - sum(base)),
        len(lps),
        tuple(lps),
        merged=True,
        merged_with=with_.decode("utf-8", errors="replace"),
    )
