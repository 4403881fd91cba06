"""Steering a llama.cpp context: add a control vector to the residual stream (llama_set_adapter_cvec)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Mapping
from typing import Any

import llama_cpp
import numpy as np

from psmlab.core.errors import ModelError, UsageError


def _raw_ctx(ctx: Any) -> Any:
    """A llama_context pointer from a Capture, a Llama, a LlamaContext or the pointer itself."""
    if hasattr(ctx, "_ctx"):  # llama_cpp.Llama
        ctx = ctx._ctx
    inner = getattr(ctx, "ctx", None)  # LlamaContext or psmlab Capture
    if inner is not None:
        ctx = inner
    if not ctx:
        raise UsageError("no llama.cpp context to steer (it is closed)", "open the model again")
    return ctx


def apply(
    ctx: Any,
    vectors: Mapping[int, np.ndarray] | None,
    alpha: float = 1.0,
    layers: Iterable[int] | None = None,
) -> None:
    """Add alpha * vectors[L] to the residual stream at the output of each layer L in `layers`
    (default: every layer in `vectors`), for every sequence in the context; None clears.

    Layers between the chosen ones get a zero row (llama.cpp takes one inclusive range), which
    adds exactly nothing."""
    raw = _raw_ctx(ctx)
    if vectors is None:
        rc = llama_cpp.llama_set_adapter_cvec(raw, None, 0, 0, -1, -1)
        if rc != 0:
            raise ModelError(f"llama.cpp could not clear the control vector (code {rc})")
        return
    model = llama_cpp.llama_get_model(raw)
    n_layer = int(llama_cpp.llama_model_n_layer(model))
    n_embd = int(llama_cpp.llama_model_n_embd(model))
    chosen = sorted({int(x) for x in (layers if layers is not None else vectors)})
    if not chosen:
        raise UsageError("no layers to steer", "name at least one layer")
    for L in chosen:
        if not 1 <= L < n_layer:
            raise UsageError(
                f"cannot steer layer {L}: control vectors apply to layers 1..{n_layer - 1}",
                "pick layers in that range",
            )
        if L not in vectors:
            raise UsageError(
                f"the control vector has no direction for layer {L}", "pick its layers"
            )
        if np.shape(vectors[L]) != (n_embd,):
            raise UsageError(
                f"direction for layer {L} has shape {np.shape(vectors[L])}, the model needs ({n_embd},)",
                "use a vector built for this model",
            )
    # Row L-1 is layer L: llama.cpp's buffer starts at layer 1 (layer 0 is never steered).
    data = np.zeros((n_layer, n_embd), dtype=np.float32)
    for L in chosen:
        data[L - 1] = np.float32(alpha) * np.asarray(vectors[L], dtype=np.float32)
    ptr = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    # llama.cpp copies the buffer into its own tensors, so `data` may be freed afterwards.
    rc = llama_cpp.llama_set_adapter_cvec(raw, ptr, data.size, n_embd, chosen[0], chosen[-1])
    if rc != 0:
        raise ModelError(f"llama.cpp refused the control vector (code {rc})", "check n_embd")


def clear(ctx: Any) -> None:
    """Remove any control vector from the context."""
    apply(ctx, None)
