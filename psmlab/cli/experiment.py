"""`psmlab experiment FILE.toml`: run a sweep, resumably, and write results, summary and report."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import ExitCode


def experiment(
    file: Annotated[Path, typer.Argument(help="Experiment file (see experiments/*.toml).")],
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Output directory (default: results/NAME).")
    ] = None,
) -> None:
    """Run a sweep of models x formats x contexts x (questions, probes, evals) x seeds; re-running resumes."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from psmlab.core.measure.experiment import load_experiment, plan, run_experiment
    from psmlab.core.measure.report import report_md, summary_csv
    from psmlab.core.session.file import atomic_write

    spec = load_experiment(file)
    target = out or Path("results") / file.stem
    total = len(plan(spec, file.parent))
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
        task = bar.add_task(spec.title[:40], total=total)

        def progress(done: int, _total: int, job: object) -> None:
            bar.update(task, completed=done, description=f"{job.model.id} {job.kind}"[:40])  # type: ignore[attr-defined]

        try:
            results = run_experiment(spec, file.parent, target, cancel=cancel, on_progress=progress)
        except KeyboardInterrupt:
            cancel.set()
            results = None
    from psmlab.core.measure.experiment import ResultsFile

    results = results or ResultsFile(target / "results.jsonl")
    command = f"psmlab experiment {file}" + (f" -o {out}" if out else "")
    atomic_write(target / "summary.csv", summary_csv(results).encode())
    atomic_write(target / "report.md", report_md(spec.title, results, command).encode())
    done = len(results.done)
    sys.stderr.write(
        f"psmlab: {done}/{total} units in {target}/results.jsonl; "
        f"summary.csv and report.md written\n"
    )
    failed = [r for r in results.done.values() if "error" in r]
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
