"""A model's vocabulary through llama.cpp: tokenize with or without control tokens, pieces, BOS/EOG;
loading just the vocabulary of a GGUF file."""

from __future__ import annotations

import ctypes
from typing import Any

import llama_cpp

from psmlab.core.backends.llama import quiet
from psmlab.core.errors import ModelError
from psmlab.core.models.gguf import read_gguf
from psmlab.core.models.spec import ModelSpec

_CONTROL = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN


class Vocab:
    """Implements the `Tokenizer` protocol on a llama.cpp vocab pointer."""

    def __init__(self, vocab: Any, owner: object) -> None:
        # The vocab pointer lives inside its model: keep the owner alive as long as we are.
        self._owner = owner
        self._vocab = vocab
        bos = llama_cpp.llama_vocab_bos(vocab)
        eos = llama_cpp.llama_vocab_eos(vocab)
        self._bos: int | None = bos if bos >= 0 else None
        self._eos: int | None = eos if eos >= 0 else None
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))

    def invalidate(self) -> None:
        """The model was freed: any further use is an error, not a crash."""
        self._vocab = None

    def _ptr(self) -> Any:
        if self._vocab is None:
            # A ModelError, as every other call on a closed model: front ends show it in one line.
            raise ModelError("this model was closed", "run the command again")
        return self._vocab

    @property
    def bos_id(self) -> int | None:
        return self._bos

    @property
    def eos_id(self) -> int | None:
        return self._eos

    @property
    def add_bos(self) -> bool:
        return self._add_bos

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        """Never adds BOS: prompt code decides that once, explicitly."""
        raw = text.encode("utf-8")
        if not raw:
            return []
        cap = len(raw) + 8
        buf = (llama_cpp.llama_token * cap)()
        vocab = self._ptr()
        n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, cap, False, special)
        if n < 0:
            cap = -n
            buf = (llama_cpp.llama_token * cap)()
            n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, cap, False, special)
            if n < 0:
                raise RuntimeError(f"llama.cpp could not tokenize {len(raw)} bytes")
        return list(buf[:n])

    def piece_bytes(self, token: int, *, special: bool = True) -> bytes:
        vocab = self._ptr()
        buf = ctypes.create_string_buffer(
            256
        )  # per call: vocabularies are used from several threads
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, special)
        if n < 0:  # longer than the buffer: grow and retry
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    def piece(self, token: int) -> str:
        return self.piece_bytes(token).decode("utf-8", errors="replace")

    def is_control(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_get_attr(self._ptr(), token) & _CONTROL)

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._ptr(), token))


def load_error(spec: ModelSpec, exc: Exception) -> ModelError:
    detail = "; ".join(quiet.recent_errors()) or str(exc)
    low = detail.lower()
    if "kv cache" in low or "failed to initialize the context" in low:
        # The weights loaded; the context (n_ctx tokens of KV cache) did not fit in memory.
        trained = f" (trained on {spec.trained_ctx})" if spec.trained_ctx else ""
        return ModelError(
            f"llama.cpp could not load {spec.id}: not enough memory for a context of "
            f"{spec.n_ctx} tokens{trained} ({detail})",
            "lower n_ctx (--n-ctx, or n_ctx in the config entry)",
        )
    return ModelError(
        f"llama.cpp could not load {spec.id} ({spec.path}): {detail}",
        "check that the file is a complete GGUF of an architecture this llama.cpp supports",
    )


class VocabOnly:
    """Just the vocabulary (no weights, no context): fast, for rendering and counting tokens."""

    def __init__(self, spec: ModelSpec) -> None:
        # Set first: a load that fails must still close cleanly (no __del__ noise).
        self._model = None
        quiet.install()
        path = spec.vocab_path or spec.path  # a server model's local copy, if it has one
        read_gguf(path)  # clear errors for missing, empty, non-GGUF and truncated files
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        with quiet.capture_errors():
            model = llama_cpp.llama_model_load_from_file(path.encode("utf-8"), params)
            if not model:
                # A file cut short says so, as a full load does (`render` gave llama.cpp's own
                # message where `ask` said how many bytes were missing).
                read_gguf(path, weights=True)
                raise load_error(spec, RuntimeError("load failed"))
        self._model = model
        self.spec = spec
        self.vocab = Vocab(llama_cpp.llama_model_get_vocab(model), self)

    def close(self) -> None:
        if self._model:
            self.vocab.invalidate()
            llama_cpp.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        self.close()
