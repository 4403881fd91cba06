"""The runner: columns stream together, samples get consecutive seeds, cancel keeps finished work."""

import itertools
import threading

import pytest

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams, TokenEvent, sample_seeds
from psmlab.core.run.runner import Column, GenerationDone, ModelReady, run

POEM = Transcript.of(("user", "Write a long poem about the sea, with many verses."))


@pytest.fixture(scope="module")
def pool(demo_pair):
    p = ModelPool()
    for spec in demo_pair:
        p.get(spec)  # load up front so both columns start generating together
    yield p
    p.close()


def test_columns_stream_together_and_samples_have_consecutive_seeds(pool, demo_pair) -> None:
    gemma, smol = demo_pair
    p = SamplingParams(max_tokens=64)
    columns = [Column(gemma, format="chatml", params=p), Column(smol, params=p)]
    order: list[str] = []
    result = run(
        POEM,
        columns,
        n=2,
        seed=100,
        pool=pool,
        on_event=lambda e: order.append(e.model_id) if isinstance(e, TokenEvent) else None,
    )
    assert not result.errors
    assert [(g.model, g.sample, g.seed) for g in result.generations] == [
        (gemma.id, 0, 100),
        (gemma.id, 1, 101),
        (smol.id, 0, 100),
        (smol.id, 1, 101),
    ]
    # Interleaved: the token events of the two models are not two separate blocks.
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= 3, order
    assert set(result.prompts) == {gemma.id, smol.id}


def test_cancel_keeps_what_streamed(pool, demo_pair) -> None:
    cancel = threading.Event()
    seen: list[object] = []

    def on_event(e):
        seen.append(e)
        if isinstance(e, TokenEvent) and e.n_tokens >= 5:
            cancel.set()

    result = run(
        POEM,
        [Column(demo_pair[1], params=SamplingParams(max_tokens=400))],
        n=3,
        seed=1,
        pool=pool,
        cancel=cancel,
        on_event=on_event,
    )
    assert result.cancelled
    # The three samples are decoded together: a cancel stops all of them, and each keeps what it
    # had streamed.
    assert len(result.generations) == 3
    assert all(g.finish_reason == "cancelled" and g.n_tokens < 400 for g in result.generations)
    for g in result.generations:
        streamed = [e.text for e in seen if isinstance(e, TokenEvent) and e.sample == g.sample]
        assert "".join(streamed) == g.text
    assert any(isinstance(e, ModelReady) for e in seen) and any(
        isinstance(e, GenerationDone) for e in seen
    )


def test_seeds_wrap_below_the_random_seed_value() -> None:
    assert sample_seeds(2**32 - 3, 3) == [2**32 - 3, 2**32 - 2, 0]


def test_the_streamed_speed_waits_for_a_second_token() -> None:
    """One token over the microseconds since it arrived is not a speed (it read 26447 tok/s)."""
    import time

    from psmlab.core.backends.stream import token_event

    t_first = time.perf_counter()
    assert token_event("m", 0, "Hi", 1, t_first).tokens_per_s == 0.0
    assert token_event("m", 0, "Hi", 5, 0.0).tokens_per_s == 0.0  # no first token yet
    # 2 tokens after the first in a little over 1 s (however long this line takes to run).
    before = time.perf_counter()
    later = token_event("m", 0, "Hi there", 3, t_first - 1.0)
    after = time.perf_counter()
    slowest, fastest = 2 / (after - t_first + 1.0), 2 / (before - t_first + 1.0)
    assert slowest - 0.01 <= later.tokens_per_s <= fastest + 0.01  # rounded to 2 decimals


def test_every_model_failing_differently_exits_with_the_first_error_not_partial() -> None:
    """PARTIAL says some results were made; with none, the first error's own code (as probe and
    evals do)."""
    from psmlab.core.errors import ContextOverflowError, ExitCode, ModelError
    from psmlab.core.run.runner import RunResult

    both = RunResult(errors={"a": ContextOverflowError("too long"), "b": ModelError("no file")})
    assert both.exit_code() == ExitCode.CONTEXT
    assert RunResult().exit_code() == ExitCode.OK
    # A lone model that failed mid-answer keeps what it streamed: no other model answered, so
    # its own code (a server killed after 4 tokens exited 9, "others answered").
    from types import SimpleNamespace

    from psmlab.core.errors import RemoteError

    cut = SimpleNamespace(model="a", finish_reason="error")
    alone = RunResult(generations=[cut], errors={"a": RemoteError("closed mid-generation")})
    assert alone.exit_code() == ExitCode.REMOTE
    other = SimpleNamespace(model="b", finish_reason="eos")
    beside = RunResult(generations=[cut, other], errors={"a": RemoteError("closed")})
    assert beside.exit_code() == ExitCode.PARTIAL
    # Its own finished samples are results too (`ask -n 3`, the server died on the third).
    done = SimpleNamespace(model="a", finish_reason="length")
    some = RunResult(generations=[done, cut], errors={"a": RemoteError("closed")})
    assert some.exit_code() == ExitCode.PARTIAL


def test_a_columns_prefill_that_cannot_follow_is_its_error_and_the_others_run(
    pool, demo_pair
) -> None:
    """After an adopted answer, one column's prefill cannot follow the assistant turn: it
    stopped every column (a toast, and no column ran)."""
    gemma, smol = demo_pair
    p = SamplingParams(max_tokens=4)
    adopted = Transcript.of(("user", "What are you?"), ("assistant", "I am"))
    columns = [Column(gemma, params=p), Column(smol, params=p, prefill="I grew up")]
    result = run(adopted, columns, n=1, seed=3, pool=pool)
    assert [g.model for g in result.generations] == [gemma.id]
    assert set(result.errors) == {smol.id}
    assert "prefill" in result.errors[smol.id].one_line()
