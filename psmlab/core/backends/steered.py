"""A loaded model seen through a control vector: every generate and score call is steered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psmlab.core.backends import Backend
    from psmlab.core.models.steering import Steering


class SteeredBackend:
    """Wraps a backend so callers that know nothing of steering (probes, evals, the forced-choice
    panel) score and sample under `steering`. The weights stay shared with unsteered users; the
    backend applies the vector per call and forgets any cache made under another one."""

    def __init__(self, inner: Backend, steering: Steering) -> None:
        self.inner = inner
        self.steering = steering

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["steering"] = self.steering
        return self.inner.generate(*args, **kwargs)

    def generate_many(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["steering"] = self.steering
        return self.inner.generate_many(*args, **kwargs)

    def score(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["steering"] = self.steering
        return self.inner.score(*args, **kwargs)

    def provenance(self) -> dict[str, Any]:
        return {**self.inner.provenance(), "steer": self.steering.record()}

    def close(self) -> None:
        """The pool owns the model; closing a view of it closes nothing."""

    def __getattr__(self, name: str) -> Any:
        # spec, vocab, n_ctx, load_s, reset_cache, lock, ...: the model's own.
        return getattr(self.inner, name)
