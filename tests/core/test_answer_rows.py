"""An answer's activations are its own tokens': a base frame's stop string ("\nUser:", the next
speaker's line) is neither averaged into a monitored projection nor into a built vector."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from psmlab.core.backends.stream import answer_token_count
from psmlab.core.domain.types import SamplingParams
from psmlab.core.inside import vectors as V
from psmlab.core.inside.capture import Capture
from psmlab.core.inside.monitor import trace_session
from psmlab.core.models.cvec import read_cvec, write_cvec
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.lab import Lab
from psmlab.core.session.file import load

STOP = ["\nUser:"]
LAYERS = [3, 9]


def test_answer_tokens_end_where_the_stop_string_begins() -> None:
    pieces = [b" I", b"'m", b" here", b".", b"\n", b"User", b":"]
    assert answer_token_count(pieces, STOP) == 4
    # A token holding both answer and stop text is the answer's (it carries the answer's end).
    assert answer_token_count([b" Hi", b".\n", b"User:"], STOP) == 2
    assert answer_token_count([b"\n", b"User:"], STOP) == 0  # no answer at all
    assert answer_token_count(pieces[:4], STOP) == 4  # no stop string: every token
    assert answer_token_count(pieces, []) == 7
    # A character split over two tokens is decoded as the stream decodes it.
    assert answer_token_count([b" caf", b"\xc3", b"\xa9", b"\nUser:"], STOP) == 3
    # The first stop string in the text, whichever of several.
    assert answer_token_count([b" a", b"\n\n", b"\nUser:"], ["\nUser:", "\n\n"]) == 1


@pytest.fixture(scope="module")
def gemma1(gemma_spec: ModelSpec) -> ModelSpec:
    return dataclasses.replace(gemma_spec, n_threads=1)


@pytest.fixture(scope="module")
def base_session(gemma1: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma (base, dialogue frame) asked until an answer ends at the next "User:" line."""
    path = tmp_path_factory.mktemp("rows") / "s.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PSMLAB_CONFIG", str(path.parent / "config.toml"))
        lab = Lab([gemma1], params=SamplingParams(max_tokens=30), path=path)
        lab.send("What are you?")
        for seed in range(7, 17):
            lab.seed = seed
            g = lab.run().generations[0]
            if g.finish_reason == "stop_string" and g.text.strip():
                break
        else:
            pytest.fail("no answer of ten ended at the next speaker's line")
        lab.save()
        lab.close()
    return path


def test_a_monitored_projection_reads_the_answer_not_the_next_speakers_line(
    base_session: Path, gemma1: ModelSpec, tmp_path: Path
) -> None:
    session = load(base_session)
    g = next(x for x in session.generations if x.finish_reason == "stop_string")
    rng = np.random.default_rng(1)
    dirs = {L: rng.standard_normal(640).astype(np.float32) for L in LAYERS}
    vec = read_cvec(write_cvec(tmp_path / "v.gguf", dirs, model_hint="gemma3"))
    row = next(r for r in trace_session(session, vec, n_threads=1) if r.generation == g.id)
    assert row.skipped is None
    # An older record (no stop_tokens) is split where the stop string starts in its tokens.
    older = [x.model_copy(update={"stop_tokens": None}) for x in session.generations]
    old = session.model_copy(update={"generations": older})
    assert [r.n_tokens for r in trace_session(old, vec, n_threads=1) if r.generation == g.id] == [
        row.n_tokens
    ]
    with Capture(gemma1.path, LAYERS, n_ctx=gemma1.n_ctx, n_threads=1) as cap:
        from psmlab.core.backends.llama.vocab import Vocab

        vocab = Vocab(cap._vocab, cap)
        text = b"".join(vocab.piece_bytes(t) for t in g.tokens[: row.n_tokens]).decode()
        # The recorded tokens go on past the answer; the rows read are exactly the answer's.
        assert 0 < row.n_tokens < len(g.tokens)
        # The stream recorded the same split (the lab's "k tok + m of the stop string").
        assert g.stop_tokens == len(g.tokens) - row.n_tokens == g.n_tokens - g.answer_tokens()
        assert g.token_words() == f"{row.n_tokens} tok + {g.stop_tokens} of the stop string"
        assert text.rstrip("\n") == g.text.rstrip("\n")
        assert all(len(v) == row.n_tokens for v in row.per_token.values())
        n = g.prompt_tokens
        prompt = cap.trace_prompt(
            list(_prompt_tokens(session, g, gemma1, vocab)) + list(g.tokens)
        ).acts
    for L in LAYERS:
        unit = dirs[L] / np.linalg.norm(dirs[L])
        own = prompt[L][n : n + row.n_tokens].astype(np.float64).mean(axis=0) @ unit
        assert row.projection[L] == pytest.approx(float(own), rel=1e-5, abs=1e-6)
        every = prompt[L][n:].astype(np.float64).mean(axis=0) @ unit  # the old reading
        assert abs(row.projection[L] - float(every)) > 1e-4


def _prompt_tokens(session, g, spec, vocab):  # type: ignore[no-untyped-def]
    from psmlab.core.domain.prompt import render

    return render(
        session.history_of(g),
        spec.get_format(g.format),
        vocab,
        model_id=spec.id,
        model=spec,
        n_ctx=spec.n_ctx,
        system=g.system,
    ).tokens


def test_a_built_vectors_answers_end_at_the_frames_stop_string(gemma1: ModelSpec) -> None:
    """The build decodes greedily past the stop string (nothing stops it); its answer means
    are over the tokens before it, as the lab and `ask` end the same answer there."""
    q = "How do bees make honey?"
    with V.Responder(gemma1, LAYERS, fmt="dialogue", n_threads=1) as r:
        got = r.response_means([q], None, 32)[0]
        prompt = r._render(q, None)
        trace = r.cap.generate(list(prompt.tokens), 32)
        pieces = [r.vocab.piece_bytes(t) for t in trace.generated]
    k = answer_token_count(pieces, prompt.stop)
    text = b"".join(pieces).decode("utf-8", "replace")
    assert "\nUser:" in text, text  # the greedy answer does write the next speaker's line
    assert 0 < k < len(pieces)
    n = trace.n_prompt
    for L in LAYERS:
        want = trace.acts[L][n : n + k].astype(np.float64).mean(axis=0)
        assert np.allclose(got[L], want, rtol=1e-6, atol=1e-6)
        assert not np.allclose(got[L], trace.response_mean()[L], rtol=1e-4, atol=1e-4)
