"""Read chosen layers' residual stream (`l_out-<layer>`) in-process, via llama.cpp's eval callback."""

from __future__ import annotations

import contextlib
import ctypes
import math
import re
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from psmlab.core.backends.llama import quiet
from psmlab.core.errors import LayerError, ModelError, UsageError
from psmlab.core.models.gguf import read_gguf

N_BATCH = 512
_LAYER_NAME = re.compile(rb"^l_out-(\d+)$")


class _Ggml:
    """The three ggml tensor functions llama-cpp-python does not bind, from its own libggml-base."""

    _lib: ctypes.CDLL | None = None

    @classmethod
    def lib(cls) -> ctypes.CDLL:
        if cls._lib is None:
            path = Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
            try:
                lib = ctypes.CDLL(str(path))
            except OSError as exc:
                raise ModelError(
                    f"cannot load {path} for activation capture: {exc}",
                    "reinstall llama-cpp-python (the pinned 0.3.36 ships it)",
                ) from None
            lib.ggml_get_name.argtypes = [ctypes.c_void_p]
            lib.ggml_get_name.restype = ctypes.c_char_p
            lib.ggml_nbytes.argtypes = [ctypes.c_void_p]
            lib.ggml_nbytes.restype = ctypes.c_size_t
            lib.ggml_nelements.argtypes = [ctypes.c_void_p]
            lib.ggml_nelements.restype = ctypes.c_int64
            lib.ggml_backend_tensor_get.argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_size_t,
            ]
            lib.ggml_backend_tensor_get.restype = None
            cls._lib = lib
        return cls._lib


@dataclass
class Trace:
    """Activations of one evaluated token sequence: row i of each layer's block is token i.

    `tokens` is the prompt followed by the generated tokens (if any); `logprobs[k]` is the
    log-probability of generated token k under the logits that chose it."""

    tokens: list[int]
    n_prompt: int
    acts: dict[int, np.ndarray]  # layer -> (n_rows, n_embd) float32
    logprobs: list[float] = field(default_factory=list)
    finish: str = ""  # "length" or "eos" for a generation; "" for a prompt

    @property
    def generated(self) -> list[int]:
        return self.tokens[self.n_prompt :]

    def per_token(self, layer: int) -> np.ndarray:
        """One row per token (n_rows x n_embd)."""
        return self.acts[layer]

    def mean(self, start: int = 0, end: int | None = None) -> dict[int, np.ndarray]:
        """Per layer, the float64 mean of rows start..end-1 (a token range)."""
        return mean_rows(self.acts, start, end)

    def prompt_mean(self) -> dict[int, np.ndarray]:
        return self.mean(0, self.n_prompt)

    def response_mean(self, n_answer: int | None = None) -> dict[int, np.ndarray]:
        """Mean over the generated tokens' positions (the persona-vectors 'response average'),
        the end-of-generation token's row left out: a recorded answer holds no such token, so
        monitoring and `trace` average without it, and a vector built with it measured other
        rows than the ones it is read on (an EOS row sat far from the answer's mean). An answer
        that is nothing but that token keeps its row: there is no other. `n_answer`: only the
        first so many (the tokens before a stop string; at least one row is kept)."""
        return self.mean(*self.response_span(n_answer))

    def response_span(self, n_answer: int | None = None) -> tuple[int, int]:
        """The rows `response_mean` averages (start, end)."""
        n_gen = len(self.tokens) - self.n_prompt
        if self.finish == "eos" and n_gen > 1:
            n_gen -= 1
        if n_answer is not None:
            n_gen = min(n_gen, max(1, n_answer))
        return self.n_prompt, self.n_prompt + n_gen

    def row_norms(self, start: int, end: int) -> dict[int, float]:
        """Per layer, the mean L2 norm of rows start..end-1 (the residual stream's typical size
        there, which a steering shift is measured against)."""
        return {
            L: float(np.linalg.norm(a[start:end].astype(np.float64), axis=1).mean())
            for L, a in self.acts.items()
        }


def mean_rows(
    acts: dict[int, np.ndarray], start: int = 0, end: int | None = None
) -> dict[int, np.ndarray]:
    """Per layer, the float64 mean over rows start..end-1; an empty range is a usage error."""
    out = {}
    for layer, block in acts.items():
        rows = block[start:end]
        if rows.shape[0] == 0:
            raise UsageError(
                f"no tokens in range {start}..{end} (layer {layer} has {block.shape[0]} rows)",
                "pick a non-empty token range",
            )
        # float64: sums over hundreds of rows with norms ~100 lose digits in float32.
        out[layer] = rows.astype(np.float64).mean(axis=0)
    return out


class Capture:
    """A llama.cpp context whose eval callback copies `l_out-<layer>` for the chosen layers.

    `model` is a GGUF path (loaded here, freed by `close`) or an existing `llama_cpp.Llama`,
    whose weights are shared: the capture gets its own context, because the callback must be
    set before a context is created. `layers=[]` installs no callback at all: the same
    evaluation path with nothing read, which is the reference that capture must not change.
    Not thread-safe across calls unless through `lock` (every public method holds it)."""

    def __init__(
        self,
        model: str | Path | llama_cpp.Llama,
        layers: Iterable[int],
        *,
        n_ctx: int = 2048,
        n_batch: int = N_BATCH,
        n_threads: int = 1,
        min_layer: int = 0,
    ) -> None:
        quiet.install()
        self.lock = threading.Lock()
        self._owned_model: Any = None
        self._llm: llama_cpp.Llama | None = None
        if isinstance(model, llama_cpp.Llama):
            self._llm = model  # keeps the shared weights alive as long as this context
            # Closing the Llama frees its weights: free this context first, as llama-cpp-python
            # does for the Llama's own context (weakly, so the Llama does not keep us alive).
            ref = weakref.ref(self)

            def _close_first() -> None:
                cap = ref()
                if cap is not None:
                    cap.close()

            model._model._exit_stack.callback(_close_first)
            model_ptr = model._model.model
            params = type(model.context_params).from_buffer_copy(model.context_params)
        else:
            path = Path(model).expanduser()
            # Clear errors for missing, empty, non-GGUF and cut-off files.
            read_gguf(path, weights=True)
            mparams = llama_cpp.llama_model_default_params()
            with quiet.capture_errors():
                model_ptr = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
            if not model_ptr:
                detail = "; ".join(quiet.recent_errors()) or "load failed"
                raise ModelError(f"llama.cpp could not load {path}: {detail}", "check the file")
            self._owned_model = model_ptr
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = n_ctx
            params.n_batch = min(n_batch, n_ctx)
            params.n_ubatch = min(n_batch, n_ctx)
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        self._model = model_ptr
        self.n_layer = int(llama_cpp.llama_model_n_layer(model_ptr))
        self.n_embd = int(llama_cpp.llama_model_n_embd(model_ptr))
        self.layers = self._check_layers(layers, min_layer)
        self._vocab = llama_cpp.llama_model_get_vocab(model_ptr)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))

        self._wanted = {f"l_out-{il}".encode(): il for il in self.layers}
        self._chunks: dict[int, list[np.ndarray]] = {il: [] for il in self.layers}
        self._error: str | None = None
        if self.layers:
            self._ggml = _Ggml.lib()
            # Kept on self for the context's whole life: a collected CFUNCTYPE crashes the process.
            self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._on_tensor)
            params.cb_eval = self._callback
        else:
            params.cb_eval = llama_cpp.ggml_backend_sched_eval_callback()  # NULL: no callback
        params.cb_eval_user_data = None
        with quiet.capture_errors():
            ctx = llama_cpp.llama_init_from_model(model_ptr, params)
        if not ctx:
            self._free_model()
            raise ModelError("llama.cpp could not create a context for capture", "lower n_ctx")
        self.ctx = ctx
        self.n_ctx = int(llama_cpp.llama_n_ctx(ctx))
        self.n_batch = int(params.n_batch)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._batch_live = True

    # --- setup ------------------------------------------------------------------------------

    def _check_layers(self, layers: Iterable[int], low: int) -> tuple[int, ...]:
        """`low`: the first layer the caller can use (1 for control vectors, which llama.cpp
        applies from layer 1), so the range named is the one that works."""
        out = sorted({int(x) for x in layers})
        bad = [x for x in out if not low <= x < self.n_layer]
        if bad:
            self._free_model()
            exists = 0 <= bad[0] < self.n_layer
            raise LayerError(
                f"layer {bad[0]} "
                + ("cannot hold a control vector" if exists else "does not exist")
                + f": use layers {low}..{self.n_layer - 1} of this model",
                "pick layers in that range",
                layer=bad[0],
                n_layer=self.n_layer,
                exists=exists,
            )
        return tuple(out)

    def close(self) -> None:
        """Free the context (and the model, if it was loaded here); safe to call twice."""
        with self.lock:
            if getattr(self, "_batch_live", False):
                llama_cpp.llama_batch_free(self._batch)
                self._batch_live = False
            if getattr(self, "ctx", None):
                llama_cpp.llama_free(self.ctx)
                self.ctx = None
            self._free_model()
            self._llm = None

    def _free_model(self) -> None:
        if self._owned_model:
            llama_cpp.llama_model_free(self._owned_model)
            self._owned_model = None

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter shutdown llama_cpp may already be gone.
        with contextlib.suppress(Exception):
            self.close()

    # --- the callback -----------------------------------------------------------------------

    def _on_tensor(self, tensor: int, ask: bool, _user: int) -> bool:
        name = self._ggml.ggml_get_name(tensor)
        il = self._wanted.get(name) if name is not None else None
        if ask:
            # Ask only for the wanted tensors: each True forces a sync and splits the graph.
            return il is not None
        if il is not None:
            try:
                self._copy(tensor, il)
            except Exception as exc:  # an exception must not cross into C; report it afterwards
                self._error = f"{name!r}: {exc}"
        # Always True in the data phase: False aborts the rest of the graph chunk silently.
        return True

    def _copy(self, tensor: int, il: int) -> None:
        g = self._ggml
        nbytes = int(g.ggml_nbytes(tensor))
        nel = int(g.ggml_nelements(tensor))
        if nbytes != 4 * nel or nel % self.n_embd:
            raise ValueError(f"not a float32 n_embd x n block ({nel} elements, {nbytes} bytes)")
        buf = np.empty(nel, dtype=np.float32)
        g.ggml_backend_tensor_get(tensor, buf.ctypes.data, 0, nbytes)
        self._chunks[il].append(buf.reshape(-1, self.n_embd))

    def _take(self) -> dict[int, np.ndarray]:
        """The rows collected since the last take, concatenated across ubatch chunks."""
        if self._error is not None:
            err, self._error = self._error, None
            raise ModelError(f"activation capture failed on {err}", "report this as a bug")
        out = {}
        for il, chunks in self._chunks.items():
            out[il] = np.concatenate(chunks) if chunks else np.zeros((0, self.n_embd), np.float32)
            chunks.clear()
        return out

    def tokenize(self, text: str, *, add_special: bool = True, special: bool = False) -> list[int]:
        """The model's tokens for `text` (with BOS when the model adds one and add_special)."""
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self._vocab, raw, len(raw), buf, cap, add_special, special)
        if n < 0:  # llama.cpp reports the size it needs as -n
            cap = -n
            buf = (llama_cpp.llama_token * cap)()
            n = llama_cpp.llama_tokenize(self._vocab, raw, len(raw), buf, cap, add_special, special)
        return list(buf[:n])

    # --- evaluation -------------------------------------------------------------------------

    def _reset(self) -> None:
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        for chunks in self._chunks.values():
            chunks.clear()
        self._error = None

    def _decode(self, tokens: Sequence[int], pos: int, all_outputs: bool) -> None:
        """One llama_decode of up to n_batch tokens at positions pos.., in sequence 0."""
        b = self._batch
        n = len(tokens)
        b.n_tokens = n
        for i, tok in enumerate(tokens):
            b.token[i] = tok
            b.pos[i] = pos + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = 0
            b.logits[i] = all_outputs or i == n - 1
        rc = llama_cpp.llama_decode(self.ctx, b)
        if rc != 0:
            raise ModelError(
                f"llama_decode failed (code {rc})", "shorten the prompt or raise n_ctx"
            )

    def _eval_chunks(self, tokens: Sequence[int], pos: int, all_outputs: bool) -> None:
        # Chunks aligned to position 0, each ending in an output, as Llama.eval does: the same
        # batches LlamaBackend evaluates, so captured values are those of a normal run.
        for i in range(0, len(tokens), self.n_batch):
            self._decode(tokens[i : i + self.n_batch], pos + i, all_outputs)

    def _all_outputs(self) -> bool:
        # The last layer's l_out holds only the batch's output rows (llama.cpp drops the others
        # before the last FFN), so capturing it over a prompt needs every row marked as output.
        return (self.n_layer - 1) in self.layers

    def _check_fits(self, n: int) -> None:
        if getattr(self, "ctx", None) is None:  # closed: llama.cpp would crash on a freed context
            raise UsageError("this activation reader was closed", "open a new one")
        if n > self.n_ctx:
            raise UsageError(
                f"{n} tokens do not fit the capture context (n_ctx={self.n_ctx})",
                "raise n_ctx or shorten the prompt",
            )
        if n == 0:
            raise UsageError("nothing to evaluate: the token list is empty", "pass some tokens")

    def capture_prompt(self, tokens: Sequence[int]) -> dict[int, np.ndarray]:
        """Evaluate `tokens` from an empty cache; per asked layer an (n_tokens x n_embd) block."""
        return self.trace_prompt(tokens).acts

    def trace_prompt(self, tokens: Sequence[int]) -> Trace:
        toks = [int(t) for t in tokens]
        with self.lock:
            self._check_fits(len(toks))
            self._reset()
            self._eval_chunks(toks, 0, self._all_outputs())
            return Trace(toks, len(toks), self._take())

    def generate(self, tokens: Sequence[int], max_tokens: int) -> Trace:
        """Greedy-decode up to `max_tokens` after `tokens`, capturing prompt and response rows.

        The prompt is evaluated the way LlamaBackend does (all but the last token in aligned
        chunks, then the last alone). When capturing, the last generated token is fed once more
        so every generated token has its row; that extra step changes no chosen token."""
        toks = [int(t) for t in tokens]
        with self.lock:
            self._check_fits(len(toks) + max_tokens)
            self._reset()
            all_out = self._all_outputs()
            self._eval_chunks(toks[:-1], 0, all_out)
            self._decode(toks[-1:], len(toks) - 1, True)
            logprobs: list[float] = []
            finish = "length"
            for _ in range(max_tokens):
                tok, lp = self._greedy()
                toks.append(tok)
                logprobs.append(lp)
                if llama_cpp.llama_vocab_is_eog(self._vocab, tok):
                    finish = "eos"
                    break
                if len(logprobs) < max_tokens or self.layers:
                    self._decode([tok], len(toks) - 1, True)
            if finish == "eos" and self.layers:
                self._decode(toks[-1:], len(toks) - 1, True)
            n_prompt = len(tokens)
            return Trace(toks, n_prompt, self._take(), logprobs, finish)

    def _greedy(self) -> tuple[int, float]:
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, -1)
        row = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
        tok = int(np.argmax(row))
        top = row[tok]
        lse = float(top + math.log(float(np.exp(row - top).sum())))
        return tok, float(row[tok] - lse)
