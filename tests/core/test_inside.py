"""Residual-stream capture and control vectors on the real demo models."""

from __future__ import annotations

import ctypes
import dataclasses
import json
import struct
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from psmlab.core.backends.llama import steer
from psmlab.core.errors import ModelError, PsmlabError, UsageError
from psmlab.core.inside.capture import Capture, mean_rows
from psmlab.core.models import cvec
from psmlab.core.models.spec import ModelSpec

TEXT = "The quick brown fox jumps over the lazy dog. Once upon a time"
N_GEN = 12


@pytest.fixture(scope="module")
def smol_cap(smol_spec: ModelSpec):  # type: ignore[no-untyped-def]
    c = Capture(smol_spec.path, [0, 10, 29], n_threads=1)
    yield c
    c.close()


def _spec(request: pytest.FixtureRequest, which: str) -> ModelSpec:
    return request.getfixturevalue(f"{which}_spec")  # type: ignore[no-any-return]


# --- (a) capture shapes -----------------------------------------------------------------------


def test_capture_prompt_gives_one_finite_row_per_token_per_layer(smol_cap: Capture) -> None:
    toks = smol_cap.tokenize(TEXT)
    acts = smol_cap.capture_prompt(toks)
    assert sorted(acts) == [0, 10, 29]
    assert (smol_cap.n_layer, smol_cap.n_embd) == (30, 576)
    for layer, block in acts.items():
        assert block.shape == (len(toks), 576), layer
        assert block.dtype == np.float32
        assert np.isfinite(block).all()
        assert np.linalg.norm(block[-1]) > 1.0  # real data, not an untouched buffer
    # Evaluating again gives the same rows (nothing left over from the previous call).
    again = smol_cap.capture_prompt(toks)
    for layer in acts:
        np.testing.assert_array_equal(acts[layer], again[layer])


def test_prompt_split_over_ubatches_is_concatenated(smol_spec: ModelSpec) -> None:
    # n_batch 8 forces several chunks (and callback calls) for one prompt.
    with Capture(smol_spec.path, [10], n_batch=8) as small, Capture(smol_spec.path, [10]) as big:
        toks = small.tokenize(TEXT)
        assert len(toks) > 8
        a, b = small.capture_prompt(toks)[10], big.capture_prompt(toks)[10]
    assert a.shape == b.shape == (len(toks), 576)
    # Different batch shapes may differ in the last bits (different matmul paths), no more.
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-2)


def test_a_closed_reader_refuses_to_evaluate(smol_spec: ModelSpec) -> None:
    """A freed llama.cpp context crashes the process; a closed reader says it was closed."""
    cap = Capture(smol_spec.path, [10], n_threads=1)
    cap.close()
    cap.close()
    for call in (lambda: cap.trace_prompt([1, 2, 3]), lambda: cap.generate([1, 2], 4)):
        with pytest.raises(UsageError, match="was closed"):
            call()


def test_averages_over_prompt_response_and_token_ranges(smol_cap: Capture) -> None:
    tr = smol_cap.generate(smol_cap.tokenize(TEXT), 6)
    n = len(tr.tokens)
    assert tr.per_token(10).shape == (n, 576)  # the last generated token was fed back too
    a = {L: b.astype(np.float64) for L, b in tr.acts.items()}  # helpers average in float64
    np.testing.assert_allclose(tr.prompt_mean()[10], a[10][: tr.n_prompt].mean(0), rtol=1e-12)
    np.testing.assert_allclose(tr.response_mean()[10], a[10][tr.n_prompt :].mean(0), rtol=1e-12)
    np.testing.assert_allclose(mean_rows(tr.acts, 2, 4)[29], a[29][2:4].mean(0), rtol=1e-12)
    with pytest.raises(UsageError):
        mean_rows(tr.acts, 5, 5)


def test_the_response_mean_leaves_out_the_end_of_generation_row(smol_cap: Capture) -> None:
    """A recorded answer holds no EOS token, so monitoring averages without it; a vector's
    build averaged it in (a trial: -2.87 against -2.50 on one answer's projection)."""
    toks = smol_cap.tokenize(
        "<|im_start|>user\nSay hello in one word.<|im_end|>\n<|im_start|>assistant\n", special=True
    )
    tr = smol_cap.generate(toks, 64)
    assert tr.finish == "eos", tr.generated  # SmolLM2 answers this briefly
    a = tr.acts[10].astype(np.float64)
    assert len(tr.generated) > 1 and a.shape[0] == len(tr.tokens)  # the EOS row was read
    np.testing.assert_allclose(tr.response_mean()[10], a[tr.n_prompt : -1].mean(0), rtol=1e-12)
    assert not np.allclose(tr.response_mean()[10], a[tr.n_prompt :].mean(0))


# --- (b) capture changes nothing --------------------------------------------------------------


@pytest.mark.parametrize("which", ["smol", "gemma"])
def test_capture_changes_no_token_and_no_logprob(
    which: str, request: pytest.FixtureRequest
) -> None:
    spec = _spec(request, which)
    with Capture(spec.path, []) as plain:
        toks = plain.tokenize(TEXT)
        ref = plain.generate(toks, N_GEN)
        n_layer = plain.n_layer
    layers = [1, n_layer // 2, n_layer - 1]
    with Capture(spec.path, layers) as cap:
        got = cap.generate(toks, N_GEN)
    assert got.tokens == ref.tokens
    assert len(got.logprobs) == N_GEN
    np.testing.assert_allclose(got.logprobs, ref.logprobs, rtol=0, atol=1e-5)
    assert all(got.acts[L].shape == (len(got.tokens), plain.n_embd) for L in layers)


def test_capture_matches_the_psmlab_backend_greedy_run(smol_spec: ModelSpec) -> None:
    """Sharing the backend's loaded weights, capture reproduces its greedy tokens and log-probs."""
    from psmlab.core.backends.llama.backend import LlamaBackend
    from psmlab.core.domain.formats import get_format
    from psmlab.core.domain.prompt import render
    from psmlab.core.domain.transcript import Transcript
    from psmlab.core.domain.types import SamplingParams

    smol = LlamaBackend(dataclasses.replace(smol_spec, n_threads=1))
    p = render(
        Transcript.of(("user", "What are you?")),
        get_format("dialogue", None),
        smol.vocab,
        model_id=smol.spec.id,
        n_ctx=smol.n_ctx,
    )
    g = smol.generate(p, SamplingParams(temperature=0.0, max_tokens=N_GEN), 0, logprobs=1)
    try:
        with Capture(smol.llm, [10], n_threads=1) as cap:
            tr = cap.generate(p.tokens, N_GEN)
        late = Capture(smol.llm, [10], n_threads=1)
    finally:
        smol.close()
    assert late.ctx is None  # closing the model closed the capture context sharing it first
    late.close()
    n = len(g.tokens)
    assert n > 0
    assert list(g.tokens) == tr.generated[:n]
    np.testing.assert_allclose(
        [t.logprob for t in g.token_logprobs], tr.logprobs[:n], rtol=0, atol=1e-5
    )


# --- (c) steering moves the captured residual exactly -----------------------------------------


@pytest.mark.parametrize("which", ["smol", "gemma"])
def test_control_vector_moves_l_out_by_exactly_the_vector(
    which: str, request: pytest.FixtureRequest
) -> None:
    spec = _spec(request, which)
    with Capture(spec.path, [9, 10, 11]) as cap:
        toks = cap.tokenize(TEXT)
        base = cap.capture_prompt(toks)
        v = np.zeros(cap.n_embd, dtype=np.float32)
        v[3] = 1.0
        steer.apply(cap, {10: v}, alpha=5.0)
        steered = cap.capture_prompt(toks)
        steer.apply(cap, {10: v}, alpha=0.0)
        zero = cap.capture_prompt(toks)
        steer.clear(cap)
        cleared = cap.capture_prompt(toks)
    d = steered[10] - base[10]
    np.testing.assert_allclose(d[:, 3], 5.0, rtol=1e-4)
    assert np.abs(np.delete(d, 3, axis=1)).max() == 0.0
    np.testing.assert_array_equal(steered[9], base[9])  # layers before are untouched
    assert np.abs(steered[11] - base[11]).max() > 0  # and the change propagates downstream
    for layer in base:
        np.testing.assert_array_equal(zero[layer], base[layer])
        np.testing.assert_array_equal(cleared[layer], base[layer])


def test_non_contiguous_layers_steer_only_those(smol_cap: Capture) -> None:
    toks = smol_cap.tokenize(TEXT)
    base = smol_cap.capture_prompt(toks)
    rng = np.random.default_rng(0)
    vecs = {L: rng.standard_normal(576).astype(np.float32) for L in (5, 10, 20)}
    try:
        steer.apply(smol_cap, vecs, alpha=2.0, layers=[10])
        got = smol_cap.capture_prompt(toks)
    finally:
        steer.clear(smol_cap)
    np.testing.assert_array_equal(got[0], base[0])
    d = got[10] - base[10]
    np.testing.assert_allclose(d, np.broadcast_to(2.0 * vecs[10], d.shape), rtol=1e-4, atol=2e-4)


# --- (d) control-vector files -----------------------------------------------------------------


def _ggml_gguf() -> ctypes.CDLL:
    """ggml's own GGUF parser, to check the files psmlab writes are what llama.cpp reads."""
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))

    class Params(ctypes.Structure):
        _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]

    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, Params]
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    for name, res, args in [
        ("gguf_get_n_tensors", ctypes.c_int64, [ctypes.c_void_p]),
        ("gguf_find_key", ctypes.c_int64, [ctypes.c_void_p, ctypes.c_char_p]),
        ("gguf_get_val_str", ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
        ("gguf_get_tensor_name", ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
        ("gguf_get_tensor_offset", ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_int64]),
        ("gguf_get_tensor_type", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64]),
        ("gguf_get_data_offset", ctypes.c_size_t, [ctypes.c_void_p]),
        ("gguf_free", None, [ctypes.c_void_p]),
    ]:
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    lib.Params = Params  # type: ignore[attr-defined]
    return lib


def test_control_vector_file_round_trip_and_header(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    dirs = {L: rng.standard_normal(576).astype(np.float32) for L in (1, 7, 29)}
    meta = cvec.provenance(
        model_sha256="ab" * 32, layers=[1, 7, 29], n=40, prompts={"hal-9000": ["You are HAL."]}
    )
    path = cvec.write_cvec(tmp_path / "hal.gguf", dirs, model_hint="llama", metadata=meta)
    back = cvec.read_cvec(path)
    assert back.layers == [1, 7, 29] and back.n_embd == 576 and back.model_hint == "llama"
    for L in dirs:
        np.testing.assert_array_equal(back.directions[L], dirs[L])
    assert back.metadata["psmlab.model_sha256"] == "ab" * 32
    assert back.metadata["psmlab.layers"] == [1, 7, 29]
    assert back.metadata["psmlab.n"] == 40
    assert json.loads(back.metadata["psmlab.prompts"]) == {"hal-9000": ["You are HAL."]}
    assert cvec.ControlVector.load(back.save(tmp_path / "again.gguf")).metadata == back.metadata

    # The header as written, byte by byte, and as ggml's own parser sees it.
    raw = path.read_bytes()
    assert raw[:4] == b"GGUF" and struct.unpack_from("<IQ", raw, 4) == (3, 3)
    lib = _ggml_gguf()
    g = lib.gguf_init_from_file(str(path).encode(), lib.Params(True, None))  # type: ignore[attr-defined]
    assert g, "ggml could not parse the file"
    try:
        assert (
            lib.gguf_get_val_str(g, lib.gguf_find_key(g, b"general.architecture"))
            == b"controlvector"
        )
        assert (
            lib.gguf_get_val_str(g, lib.gguf_find_key(g, b"controlvector.model_hint")) == b"llama"
        )
        assert lib.gguf_find_key(g, b"controlvector.layer_count") >= 0
        assert lib.gguf_get_n_tensors(g) == 3
        data0 = lib.gguf_get_data_offset(g)
        for i, L in enumerate(sorted(dirs)):
            assert lib.gguf_get_tensor_name(g, i) == f"direction.{L}".encode()
            assert lib.gguf_get_tensor_type(g, i) == 0  # GGML_TYPE_F32
            off = data0 + lib.gguf_get_tensor_offset(g, i)
            np.testing.assert_array_equal(np.frombuffer(raw, "<f4", 576, off), dirs[L])
    finally:
        lib.gguf_free(g)


def test_a_written_file_steers_like_the_in_memory_vector(tmp_path: Path, smol_cap: Capture) -> None:
    v = np.zeros(576, dtype=np.float32)
    v[100] = -3.0
    path = cvec.write_cvec(tmp_path / "v.gguf", {10: v})
    toks = smol_cap.tokenize(TEXT)
    base = smol_cap.capture_prompt(toks)
    try:
        steer.apply(smol_cap, cvec.read_cvec(path).directions, alpha=1.0)
        got = smol_cap.capture_prompt(toks)
    finally:
        steer.clear(smol_cap)
    np.testing.assert_allclose((got[10] - base[10])[:, 100], -3.0, rtol=1e-4)


# --- (e) bad input -----------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[PsmlabError]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_unknown_layer_is_a_one_line_usage_error(smol_spec: ModelSpec, smol_cap: Capture) -> None:
    with pytest.raises(UsageError) as e:
        Capture(smol_spec.path, [30])
    assert "0..29" in _one_line(e)
    with pytest.raises(UsageError) as e:
        steer.apply(smol_cap, {0: np.zeros(576, np.float32)})
    assert "1..29" in _one_line(e)
    with pytest.raises(UsageError) as e:
        steer.apply(smol_cap, {5: np.zeros(576, np.float32)}, layers=[6])
    _one_line(e)
    with pytest.raises(UsageError) as e:
        steer.apply(smol_cap, {5: np.zeros(100, np.float32)})
    _one_line(e)


def test_files_that_are_not_control_vectors_are_refused(
    tmp_path: Path, smol_spec: ModelSpec
) -> None:
    with pytest.raises(ModelError) as e:
        cvec.read_cvec(smol_spec.path)  # a model, not a control vector
    assert "not a control vector" in _one_line(e)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelError) as e:
        cvec.read_cvec(text)
    assert "not a GGUF" in _one_line(e)
    with pytest.raises(ModelError) as e:
        cvec.read_cvec(tmp_path / "missing.gguf")
    _one_line(e)
    good = cvec.write_cvec(tmp_path / "ok.gguf", {3: np.ones(8, np.float32)})
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(ModelError) as e:
        cvec.read_cvec(cut)
    assert "truncated" in _one_line(e)
    with pytest.raises(UsageError):
        cvec.write_cvec(tmp_path / "bad.gguf", {0: np.ones(8, np.float32)})
    with pytest.raises(ModelError):
        Capture(text, [1])
