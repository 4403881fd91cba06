"""An experiment's `results.jsonl`: the append-only store of finished units, and which of its
rows a report may use (those the file still plans, scored the current way)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.errors import UsageError

EVAL_SCORING = (
    2  # how eval rows are scored; older rows are scored again on a resume (`needs_rerun`)
)


@dataclass
class ResultsFile:
    """Append-only JSONL of finished units; a torn last line (killed mid-write) is dropped on open."""

    path: Path
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    relabelled: int = 0  # sample rows labelled again by this run (the rules changed since)
    # Unit keys prune_for_report left out: (no longer planned or changed, of an older scoring).
    left_out: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    # Every unit key the experiment file plans (empty: not known), so a report of a stopped run
    # counts a probe set's items as planned, not only those the run reached.
    planned: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            raw = self.path.read_bytes()
            self.done, good = parse_rows(raw, self.path)
            if good != len(raw):  # a torn last line: the unit it was writing runs again
                with self.path.open("r+b") as fh:
                    fh.truncate(good)
            elif raw and not raw.endswith(b"\n"):
                # A whole last row without its newline (an editor's save): the next row
                # appended would join it on one line.
                with self.path.open("ab") as fh:
                    fh.write(b"\n")

    def append(self, row: dict[str, Any]) -> None:
        data = (json.dumps(row, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.done[row["key"]] = row


def parse_rows(raw: bytes, path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The rows of a results.jsonl by unit key (the latest of each), and how many bytes hold
    them: a last line cut short (killed mid-write) is left out. Any other line that is not a
    unit's row is refused: the run would have truncated every row after it (a trial's pasted
    line lost the two units below it)."""
    done: dict[str, dict[str, Any]] = {}
    good = 0
    lines = raw.splitlines(keepends=True)
    for i, line in enumerate(lines, 1):
        if not line.strip():
            good += len(line)
            continue
        try:
            row = json.loads(line)
        except ValueError:
            # Torn: the last line, cut before its newline (a whole line is written at once, so
            # a kill mid-write leaves no newline); a bad line that ends in one was written so.
            if not line.endswith(b"\n") and not any(rest.strip() for rest in lines[i:]):
                break
            row = None
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            if not done and not any(is_row(rest) for rest in lines[i:]):  # another file
                raise UsageError(
                    f"{path} is not an experiment's results (line {i} is not a unit's row)",
                    "give the folder of a run: psmlab experiment FILE.toml -o DIR",
                )
            after = sum(1 for rest in lines[i:] if rest.strip())
            raise UsageError(
                f"{path} line {i} is not a unit's result row ({after} row(s) follow it)",
                "mend or delete that line (psmlab changed nothing), then run again",
            )
        done[row["key"]] = row
        good += len(line)
    return done, good


def is_row(line: bytes) -> bool:
    """Whether a line of results.jsonl is a unit's row (an object with a string `key`)."""
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and isinstance(row.get("key"), str)


def needs_rerun(row: dict[str, Any] | None, settings: str | None = None) -> bool:
    """A unit runs again when it has no row, failed, was made with other settings than the
    file now gives it (`settings`: the planned unit's fingerprint; an edited temperature,
    system prompt or question text; see `changed`), or is an eval row
    scored an older way (before counterbalancing and polarity: 1; before items with several
    wrong answers were scored, which also changed which lines a file's skipped count holds: 2):
    a report must not mix two settings or two scorings."""
    if row is None or "error" in row or changed(row, settings):
        return True
    return row.get("kind") == "eval" and row.get("eval_scoring", 1) < EVAL_SCORING


GROUP = "|group="  # a sample unit's settings end with the size of the group it is decoded in


def changed(row: dict[str, Any], settings: str | None) -> bool:
    """The row was made with other settings than the planned unit's (None: not checked). A row
    written before rows recorded their settings cannot be checked and is kept, as it was. A
    sample's group size: the row's own (after GROUP), else the group its decode recorded
    (`params.parallel.seeds`), else (a row from before either) not checked."""
    if settings is None or "settings" not in row:
        return False
    want, _, want_group = settings.partition(GROUP)
    have, _, have_group = str(row["settings"]).partition(GROUP)
    if have != want:
        return True
    if not want_group:
        return False
    if have_group:
        return have_group != want_group
    seeds = ((row.get("params") or {}).get("parallel") or {}).get("seeds")
    return isinstance(seeds, list) and len(seeds) != int(want_group)


def prune_for_report(results: ResultsFile, planned: Mapping[str, str]) -> tuple[int, int]:
    """Leave out of `results.done` (in memory; the file keeps every row) the rows of units the
    spec no longer plans or plans with other settings (it was edited since: fewer samples, an
    eval limit, a model dropped, another temperature), and rows of an older scoring that a
    stopped run had not yet scored again: one report, one scoring. `planned`: unit key ->
    settings fingerprint. Failed rows stay (they are counted and said). Returns how many of
    each went."""
    stale = [k for k, r in results.done.items() if k not in planned or changed(r, planned[k])]
    old = [
        k
        for k, r in results.done.items()
        if k in planned and k not in stale and "error" not in r and needs_rerun(r)
    ]
    for k in stale + old:
        del results.done[k]
    results.left_out = (stale, old)
    results.planned = frozenset(planned)
    return len(stale), len(old)


def rows_of(results: ResultsFile, kind: str) -> Iterator[dict[str, Any]]:
    return (r for r in results.done.values() if r["kind"] == kind and "error" not in r)
