"""Streaming side-by-side view for `psmlab ask` on a terminal (rich Live), and the final print."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live

from psmlab.cli.measure_said import system_text
from psmlab.cli.output import out_console, side_by_side
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.domain.types import AutoLabel, Generation, TokenEvent
from psmlab.core.run.runner import (
    Column,
    Event,
    GenerationDone,
    ModelFailed,
    ModelLoading,
    ModelReady,
    RunResult,
)


def prompt_warnings(result: RunResult) -> None:
    """The prompts' warnings on stderr (a template's default system prompt, typed markers),
    one plain line each, never wrapped or parsed as markup; `--json` writes them too (a trial's
    `--system ''` run said nothing of SmolLM2's injected default)."""
    for model_id, p in result.prompts.items():
        for w in p.warnings:
            sys.stderr.write(terminal_safe(f"psmlab: warning [{model_id}]: {w}") + "\n")


def _headers(columns: list[Column]) -> list[tuple[str, str]]:
    return [
        (
            c.spec.id,
            f"{c.spec.kind} · {c.format_name}"
            + (f" · {system_text(c.system)}" if c.system is not None else "")
            + (f" · steered {c.steering.label()}" if c.steering else ""),
        )
        for c in columns
    ]


class LiveColumns:
    """Tokens stream into each model's column; redraws are throttled, not one per token."""

    def __init__(self, columns: list[Column], n: int, question: str | None = None) -> None:
        self.columns = columns
        self.n = n
        self.question = question
        self.done: dict[tuple[str, int], Generation] = {}
        self.streaming: dict[tuple[str, int], str] = {}
        self.errors: dict = {}
        self.status: dict[str, str] = {}
        self.labels: dict[str, AutoLabel] = {}  # the final labels, once the run has them
        self._last = 0.0
        self.live = Live(self._table(), console=Console(), refresh_per_second=8, transient=False)

    def _table(self):  # type: ignore[no-untyped-def]
        return side_by_side(
            _headers(self.columns),
            self.n,
            self.done,
            self.streaming,
            self.errors,
            self.status,
            question=self.question,
            labels=self.labels,
        )

    def relabel(self, labels: dict[str, AutoLabel]) -> None:
        """Show the run's final labels (a judge's, when one labels) in the finished cells."""
        self.labels = dict(labels)
        self.live.update(self._table())

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, TokenEvent):
            key = (ev.model_id, ev.sample)
            self.streaming[key] = self.streaming.get(key, "") + ev.text
        elif isinstance(ev, GenerationDone):
            self.done[(ev.generation.model, ev.generation.sample)] = ev.generation
        elif isinstance(ev, ModelFailed):
            self.errors[ev.model_id] = ev.error
        elif isinstance(ev, ModelLoading):
            self.status[ev.model_id] = "loading model…"
        elif isinstance(ev, ModelReady):
            self.status[ev.model_id] = f"prompt: {ev.prompt.tokens_label}, waiting…"
        now = time.monotonic()
        if not isinstance(ev, TokenEvent) or now - self._last > 0.1:
            self._last = now
            self.live.update(self._table())

    def __enter__(self) -> LiveColumns:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self._table())
        self.live.__exit__(None, None, None)


def batch_note(generations: Sequence[Generation], *, saved: bool = False) -> str | None:
    """Said under the answers when samples were decoded together: a trial re-ran "seed 8" alone
    and got other text (logits depend on the batch), as `--help`'s "sample i uses seed+i" let
    them expect."""
    groups = {
        tuple(p["seeds"])
        for g in generations
        if isinstance(p := g.params.get("parallel"), dict)
        and isinstance(p.get("seeds"), list)
        and len(p["seeds"]) > 1
    }
    if not groups:
        return None
    # Every batch (-n past a batch's size, or a context that fits fewer, makes several).
    batches = ", ".join(f"{g[0]}..{g[-1]}" for g in sorted(groups))
    return (
        f"note: samples were decoded together in a batch (seeds {batches}): a sample's seed "
        "alone gives other text; the same -n and --seed make them again"
        # Only with --save is there a session to replay (a trial looked for one).
        + (", and so does psmlab replay of the saved session" if saved else "")
    )


def print_result(
    columns: list[Column],
    n: int,
    result: RunResult,
    *,
    printed_live: bool,
    after: object = None,
    question: str | None = None,
    labels: dict[str, AutoLabel] | None = None,
    saved: bool = False,
) -> None:
    """The columns, then `after` (e.g. the label shares), then warnings and errors on stderr."""
    if not printed_live:
        done = {(g.model, g.sample): g for g in result.generations}
        table = side_by_side(
            _headers(columns), n, done, {}, result.errors, question=question, labels=labels
        )
        Console().print(table)  # its columns share the width: 80 in a pipe, not 240 of padding
    if note := batch_note(result.generations, saved=saved):
        out_console().print(note, style="dim", highlight=False, markup=False)
    if after is not None:
        out_console().print(after)
    sys.stdout.flush()  # the table first, then the notes on stderr
    prompt_warnings(result)
    for model_id, e in result.errors.items():
        sys.stderr.write(terminal_safe(f"psmlab: error [{model_id}]: {e.one_line()}") + "\n")
    if result.cancelled:
        sys.stderr.write("psmlab: cancelled: showing what finished\n")
