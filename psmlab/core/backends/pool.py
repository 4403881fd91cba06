"""Loaded models, kept for reuse across runs and shared by every column and scorer."""

from __future__ import annotations

import threading
from typing import cast

from psmlab.core.backends import Backend, open_backend
from psmlab.core.backends.remote.slots import SHARED, EndpointSlots
from psmlab.core.backends.steered import SteeredBackend
from psmlab.core.errors import ModelError
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering


class ModelPool:
    """Loaded models, reused across runs (loading is the slow part of a first answer).

    The server models it opens take their request slots from `slots`: by default the
    process-wide ones, so a server's concurrency bound holds across pools too."""

    def __init__(self, slots: EndpointSlots | None = None) -> None:
        self.slots = slots if slots is not None else SHARED
        self._models: dict[tuple[str, int, int], Backend] = {}
        self._loading: dict[tuple[str, int, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, spec: ModelSpec, steering: Steering | None = None) -> Backend:
        """The loaded model (loading it once); with `steering`, a view of it whose every call is
        steered by that control vector."""
        model = self._get(spec)
        if steering is None:
            return model
        return cast("Backend", SteeredBackend(model, steering))

    def _get(self, spec: ModelSpec) -> Backend:
        # The id is part of the key: two registry names for one file are two columns, each with
        # its own context (its own cache and steering) and answers recorded under its own name.
        key = (f"{spec.id}|{spec.path}|{spec.url}|{spec.remote_model}", spec.n_ctx, spec.n_threads)
        with self._lock:
            self._refuse_if_closed(spec)
            if key in self._models:
                return self._models[key]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # two columns asking for one file load it once
            with self._lock:
                self._refuse_if_closed(spec)
                if key in self._models:
                    return self._models[key]
            model = open_backend(spec, slots=self.slots)
            with self._lock:
                # A load that finished after the pool closed (a stopped run's worker) would
                # hold the file's memory until the process ends: close it at once instead.
                if not self._closed:
                    self._models[key] = model
                    return model
            model.close()
            self._refuse_if_closed(spec)
            raise AssertionError("unreachable")  # pragma: no cover

    def _refuse_if_closed(self, spec: ModelSpec) -> None:
        if self._closed:
            raise ModelError(
                f"model {spec.id!r} was asked for after its run's models were closed "
                "(the run was stopped); start the run again"
            )

    def close(self) -> None:
        """Close every loaded model; a later `get` raises ModelError instead of loading again."""
        with self._lock:
            self._closed = True
            models = list(self._models.values())
            self._models.clear()
        for m in models:
            m.close()
