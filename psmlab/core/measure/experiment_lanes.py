"""Units run at once: each server is a lane with as many workers as it allows, the CPU one lane;
what Ctrl+C, and a second Ctrl+C, leave written."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from psmlab.core.errors import PsmlabError, TemplateError
from psmlab.core.measure.plan import Job
from psmlab.core.measure.results import ResultsFile

Progress = Callable[[int, int, Job], None]


def lanes_of(jobs: list[Job]) -> dict[str, tuple[list[Job], int]]:
    """Local models share one lane (the CPU); each server is its own lane with its own bound."""
    lanes: dict[str, tuple[list[Job], int]] = {}
    for j in jobs:
        m = j.model
        key, width = (f"server:{m.url}", m.concurrency) if m.is_remote else ("local", 1)
        queue_, w = lanes.setdefault(key, ([], width))
        queue_.append(j)
        lanes[key] = (queue_, max(w, width))
    return lanes


def run_lanes(
    lanes: dict[str, tuple[list[Job], int]],
    total: int,
    finished: int,
    run_one: Callable[[Job], dict[str, Any]],
    base_row: Callable[[Job], dict[str, Any]],
    results: ResultsFile,
    cancel: threading.Event | None,
    on_progress: Progress | None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Every lane at once, each with as many workers as its server allows (`concurrency`):
    `run_one` makes a unit's row (`base_row`: the unit's fields, for a row of an error it
    raised). `stop` is set when a Ctrl+C lands (in this thread): the workers start nothing
    more."""
    lock = threading.Lock()
    count = [finished]
    stop = stop or threading.Event()
    gone = threading.Event()  # a second Ctrl+C: nothing more is written

    def worker(q: list[Job]) -> None:
        while True:
            if stop.is_set() or (cancel is not None and cancel.is_set()):
                return
            with lock:
                if not q:
                    return
                job = q.pop(0)
            try:
                row = run_one(job)
            except Exception as exc:  # a bug must not silently stop this lane's other units
                # The unit's fields as a failed row has them (a report groups rows by model,
                # format and context, and a failed probe by its set and item).
                row = {**base_row(job), **failed_fields(exc)}
            with lock:
                if gone.is_set():
                    return
                results.append(row)
                count[0] += 1
                if on_progress:
                    on_progress(count[0], total, job)

    threads = [
        threading.Thread(target=worker, args=(q,), daemon=True, name="psmlab-lane")
        for q, width in lanes.values()
        for _ in range(width)
    ]
    try:
        for t in threads:  # started inside: a Ctrl+C among the starts stops the started ones
            t.start()
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        stop.set()  # units in flight finish and are written; nothing else starts
        try:
            for t in threads:
                if t.is_alive():
                    t.join()
        except KeyboardInterrupt:
            # A second Ctrl+C stops the wait. The units still in flight are not written: a
            # resume runs them again.
            with lock:
                gone.set()
            raise Abandoned from None
        raise


class Abandoned(KeyboardInterrupt):
    """A second Ctrl+C: units still run on their models (a local decode holds its model's lock
    to its end, so closing the models would wait for them); the caller must not close them."""


def failed_fields(exc: Exception, kind: str | None = None) -> dict[str, str]:
    """A failed unit's fields: its error and the error's kind, which a front end reads, never
    the words: "template" (a chat template that cannot render: a retry fails again),
    "labeller" (the judge failed, not the model), "internal" (not a psmlab error: a bug), else
    by exit code ("model", "format", ...)."""
    if not isinstance(exc, PsmlabError):
        return {"error": f"internal error: {type(exc).__name__}: {exc}", "error_kind": "internal"}
    kind = kind or ("template" if isinstance(exc, TemplateError) else exc.exit_code.name.lower())
    return {"error": exc.one_line(), "error_kind": kind}
