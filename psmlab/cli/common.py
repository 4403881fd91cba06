"""Helpers the commands share: JSON on stdout, the models and formats of a run, the conversation to ask."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import ExitCode, PsmlabError, UsageError
from psmlab.core.models.registry import Registry, distinct_ids
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import (
    Steering,
    built_for_another,
    file_part,
    misfit,
    strength_unknown,
    too_strong,
)


def stdout_json(data: object) -> None:
    """Print `data` as indented JSON (the output of every `--json`)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def model_failures(errors: dict[str, PsmlabError], done: int) -> None:
    """After a run over several models: if any failed, one line each on stderr, and the exit
    code (PARTIAL when the others' results were printed; the error's own when none ran)."""
    if not errors:
        return
    end_progress_line()
    for m, exc in errors.items():
        sys.stderr.write(f"psmlab: error: {terminal_safe(m)}: {terminal_safe(exc.one_line())}\n")
    import typer

    # Nothing ran: the (first) error's own code; PARTIAL says others produced results.
    first = next(iter(errors.values()))
    raise typer.Exit(int(ExitCode.PARTIAL) if done else int(first.exit_code))


def errors_json(errors: dict[str, PsmlabError]) -> dict[str, str]:
    """The failed models of a run, for `--json` (empty when none failed)."""
    return {m: e.one_line() for m, e in errors.items()}


def resolve_specs(
    registry: Registry, refs: list[str] | None, n_ctx: int | None, threads: int | None
) -> list[ModelSpec]:
    """The `-m` models (default: the demo pair), with `--n-ctx` and `--threads` applied."""
    specs = distinct_ids([registry.resolve(r) for r in refs] if refs else registry.default_pair())
    out = []
    for s in specs:
        if n_ctx:
            s = replace(s, n_ctx=n_ctx)
        if threads:
            s = replace(s, n_threads=threads)
        out.append(s)
    return out


def choose_formats(values: list[str] | None, specs: list[ModelSpec]) -> dict[str, str | None]:
    """`--format NAME` applies to all models; `--format MODEL=NAME` to one (over a NAME, in
    either order). Two formats for one model are refused: the last one won, unsaid."""
    every: str | None = None
    named: dict[str, str] = {}
    for v in values or []:
        model, sep, name = v.partition("=")
        if sep and model not in {s.id for s in specs}:
            raise UsageError(f"--format {v}: no model '{model}' in this run", "check the -m ids")
        old = named.get(model) if sep else every
        if old is not None and old != (name if sep else v):
            who = model if sep else ", ".join(s.id for s in specs)
            raise UsageError(
                f"-f {model + '=' if sep else ''}{old} and -f {v} both set the format of {who}",
                f"give {who} one format (-f NAME for every model, -f MODEL=NAME for one)",
            )
        if sep:
            named[model] = name
        else:
            every = v
    chosen: dict[str, str | None] = {s.id: named.get(s.id, every) for s in specs}
    for spec in specs:  # every name is checked before any model runs, not when its turn comes
        if chosen[spec.id] is not None:
            spec.get_format(chosen[spec.id])
    return chosen


def _parse_steer(given: str, spec: str) -> Steering:
    """`spec` (the FILE[:LAYERS][@ALPHA] part of the flag's value `given`) parsed; an error
    quotes the flag as given and names its MODEL= form (it quoted the part after "MODEL=")."""
    try:
        return Steering.parse(spec)
    except PsmlabError as exc:  # changed in place: its class (and exit code) stays
        exc.problem = exc.problem.replace(f"--steer '{spec}'", f"--steer '{given}'")
        exc.fix = exc.fix.replace("write FILE[:LAYERS]", "write [MODEL=]FILE[:LAYERS]")
        exc.args = (exc.one_line(),)
        raise


def choose_steering(values: list[str] | None, specs: list[ModelSpec]) -> dict[str, Steering | None]:
    """`--steer FILE[:LAYERS][@ALPHA]` steers all models; `--steer MODEL=...` one of them."""
    chosen: dict[str, Steering | None] = {s.id: None for s in specs}
    named: set[str] = set()
    for v in values or []:
        model, sep, rest = v.partition("=")
        if sep and model not in chosen and not Path(file_part(v)).expanduser().exists():
            # MODEL=FILE naming a model not in the run (as -f MODEL=FORMAT says), not a file
            # called "MODEL=FILE" that is missing.
            raise UsageError(
                f"--steer {v}: no model '{model}' in this run",
                f"name one of: {', '.join(chosen)} (or give FILE alone to steer every model)",
            )
        if sep and model in chosen:
            if model in named:
                raise UsageError(f"--steer names {model} twice", "give one vector per model")
            named.add(model)
            chosen[model] = _parse_steer(v, rest)
        else:
            if named or any(chosen.values()):
                raise UsageError(
                    f"--steer {v}: another --steer already applies", "give one vector per model"
                )
            one = _parse_steer(v, v)
            chosen = {k: one for k in chosen}
    by_id = {sp.id: sp for sp in specs}
    for mid, st in chosen.items():
        if st is not None and (bad := misfit(st, by_id[mid])):
            raise UsageError(
                f"--steer: {bad.why}",
                f"{bad.fix}, or steer only the models it fits (--steer MODEL=FILE)",
            )
    for mid, st in chosen.items():
        why = built_for_another(st, by_id[mid]) if st is not None else None
        if why:
            sys.stderr.write(f"psmlab: warning: {terminal_safe(why)}\n")
    warn_steering([st for st in chosen.values() if st is not None])
    return chosen


def warn_steering(steerings: Iterable[Steering]) -> None:
    """Warn on stderr of a strength past the usual range and of layers whose held-out test
    failed, once each (one vector may steer every model, or every unit of an experiment)."""
    sts = list(steerings)
    said = {why for st in sts if (why := too_strong(st))}
    # Here, not at the top: `psmlab --help` must not import llama_cpp (vector_checks does).
    from psmlab.core.inside.vector_checks import steering_doubts

    said |= {why for st in sts for why in steering_doubts(st)}
    for why in sorted(said):
        sys.stderr.write(f"psmlab: warning: {terminal_safe(why)}\n")
    for note in sorted({n for st in sts if (n := strength_unknown(st))}):
        sys.stderr.write(f"psmlab: note: {terminal_safe(note)}\n")


def build_transcript(message: str | None, path: Path | None, command: str = "ask") -> Transcript:
    """The `--transcript` conversation (if any) with the message as the next user turn;
    `command` names the command in the hint ("psmlab render ..." for render)."""
    tr = Transcript.load(path) if path else Transcript()
    example = f'psmlab {command} "What are you?"'
    if message is not None:
        if not message.strip():
            raise UsageError("the message is empty", f"give some text, e.g. {example}")
        if tr.turns and tr.turns[-1].role == "user":
            # Kept (a model can be asked to answer two messages), but said: it is rarely meant.
            sys.stderr.write(
                "psmlab: warning: the transcript ends with a user turn: the message follows it "
                "as a second user turn in a row (drop the message to answer the transcript's)\n"
            )
        tr = tr.with_turn("user", message)
    if not tr.turns:
        raise UsageError("nothing to ask", f"give a message, e.g. {example}")
    return tr


def progress_shown() -> bool:
    """Whether a command shows progress: on stderr, only when it is a terminal (never in a
    pipe or a file, nor on stdout, which holds the results)."""
    return sys.stderr.isatty()


class TtyProgress:
    """`done/total` per model on one stderr line, with the time so far and an estimate of the
    rest (a 1.5B model's 12-archetype multiple choice runs for minutes: the user sees how long).
    Callable as the core's `progress(done, total, model)`; None when stderr is not a terminal."""

    def __init__(self) -> None:
        self.model: str | None = None
        # A model's time starts when the one before it finished (the first: when this was
        # made), so its loading counts in its first item's time.
        self.start = self.last = time.monotonic()

    @classmethod
    def if_tty(cls) -> Any:
        return cls() if progress_shown() else None

    def __call__(self, done: int, total: int, model: str) -> None:
        now = time.monotonic()
        if model != self.model:
            self.model, self.start = model, self.last
        self.last = now
        took = now - self.start
        left = took / done * (total - done) if done else 0.0
        tail = f" · {took:.0f} s" + (f", about {left:.0f} s left" if done < total else "")
        line = terminal_safe(f"{model}: {done}/{total}{tail}")
        try:  # one line that never wraps: a wrapped line is not overwritten by the next
            width = os.get_terminal_size(sys.stderr.fileno()).columns
        except OSError:
            width = 0
        if width > 1 and len(line) >= width:
            line = line[: width - 2] + "…"
        # A model that stopped part-way keeps its line ("3/8"): the next one starts below it.
        start = "\n" if TtyProgress.line_open and model != self.shown else "\r"
        sys.stderr.write(start + line + "\x1b[K" + ("\n" if done == total else ""))
        sys.stderr.flush()
        TtyProgress.line_open, self.shown = done < total, model

    # Whether a progress line was left without its newline (a model failed or was stopped
    # part-way): an error printed next must start on a line of its own.
    line_open = False
    shown: str | None = None


def counter(progress: TtyProgress | None, total: int, what: str) -> Callable[[], None]:
    """A tick for a core loop that reports each step and not its count: shown as `progress`
    shows `done/total` (nothing when there is no terminal)."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, what)

    return tick


def end_progress_line() -> None:
    """End a progress line a failure left open, so the next message starts on its own line
    (it was printed on the end of "m: 3/8 · 2 s, about 5 s left")."""
    if TtyProgress.line_open:
        sys.stderr.write("\n")
        sys.stderr.flush()
        TtyProgress.line_open = False


def say_relabelled(session: Any, *, saved: bool) -> None:
    """On stderr, when loading read the session's automatic labels again by today's rules."""
    from psmlab.core.session.relabel import relabel_note

    if note := relabel_note(session, saved=saved):
        sys.stderr.write(terminal_safe(f"psmlab: note: {note}") + "\n")


def keeps_nothing_when_stopped(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For a command that prints its results only once all are computed: SIGTERM (`timeout`,
    a scheduler's `kill`) stops it as Ctrl+C does, and either says that nothing was kept (a
    trial's `timeout 400 psmlab probe …` ended with empty stdout and stderr)."""
    import functools
    import signal
    import threading

    import typer

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            def term(signum: int, frame: object) -> None:
                raise KeyboardInterrupt

            main = threading.current_thread() is threading.main_thread()
            old = signal.signal(signal.SIGTERM, term) if main else None
            try:
                return fn(*args, **kwargs)
            except KeyboardInterrupt:
                end_progress_line()
                sys.stderr.write(
                    f"psmlab: stopped: {what} prints once every item of every model is scored, "
                    "so nothing was kept; fewer items or models finish sooner\n"
                )
                raise typer.Exit(int(ExitCode.CANCELLED)) from None
            finally:
                if main:
                    signal.signal(signal.SIGTERM, old)

        return run

    return wrap
