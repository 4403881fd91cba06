"""`psmlab experiment FILE.toml`: run a sweep, resumably, and write results, summary and report."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from psmlab.cli.common import say_relabelled
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import ExitCode


def experiment(
    file: Annotated[
        Path,
        typer.Argument(
            help="Experiment file (examples: experiments/*.toml in psmlab's repository)."
        ),
    ],
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
) -> None:
    """Run a sweep of models x formats x contexts x (questions, probes, evals) x seeds; re-running resumes."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from psmlab.core.measure.experiment import run_experiment
    from psmlab.core.measure.experiment_rows import (
        check_owner,
        claim_folder,
        eval_notes_as_planned,
        given_of,
    )
    from psmlab.core.measure.experiment_spec import load_experiment
    from psmlab.core.measure.plan import plan
    from psmlab.core.measure.report import report_md
    from psmlab.core.measure.report_csv import summary_csv
    from psmlab.core.session.disk import atomic_write, release_lock

    spec = load_experiment(file)
    target = out or Path("results") / file.stem
    # Read before the run: a bad path must not wait for a sweep to end.
    from psmlab.core.measure.people import load_readings

    people = list(dict.fromkeys(people or []))  # a file given twice is read once
    readings = [r for path in people for r in load_readings(path)]
    check_owner(target, spec.title, file)  # before the plan reads every model and eval file
    jobs = plan(spec, file.parent)
    fd = claim_folder(target, spec.title, file)
    if fd is None:
        sys.stderr.write(
            terminal_safe(
                f"psmlab: warning: {target} cannot be locked (its filesystem refuses locks): "
                "run one experiment into it at a time\n"
            )
        )
    # A SIGTERM (a scheduler's, `kill`) stops the run as Ctrl+C does: the report is written
    # for what is done, not left from an earlier run.
    term = _Term()
    main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, term) if main else None
    try:
        # An eval file's lines that cannot be scored are said before the run, as `psmlab evals`
        # says them (the report only counts them).
        skipped = {j.payload[0]: j.payload[3][0] for j in jobs if j.kind == "eval"}
        for name, k in skipped.items():
            if k:
                sys.stderr.write(
                    terminal_safe(
                        f"psmlab: warning: {name}: {k} line(s) could not be scored and are skipped "
                        f"(psmlab evals on the file lists them)\n"
                    )
                )
        planned = {j.key: j.settings for j in jobs}
        total = len(planned)
        from psmlab.core.measure.results import ResultsFile, changed, needs_rerun, prune_for_report

        before = ResultsFile(target / "results.jsonl").done
        redo = sum(
            1
            for j in jobs
            if (r := before.get(j.key)) is not None and "error" not in r and changed(r, j.settings)
        )
        if redo:
            # Said before the run: an edited file must not quietly reuse rows made another way.
            sys.stderr.write(
                terminal_safe(
                    f"psmlab: note: {redo} unit(s) in {target}/results.jsonl were made with other "
                    "settings than the file now gives (sampling, prompts, steering, items); they "
                    "run again\n"
                )
            )
        cancel = threading.Event()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=False,
            console=None,
            redirect_stdout=False,
        ) as bar:
            # Rich reads a task's description as markup: a title or model id with "[/bold]" in it
            # stopped the experiment with a MarkupError. Shown as written, cut to 40 cells.
            def plain(text: str) -> str:
                return escape(terminal_safe(text[:40]))

            # A resume starts where the last run stopped (it showed 0/72 with 55 done).
            done_before = sum(1 for j in jobs if not needs_rerun(before.get(j.key), j.settings))
            task = bar.add_task(plain(spec.title), total=total, completed=done_before)

            def progress(done: int, _total: int, job: object) -> None:
                what = f"{job.model.id} {job.kind}"  # type: ignore[attr-defined]
                bar.update(task, completed=done, description=plain(what))

            try:
                results = run_experiment(
                    spec, file.parent, target, cancel=cancel, on_progress=progress, jobs=jobs
                )
            except KeyboardInterrupt:
                cancel.set()
                results = None
            term.armed = False  # from here a SIGTERM must not cut the report short
        results = results or ResultsFile(target / "results.jsonl")
        stale, old = prune_for_report(results, planned)
        eval_notes_as_planned(results.done, jobs)
        where = terminal_safe(f"{target}/results.jsonl")
        if results.relabelled:
            sys.stderr.write(
                f"psmlab: note: {results.relabelled} sample row(s) of {where} were labelled by "
                "another version of the marker rules; labelled again with these (texts unchanged)\n"
            )
        if stale:
            sys.stderr.write(
                f"psmlab: note: {stale} row(s) of {where} are units this file no longer plans, or "
                "plans with other settings (it changed since they ran); they are left out of the "
                "report\n"
            )
        if old:
            sys.stderr.write(
                f"psmlab: note: {old} row(s) of {where} were scored by an older psmlab and not "
                "yet scored again; they are left out of the report\n"
            )
        command = (
            f"psmlab experiment {file}"
            + (f" -o {out}" if out else "")
            + "".join(f" --people {p}" for p in people or [])
        )
        people_said = None
        if people:
            from psmlab.core.measure.people import people_labels

            people_said = people_labels(readings, results.done.values())
            if not people_said.values:
                why = (
                    f"{people_said.disputed} labelled sample(s) are disputed (the annotators "
                    "differ) and none is agreed"
                    if people_said.disputed
                    else "no sample of these results is labelled in the --people file(s); make "
                    f"sessions with psmlab experiment-annotate {target} and label them (the lab, or "
                    "psmlab annotate --self-id)"
                )
                sys.stderr.write(terminal_safe(f"psmlab: note: {why}\n"))
        atomic_write(target / "summary.csv", summary_csv(results).encode())
        atomic_write(
            target / "report.md",
            report_md(
                spec.title,
                results,
                command,
                total,
                given_of(spec),
                people_said,
                file,
                left_out=(stale, old),
            ).encode(),
        )
        done = len(results.done)
        failed = [r for r in results.done.values() if "error" in r]
        # A failed unit is written (with its error) but measured nothing: said here, not only below.
        bad = (
            ""
            if not failed
            else " (every one failed)"
            if len(failed) == done
            else f" ({len(failed)} failed)"
        )
        sys.stderr.write(
            terminal_safe(
                f"psmlab: {done}/{total} units in {target}/results.jsonl{bad}; "
                "summary.csv and report.md written\n"
            )
        )
        from psmlab.core.domain.quality import labeller_line
        from psmlab.core.measure.report import labellers

        for name in labellers(results):  # the report's label shares come from these labellers
            sys.stderr.write(
                terminal_safe(f"psmlab: automatic labels: {labeller_line(name, now=True)}\n")
            )
        if failed:
            sys.stderr.write(
                terminal_safe(
                    f"psmlab: {len(failed)} unit(s) failed (first: {failed[0]['error']}); "
                    "run the same command again to retry them\n"
                )
            )
        if done < total:
            sys.stderr.write("psmlab: interrupted; run the same command again to resume\n")
            raise typer.Exit(int(ExitCode.CANCELLED))
        if failed:  # a script must not take a sweep with failed units for a finished one
            raise typer.Exit(int(ExitCode.PARTIAL))

    finally:
        if main:
            signal.signal(signal.SIGTERM, old_term)
        if fd is not None:
            release_lock(target / "results.jsonl", fd)


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
        typer.Option("-o", "--out", help="Session file to write (default: in the sessions dir)."),
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
    from psmlab.core.session.file import new_path

    def note(text: str) -> None:
        sys.stderr.write(terminal_safe(f"psmlab: note: {text}\n"))

    session = session_from_results(
        results, unit=unit, blind=blind, experiment_file=experiment_file, on_note=note
    )
    path = write_new(session, out or new_path(session.title))
    say_relabelled(session, saved=True)
    typer.echo(
        terminal_safe(
            f"{path}: {len(session.generations)} samples in {len(session.models)} columns"
            f"{' (blind: opens in blind mode, which names the columns by their place on screen)' if blind else ''}; annotate with: psmlab open {path} "
            f"(l or F4 on a column), then score the automatic labels with: psmlab agreement {path}"
        )
    )
