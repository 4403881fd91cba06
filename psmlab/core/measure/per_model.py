"""Every item on every model, each model loaded once: the loop `probe --choice` and `--opening` share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from psmlab.core.backends import Backend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.errors import PsmlabError
from psmlab.core.measure.probe_sets import ProbeItem
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

T = TypeVar("T")


def over_models(
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    items: Sequence[ProbeItem],
    score: Callable[[Backend, Format, ProbeItem], T],
    *,
    steering: Mapping[str, Steering | None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    errors: dict[str, PsmlabError] | None = None,
) -> list[T]:
    """`score` on every item on every model (`formats[id]` None: the model's default format);
    the models are loaded here and closed before returning. `errors` given: a model that fails
    is recorded there (its results dropped) and the others still run; else the first failure is
    raised."""
    pool, results = ModelPool(), []
    try:
        for s in specs:
            mine = []
            try:
                f = s.get_format(formats.get(s.id) or s.default_format)
                backend = pool.get(s, (steering or {}).get(s.id))
                for i, it in enumerate(items, 1):
                    mine.append(score(backend, f, it))
                    if progress:
                        progress(i, len(items), s.id)
            except PsmlabError as exc:
                if errors is None:
                    raise
                errors[s.id] = exc
                continue
            results += mine
    finally:
        pool.close()
    return results
