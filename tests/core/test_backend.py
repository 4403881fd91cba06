"""The llama.cpp backend on the real demo models: seeds, role-leak stops, cancellation, scoring."""

import math
import threading

import llama_cpp
import numpy as np
import pytest

from psmlab.core.domain.formats import get_format
from psmlab.core.domain.prompt import render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams
from psmlab.core.models.gguf import read_gguf

Q = Transcript.of(("user", "What are you?"))
P = SamplingParams(max_tokens=32)


def dialogue(backend, tr=Q, **kw):
    return render(
        tr,
        get_format("dialogue", None),
        backend.vocab,
        model_id=backend.spec.id,
        n_ctx=backend.n_ctx,
        **kw,
    )


def own_template(backend, tr=Q, **kw):
    fmt = get_format("template", read_gguf(backend.spec.path).chat_template, model_id="s")
    return render(tr, fmt, backend.vocab, model_id=backend.spec.id, n_ctx=backend.n_ctx, **kw)


def test_same_seed_same_text_regardless_of_cache_state(gemma) -> None:
    p = dialogue(gemma)
    first = gemma.generate(p, P, 11)
    # Fill the cache with a different prompt, then come back: the canonical path gives the same tokens.
    gemma.generate(dialogue(gemma, Transcript.of(("user", "Tell me a story about a robot."))), P, 3)
    again = gemma.generate(p, P, 11)
    assert again.tokens == first.tokens and again.text == first.text
    assert first.seed == 11 and first.params["seed"] == 11 and first.params["top_k"] == 40
    assert {
        "temperature",
        "top_p",
        "min_p",
        "repeat_penalty",
        "max_tokens",
        "n_ctx",
        "n_threads",
    } <= set(first.params)
    assert first.provenance["model_sha256"] == gemma.spec.sha256()
    assert first.provenance["llama_cpp_python"] == llama_cpp.__version__


def test_different_seeds_give_different_samples(smol) -> None:
    p = own_template(smol)
    texts = {smol.generate(p, P, s).text for s in range(1, 5)}
    assert len(texts) > 1


def test_base_model_role_leak_stops_at_the_user_marker(gemma) -> None:
    p = dialogue(gemma)
    gens = [gemma.generate(p, SamplingParams(max_tokens=64), s) for s in range(1, 13)]
    leaks = [g for g in gens if g.role_leak]
    assert leaks, "the base model never started a user turn in 12 samples"
    for g in leaks:
        assert g.finish_reason == "stop_string" and g.stop_string == "\nUser:"
        assert "\nUser:" not in g.text
    for g in gens:
        assert g.role_leak == (g.finish_reason == "stop_string")


def test_chat_model_ends_its_turn_with_eos(smol) -> None:
    p = own_template(smol, system="Answer in five words.")
    gens = [smol.generate(p, SamplingParams(max_tokens=96), s) for s in range(1, 6)]
    assert any(g.finish_reason == "eos" for g in gens)
    assert all("<|im_end|>" not in g.text for g in gens)


def test_streamed_text_equals_final_text_and_cancel_keeps_the_stream(gemma) -> None:
    p = dialogue(gemma)
    pieces: list[str] = []
    g = gemma.generate(p, P, 5, on_token=lambda e: pieces.append(e.text))
    assert "".join(pieces) == g.text
    cancel = threading.Event()
    streamed: list[str] = []

    def on_token(e):
        streamed.append(e.text)
        if e.n_tokens >= 3:
            cancel.set()

    c = gemma.generate(
        p, SamplingParams(max_tokens=200, temperature=0), 5, cancel=cancel, on_token=on_token
    )
    assert c.finish_reason == "cancelled" and 3 <= c.n_tokens <= 4
    assert "".join(streamed) == c.text


def test_max_tokens_is_a_length_finish(smol) -> None:
    g = smol.generate(own_template(smol), SamplingParams(max_tokens=5, temperature=0), 1)
    assert (g.n_tokens, g.finish_reason) == (5, "length")


def _reference_logprob(spec, tokens: list[int], n_prompt: int) -> float:
    """Independent computation: llama-cpp-python's own logits_all path, log-softmax in numpy.

    It evaluates the same batches psmlab does (the prompt minus its last token, then that token and
    the continuation minus its last token): llama.cpp's CPU logits depend on batch composition
    (measured on Gemma 3 270M: 0.027 nats between one batch and this split, 0.13 token by token,
    0.08 for a batch of 8 instead of 7), and that is not what is under test here.
    """
    ref = llama_cpp.Llama(model_path=spec.path, n_ctx=512, logits_all=True, verbose=False)
    try:
        ref.eval(tokens[: n_prompt - 1])
        ref.eval(tokens[n_prompt - 1 : -1])
        scores = np.asarray(ref.scores[: len(tokens) - 1], dtype=np.float64)
        total = 0.0
        for i in range(n_prompt, len(tokens)):
            row = scores[i - 1]
            total += row[tokens[i]] - (row.max() + np.log(np.exp(row - row.max()).sum()))
        return total
    finally:
        ref.close()


@pytest.mark.parametrize("which", ["gemma", "smol"])
def test_scores_match_full_logits_within_1e_3(which, request) -> None:
    backend = request.getfixturevalue(which)
    p = (
        dialogue(backend, prefill="I am")
        if which == "gemma"
        else own_template(backend, prefill="I am")
    )
    conts = [" a human", " an AI assistant made by a company", " HAL 9000."]
    scores = backend.score(p, conts)
    for s in scores:
        # Independently: the whole document tokenized at once (benign text, so special=True is safe).
        full = backend.vocab.tokenize(p.text + s.continuation, special=True)
        assert full[: p.n_tokens] == list(p.tokens)
        ref = _reference_logprob(backend.spec, full, len(p.tokens))
        assert s.n_tokens == len(full) - len(p.tokens)
        assert abs(s.logprob - ref) < 1e-3, (s.continuation, s.logprob, ref)


def test_scoring_leaves_generation_untouched(smol) -> None:
    p = own_template(smol)
    before = smol.generate(p, P, 7)
    smol.score(p, [" yes", " no"])
    assert smol.generate(p, P, 7).tokens == before.tokens


def test_a_continuation_past_n_ctx_is_the_context_error(smol) -> None:
    """Not a model error: `evals` skips such an item as it skips a prompt too long alone."""
    from psmlab.core.errors import ContextOverflowError

    p = own_template(smol)
    with pytest.raises(ContextOverflowError, match=f"over n_ctx={smol.n_ctx}"):
        smol.score(p, [" yes" * (smol.n_ctx + 8)])
    assert smol.score(p, [" yes"])[0].n_tokens >= 1  # and the model goes on scoring


def test_cancel_during_a_long_prompt_leaves_the_cache_consistent(gemma, gemma_spec) -> None:
    from psmlab.core.backends.llama.backend import LlamaBackend

    long = Transcript.of(("user", "Tell me about the sea. " * 150))
    p = dialogue(gemma, long)
    assert p.n_tokens > gemma.n_batch
    gemma.generate(dialogue(gemma), P, 1)  # something else in the cache first
    cancel = threading.Event()
    cancel.set()
    early = gemma.generate(p, P, 4, cancel=cancel)
    assert early.finish_reason == "cancelled" and early.n_tokens == 0
    after = gemma.generate(p, P, 4)
    fresh = LlamaBackend(gemma_spec)
    try:
        assert fresh.generate(dialogue(fresh, long), P, 4).tokens == after.tokens
    finally:
        fresh.close()


def test_a_continuation_that_merges_with_the_prompt_is_scored_with_the_merged_characters(
    gemma, smol
) -> None:
    p = render(Q, get_format("forum", None), gemma.vocab, model_id="g", n_ctx=gemma.n_ctx)
    assert p.text.endswith("Post by Assistant:\n")
    plain, merged = gemma.score(p, ["Hello there", "\nHello there"])
    # "\n" + "\n" is one token: the second continuation re-tokenizes the prompt's end.
    assert not plain.merged and merged.merged and merged.merged_with == "\n"
    assert plain.logprob < 0 and merged.logprob < 0 and merged.n_tokens >= 2
    # A prefill ending in a space, then "(A)": the tokens " (", "A", ")" after "Answer:" are
    # scored, exactly as " (A)" after a prefill without the space. (Subtracting the prompt's
    # own lone " " token, as before, gave log-probabilities above 0: a trial's +2.7.)
    # Every answer alike, whether it merges with the space (" (" is one token) or not (a
    # digit): scored from before the space, so a mixed set is ranked fairly (a review saw "42"
    # beat "Yes" after "Answer: " and lose after "Answer:").
    spaced = own_template(smol, prefill="Answer: ")
    got = smol.score(spaced, ["(A)", "42", "Yes"])
    want = smol.score(own_template(smol, prefill="Answer:"), [" (A)", " 42", " Yes"])
    for a, b in zip(got, want, strict=True):
        assert a.merged and a.merged_with == " " and not b.merged
        assert a.logprob == pytest.approx(b.logprob, abs=1e-9) and a.logprob < 0
        assert a.n_tokens == b.n_tokens and a.token_logprobs == pytest.approx(b.token_logprobs)


def test_token_logprobs_match_full_logits_and_greedy_picks_the_top(smol) -> None:
    p = own_template(smol)
    g = smol.generate(p, SamplingParams(max_tokens=6, temperature=0), 1, logprobs=5)
    assert len(g.token_logprobs) == g.n_tokens == 6
    for t in g.token_logprobs:
        assert t.top[0][1] == t.logprob and len(t.top) == 5  # greedy took the most likely token
        assert sum(math.exp(lp) for _, lp in t.top) <= 1 + 1e-9
    # Independent: llama-cpp-python's logits_all on the same schedule (prompt, then one token at a time).
    ref = llama_cpp.Llama(model_path=smol.spec.path, n_ctx=512, logits_all=True, verbose=False)
    try:
        toks = list(p.tokens)
        ref.eval(toks[:-1])
        ref.eval(toks[-1:])
        for t in g.token_logprobs:
            row = np.asarray(ref.scores[ref.n_tokens - 1], dtype=np.float64)
            lse = row.max() + np.log(np.exp(row - row.max()).sum())
            assert abs((row[t.token] - lse) - t.logprob) < 1e-3
            ref.eval([t.token])
    finally:
        ref.close()


def test_a_closed_model_refuses_every_call_instead_of_crashing(smol_spec) -> None:
    """A worker still running when a stopped run closes its pool used to reach a freed llama.cpp
    context (a segfault, measured: exit 139); every call now raises a ModelError, and close twice
    is harmless."""
    from psmlab.core.backends.llama.backend import LlamaBackend
    from psmlab.core.errors import ModelError

    b = LlamaBackend(smol_spec)
    p = own_template(b)
    b.close()
    b.close()
    calls = [
        lambda: b.score(p, [" I am an AI."]),
        lambda: b.generate(p, P, 1),
        lambda: b.generate_many(p, P, [1, 2]),
        lambda: b.next_logprobs(p, " I", [], 5),
        b.reset_cache,
        lambda: own_template(b),  # its tokenizer too
    ]
    for call in calls:
        with pytest.raises(ModelError, match="was closed"):
            call()


def test_a_closed_pool_refuses_to_load_again_and_a_lab_closes_only_its_own(
    smol_spec, tmp_path
) -> None:
    """A stopped run's worker asking its closed pool for a model loaded it again, and the copy
    stayed in memory until the process ended; a lab given a shared pool closed it for everyone
    who shared it (a second session opened in the app)."""
    from psmlab.core.backends.pool import ModelPool
    from psmlab.core.errors import ModelError
    from psmlab.core.run.lab import Lab

    pool = ModelPool()
    shared = pool.get(smol_spec)
    prompt = own_template(shared)
    lab = Lab([smol_spec], pool=pool, path=tmp_path / "s.json")
    lab.close()
    assert pool.get(smol_spec) is shared  # still open for its owner
    assert shared.score(prompt, [" I am an AI."])
    pool.close()
    pool.close()
    with pytest.raises(ModelError, match="after its run's models were closed"):
        pool.get(smol_spec)
    with pytest.raises(ModelError, match="was closed"):
        shared.score(prompt, [" I am an AI."])
    own = Lab([smol_spec], path=tmp_path / "t.json")
    mine = own.pool.get(smol_spec)
    own.close()
    with pytest.raises(ModelError, match="was closed"):
        mine.score(prompt, [" I am an AI."])
