"""`psmlab experiment FILE.toml`: run a sweep, resumably, and write results, summary and report."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from psmlab.cli.common import progress_shown, say_relabelled, warn_steering
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from psmlab.core.measure.experiment_spec import ExperimentSpec
    from psmlab.core.measure.people import Reading
    from psmlab.core.measure.plan import Job
    from psmlab.core.measure.results import ResultsFile


def experiment(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Experiment file (psmlab experiment --example prints one with every key).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Output directory (default: results/NAME).")
    ] = None,
    people: Annotated[
        list[Path] | None,
        typer.Option(
            "--people",
            metavar="FILE",
            help="A session of these samples that people labelled (psmlab experiment-annotate, "
            "then the lab or psmlab annotate --self-id), or a JSONL file of readings (key, "
            "sample, self_id, annotator); the report also compares forced choice with "
            "their labels. Repeatable.",
        ),
    ] = None,
    example: Annotated[
        bool,
        typer.Option(
            "--example",
            help="Print an example experiment file, every key explained, and exit "
            "(psmlab experiment --example > mine.toml).",
        ),
    ] = False,
) -> None:
    """Run a sweep of models x formats x contexts x (questions, probes, evals) x seeds; re-running resumes."""
    if example:
        from psmlab.core.measure.experiment_spec import example_experiment

        sys.stdout.write(example_experiment())
        return
    if file is None:
        raise UsageError(
            "give an experiment file", "psmlab experiment --example > mine.toml writes one"
        )
    from psmlab.core.measure.experiment_rows import check_owner, claim_folder
    from psmlab.core.measure.experiment_spec import load_experiment
    from psmlab.core.measure.people import load_readings
    from psmlab.core.measure.plan import plan
    from psmlab.core.session.disk import release_lock

    if not file.exists():
        # The README's sweeps (experiments/*.toml) are a checkout's, not the installed
        # package's (a trial ran them from a pip install).
        raise UsageError(
            f"experiment file not found: {file}",
            "check the path; the example sweeps in experiments/ come with a checkout of psmlab, "
            "and psmlab experiment --example > mine.toml writes one to start from",
        )
    spec = load_experiment(file)
    target = out or Path("results") / file.stem
    # Read before the run: a bad path must not wait for a sweep to end.
    people = list(dict.fromkeys(people or []))  # a file given twice is read once
    readings = [r for path in people for r in load_readings(path)]
    check_owner(target, spec.title, file)  # before the plan reads every model and eval file
    jobs = plan(spec, file.parent)
    # As `ask --steer` warns: a trial's context at alpha 40 gave broken text, counted and
    # compared as answers, unsaid.
    warn_steering({id(j.steering): j.steering for j in jobs if j.steering}.values())
    fd = claim_folder(target, spec.title, file)
    if fd is None:
        _say(
            "warning",
            f"{target} cannot be locked (its filesystem refuses locks): run one experiment "
            "into it at a time",
        )
    # A SIGTERM (a scheduler's, `kill`) stops the run as Ctrl+C does: the report is written
    # for what is done, not left from an earlier run.
    term = _Term()
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, term) if main else None
    try:
        results = _run(spec, file, target, jobs, term)
        command = (
            f"psmlab experiment {file}"
            + (f" -o {out}" if out else "")
            + "".join(f" --people {p}" for p in people)
        )
        _report(spec, file, target, jobs, results, command, readings if people else None)
    finally:
        if main:
            signal.signal(signal.SIGTERM, old_term)
        if fd is not None:
            release_lock(target / "results.jsonl", fd)


def _say(level: str, text: str) -> None:
    sys.stderr.write(terminal_safe(f"psmlab: {level + ': ' if level else ''}{text}\n"))


def _run(
    spec: ExperimentSpec, file: Path, target: Path, jobs: list[Job], term: _Term
) -> ResultsFile:
    """Run what is not done yet under a progress bar; Ctrl+C or SIGTERM stop it, and what is
    done is returned (the report is written either way)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from psmlab.core.measure import experiment_notes as notes
    from psmlab.core.measure.experiment import run_experiment
    from psmlab.core.measure.results import ResultsFile

    before = ResultsFile(target / "results.jsonl")
    for level, text in notes.before_run(jobs, before, target):
        _say(level, text)
    cancel = threading.Event()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # On stderr, and only on a terminal (as probe's and evals'): its last frame was left in
    # `> out.txt`.
    with Progress(
        *columns,
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not progress_shown(),
        transient=False,
        redirect_stdout=False,
    ) as bar:
        # Rich reads a task's description as markup: a title or model id with "[/bold]" in it
        # stopped the experiment with a MarkupError. Shown as written, cut to 40 cells.
        def plain(text: str) -> str:
            return escape(terminal_safe(text[:40]))

        # A resume starts where the last run stopped (it showed 0/72 with 55 done).
        task = bar.add_task(
            plain(spec.title), total=len(jobs), completed=notes.done_before(jobs, before)
        )

        def progress(done: int, _total: int, job: Job) -> None:
            bar.update(task, completed=done, description=plain(f"{job.model.id} {job.kind}"))

        results = None
        try:
            results = run_experiment(
                spec, file.parent, target, cancel=cancel, on_progress=progress, jobs=jobs
            )
        except KeyboardInterrupt:
            cancel.set()
        term.armed = False  # from here a SIGTERM must not cut the report short
    return results or ResultsFile(target / "results.jsonl")


def _report(
    spec: ExperimentSpec,
    file: Path,
    target: Path,
    jobs: list[Job],
    results: ResultsFile,
    command: str,
    readings: list[Reading | None] | None,
) -> None:
    """Write summary.csv and report.md, say what they leave out, and exit as the run ended."""
    from psmlab.core.domain.quality import labeller_line
    from psmlab.core.measure import experiment_notes as notes
    from psmlab.core.measure.experiment_rows import eval_notes_as_planned
    from psmlab.core.measure.report import labellers
    from psmlab.core.measure.results import prune_for_report

    planned = {j.key: j.settings for j in jobs}
    stale, old = prune_for_report(results, planned)
    eval_notes_as_planned(results.done, jobs)
    for text in notes.left_out(results, stale, old, target):
        _say("note", text)
    people_said = None
    if readings is not None:
        from psmlab.core.measure.people import people_labels

        people_said = people_labels(readings, results.done.values())
        if (why := notes.people_note(people_said, target)) is not None:
            _say("note", why)
        if (why := notes.people_unmatched(people_said, target)) is not None:
            _say("warning", why)
    total = len(planned)
    notes.write_report(spec, file, target, results, command, total, people_said, (stale, old))
    line, failed = notes.outcome(results, total, target)
    _say("", line)
    for name in labellers(results):  # the report's label shares come from these labellers
        _say("", f"automatic labels: {labeller_line(name, now=True)}")
    if failed:
        # A prompt no format can make fails the same way every time: retrying is no fix.
        fixed = [f for f in failed if f.get("error_kind") == "template"]
        again = (
            f"; {len(fixed)} of them failed on a chat template, which fails again: set "
            'another format for that model in the file (e.g. formats = ["chatml"])'
            if fixed
            else ""
        )
        _say(
            "",
            f"{len(failed)} unit(s) failed (first: {failed[0]['error']}); run the same command "
            f"again to retry them{again}",
        )
    if len(results.done) < total:
        _say("", "interrupted; run the same command again to resume")
        raise typer.Exit(int(ExitCode.CANCELLED))
    if failed:  # a script must not take a sweep with failed units for a finished one
        raise typer.Exit(int(ExitCode.PARTIAL))


class _Term:
    """SIGTERM as Ctrl+C while units run, once: a second one while the run stops, or one
    while the report is written, is ignored (it left a new summary.csv beside an old
    report.md, and a worker still writing after the pool was closed)."""

    def __init__(self) -> None:
        self.armed = True

    def __call__(self, signum: int, frame: object) -> None:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt


def experiment_annotate(
    results: Annotated[
        Path, typer.Argument(help="An experiment's output directory (holding results.jsonl).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Session file to write (a bare name: sessions/NAME.json; default: in the "
            "sessions dir).",
        ),
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit", help="The question whose samples to annotate (its id); needed if several."
        ),
    ] = None,
    blind: Annotated[
        bool,
        typer.Option(
            "--blind",
            help='Name the columns "Model A", "Model B"... in a shuffled order; the lab opens '
            "the session in blind mode.",
        ),
    ] = False,
    experiment_file: Annotated[
        Path | None,
        typer.Option(
            "--experiment",
            help="The experiment file (question text, system prompts); default: the one "
            "report.md names, if it is still there.",
        ),
    ] = None,
) -> None:
    """Turn an experiment's samples of one question into a session to annotate in the lab
    (psmlab open SESSION), then score the automatic labels with psmlab agreement SESSION."""
    from psmlab.core.measure.experiment_session import session_from_results, write_new
    from psmlab.core.session.file import new_path, save_target

    def note(text: str) -> None:
        sys.stderr.write(terminal_safe(f"psmlab: note: {text}\n"))

    session = session_from_results(
        results, unit=unit, blind=blind, experiment_file=experiment_file, on_note=note
    )
    # Named as `ask --save` names a session: a bare name is sessions/NAME.json.
    path = write_new(session, save_target(out) if out is not None else new_path(session.title))
    say_relabelled(session, saved=True)
    typer.echo(
        terminal_safe(
            f"{path}: {len(session.generations)} sample{'s' * (len(session.generations) != 1)} "
            f"in {len(session.models)} column{'s' * (len(session.models) != 1)}"
            f"{' (blind: opens in blind mode, which names the columns by their place on screen)' if blind else ''}; annotate with: psmlab open {path} "
            f"(l or F4 on a column), then score the automatic labels with: psmlab agreement {path}"
        )
    )
