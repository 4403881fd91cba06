"""The canonical prompt prefix a llama.cpp context caches: one evaluation path for the single and
the parallel context, so a seeded answer does not depend on what the cache held before."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


class PrefillCancelled(Exception):
    """Cancelled while evaluating a prompt."""


def reusable(canon: Sequence[int], target: Sequence[int], n_batch: int) -> int:
    """How many cached tokens a canonical evaluation of `target` may keep from `canon`."""
    common = 0
    for a, b in zip(canon, target, strict=False):
        if a != b:
            break
        common += 1
    if common == len(target) == len(canon):
        return common
    # Only whole aligned chunks are reusable: a partial chunk was evaluated as a smaller batch.
    return (common // n_batch) * n_batch


class CanonicalPrefix:
    """The prompt tokens a context's cache holds, evaluated the canonical way: the prompt minus
    its last token in n_batch chunks aligned to position 0 (the last token is the caller's, read
    with the answer). The same batches as a fresh evaluation give the same logits, which is what
    makes a seeded generation replay exactly whatever the cache held."""

    def __init__(self, n_batch: int) -> None:
        self.n_batch = n_batch
        self.tokens: tuple[int, ...] = ()

    def forget(self) -> None:
        """The cache was emptied (or computed under another control vector)."""
        self.tokens = ()

    def fill(
        self,
        tokens: Sequence[int],
        *,
        drop_from: Callable[[int], None],
        evaluate: Callable[[int, Sequence[int]], None],
        cancel: threading.Event | None = None,
    ) -> int:
        """Leave exactly tokens[:-1] cached: `drop_from(keep)` removes cached positions from
        `keep` on, `evaluate(pos, chunk)` evaluates a chunk at `pos`. Returns the tokens evaluated
        (not counting the last); raises PrefillCancelled between chunks when `cancel` is set."""
        target = tuple(tokens[:-1])
        keep = reusable(self.tokens, target, self.n_batch)
        drop_from(keep)
        # If evaluation fails or is cancelled part way, the cache holds only what is recorded here.
        self.tokens = target[:keep]
        for i in range(keep, len(target), self.n_batch):
            if cancel is not None and cancel.is_set():
                raise PrefillCancelled
            # One aligned chunk per call: a chance to cancel a long prompt between chunks.
            evaluate(i, target[i : i + self.n_batch])
            self.tokens = target[: i + self.n_batch]
        self.tokens = target
        return len(target) - keep
