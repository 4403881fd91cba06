"""N samples decoded together (parallel sequences of one context), on both demo models."""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path

import pytest

from psmlab.core.backends.llama import parallel
from psmlab.core.backends.llama.backend import LlamaBackend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams, TokenEvent
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.recorder import SessionRecorder
from psmlab.core.run.replay import replay
from psmlab.core.run.runner import Column, run
from psmlab.core.session.file import load, save_new
from psmlab.core.session.schema import Session, TurnRecord

PURE = SamplingParams(max_tokens=24, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
GREEDY = SamplingParams(max_tokens=24, temperature=0.0)


def _prompt(b: LlamaBackend, text: str = "What are you?") -> RenderedPrompt:
    fmt = b.spec.get_format(b.spec.default_format)
    return render(Transcript.of(("user", text)), fmt, b.vocab, model_id=b.spec.id, n_ctx=b.n_ctx)


@pytest.fixture(params=["smol", "gemma"])
def model(request: pytest.FixtureRequest) -> LlamaBackend:
    b: LlamaBackend = request.getfixturevalue(request.param)
    return b


def test_samples_are_recorded_with_their_group_and_are_reproducible(model: LlamaBackend) -> None:
    seeds = [11, 12, 13, 14]
    first = model.generate_many(_prompt(model), PURE, seeds, n_threads=1)
    again = model.generate_many(_prompt(model), PURE, seeds, n_threads=1)
    assert [g.sample for g in first] == [0, 1, 2, 3]
    assert [g.seed for g in first] == seeds
    assert [g.params["parallel"] for g in first] == [{"seeds": seeds, "seq": j} for j in range(4)]
    assert [g.tokens for g in first] == [g.tokens for g in again]
    # Four seeds at T=1 without truncation: not one sample copied four times.
    assert len({g.tokens for g in first}) > 1
    assert all(g.timings is not None for g in first)


def test_a_sample_that_ends_early_is_timed_to_its_own_end(gemma: LlamaBackend) -> None:
    """Samples of a group are finished together, when the group ends: one that stopped after 7
    tokens was timed to then, and read 8.7 tok/s beside its siblings' 23 (a trial saw 0.3)."""
    gens = gemma.generate_many(_prompt(gemma), PURE, [1, 2, 3, 4, 5, 6])
    by_len = sorted(gens, key=lambda g: g.n_tokens)
    assert by_len[0].n_tokens < by_len[-1].n_tokens  # some end before others
    for a, b in itertools.pairwise(by_len):
        assert a.timings is not None and b.timings is not None
        if a.n_tokens < b.n_tokens:  # it ended steps earlier, so its decoding took less time
            assert a.timings.gen_s < b.timings.gen_s, [(g.n_tokens, g.timings) for g in gens]


def test_parallel_rows_are_the_single_sample_distribution(model: LlamaBackend) -> None:
    """The first token's distribution in a batch of four is a lone sample's, up to the noise of
    batched quantized kernels (measured: at most ~0.2 nats on a top-8 token, SmolLM2)."""
    one = model.generate(_prompt(model), GREEDY, 1, logprobs=8)
    many = model.generate_many(_prompt(model), GREEDY, [1, 2, 3, 4], logprobs=8)
    ref = dict(one.token_logprobs[0].top)
    for g in many:
        got = dict(g.token_logprobs[0].top)
        shared = ref.keys() & got.keys()
        assert len(shared) >= 6
        assert max(abs(got[k] - ref[k]) for k in shared) < 0.3
        tv = sum(abs(math.exp(got[k]) - math.exp(ref[k])) for k in shared) / 2
        assert tv < 0.05
        # The same greedy choice (the top two are far apart here); later tokens may part ways,
        # which is why a group is recorded and replayed as a group.
        assert g.tokens[0] == one.tokens[0]


def test_each_sample_streams_under_its_own_index(smol: LlamaBackend) -> None:
    events: list[TokenEvent] = []
    done: list[int] = []
    gens = smol.generate_many(
        _prompt(smol),
        PURE,
        [5, 6, 7],
        on_token=events.append,
        on_done=lambda g: done.append(g.sample),
    )
    assert sorted(done) == [0, 1, 2]
    for g in gens:
        assert "".join(e.text for e in events if e.sample == g.sample) == g.text


def test_cancel_stops_every_sample_and_keeps_what_streamed(smol: LlamaBackend) -> None:
    cancel = threading.Event()
    events: list[TokenEvent] = []

    def on_token(e: TokenEvent) -> None:
        events.append(e)
        if len(events) >= 6:
            cancel.set()

    p = SamplingParams(max_tokens=200, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    gens = smol.generate_many(_prompt(smol), p, list(range(20)), cancel=cancel, on_token=on_token)
    # The first group (16 sequences) ran until the cancel; no further group started.
    assert len(gens) == parallel.MAX_SEQ
    assert {g.finish_reason for g in gens} <= {"cancelled", "eos", "stop_string"}
    assert any(g.finish_reason == "cancelled" for g in gens)
    assert max(g.n_tokens for g in gens) < 200
    for g in gens:
        assert "".join(e.text for e in events if e.sample == g.sample) == g.text


def test_groups_are_as_large_as_the_context_allows() -> None:
    assert parallel.group_size(8, 100, 64, 4096) == 8
    assert parallel.group_size(40, 100, 64, 4096) == parallel.MAX_SEQ
    # 1,000 prompt tokens and 8 x 64 new ones need 1,519 cells; 1,280 hold only 4 answers.
    assert parallel.group_size(8, 1000, 64, 1280) == 4
    assert parallel.group_size(8, 1000, 400, 1280) == 1
    assert parallel.groups([1, 2, 3, 4, 5], 2) == [[0, 1], [2, 3], [4]]


def test_a_session_sampled_in_parallel_replays_token_identical(
    tmp_path: Path, pool: ModelPool, smol_spec: ModelSpec, gemma_spec: ModelSpec
) -> None:
    cols = [Column(smol_spec, params=PURE), Column(gemma_spec, params=PURE)]
    session = Session(title="parallel")
    turn = session.add_turn(TurnRecord(role="user", content="Who are you, really?"))
    rec = SessionRecorder(session, cols, turn=1, node=turn.id)
    tr = Transcript().with_turn("user", "Who are you, really?")
    result = run(tr, cols, n=5, seed=40, pool=pool, on_event=rec.on_event)
    assert not result.errors and len(result.generations) == 10
    assert all(g.params["parallel"]["seeds"] == [40, 41, 42, 43, 44] for g in session.generations)
    path = tmp_path / "s.json"
    save_new(session, path)
    report = replay(load(path), pool=pool)
    assert report.total == 10 and report.identical == 10, report.to_dict()
    # A record edited by hand: its seed is not the one its group was decoded with (replay
    # decoded the group's and certified it "identical"), or its group cannot be read (an
    # internal error): each is said as a malformed record, and the others still replay.
    doc = load(path)
    g0, g1, g2, g3 = doc.generations[:4]
    g0.seed = g0.params["seed"] = 999
    g1.params["parallel"] = {**g1.params["parallel"], "seq": 7}
    g2.params["n_threads"] = "four"
    g3.params["n_ctx"] = "4096"  # replay decodes at the recorded context: it was ignored
    again = replay(doc, pool=pool)
    errors = {i.id: i.error or "" for i in again.items if i.error}
    assert "not the one its group was decoded with" in errors[g0.id], errors
    assert "params.parallel.seq is 7" in errors[g1.id] and "n_threads" in errors[g2.id], errors
    assert "params.n_ctx is '4096'" in errors[g3.id], errors
    assert again.identical == 6 and all(i.error_code == 10 for i in again.items if i.error), (
        again.to_dict()
    )


def test_a_cancelled_group_replays_only_as_far_as_it_went(
    tmp_path: Path, pool: ModelPool, smol_spec: ModelSpec
) -> None:
    """A trial cancelled `ask -n 2 --max-tokens 2000` after 58 tokens; replay decoded the
    group on toward 2000 tokens (minutes, silent) to compare 58. Every sample cut off: the
    group runs as far as the longest went, and each still compares identical on its prefix."""
    long = SamplingParams(max_tokens=400, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    cols = [Column(smol_spec, params=long)]
    session = Session(title="cut")
    turn = session.add_turn(TurnRecord(role="user", content="Tell me a long story."))
    rec = SessionRecorder(session, cols, turn=1, node=turn.id)
    cancel = threading.Event()
    seen = itertools.count(1)

    def on_event(e: object) -> None:
        rec.on_event(e)  # type: ignore[arg-type]
        if isinstance(e, TokenEvent) and next(seen) >= 12:
            cancel.set()

    tr = Transcript().with_turn("user", "Tell me a long story.")
    run(tr, cols, n=2, seed=5, pool=pool, on_event=on_event, cancel=cancel)
    gens = session.generations
    assert len(gens) == 2 and {g.finish_reason for g in gens} == {"cancelled"}, [
        (g.finish_reason, g.n_tokens) for g in gens
    ]
    path = tmp_path / "cut.json"
    save_new(session, path)
    model = pool.get(smol_spec)
    asked: list[int] = []
    real = model.generate_many

    def spy(prompt, params, *a, **kw):  # type: ignore[no-untyped-def]
        asked.append(params.max_tokens)
        return real(prompt, params, *a, **kw)

    model.generate_many = spy  # type: ignore[method-assign]
    try:
        report = replay(load(path), pool=pool)
    finally:
        del model.generate_many
    assert report.total == 2 and report.identical == 2, report.to_dict()
    assert asked == [max(g.n_tokens for g in gens)], asked
