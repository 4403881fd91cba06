"""What an experiment run tells its user before and after it runs, and the report it leaves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psmlab.core.measure.experiment_spec import ExperimentSpec
from psmlab.core.measure.people import PeopleLabels
from psmlab.core.measure.plan import Job
from psmlab.core.measure.results import ResultsFile, changed, needs_rerun


def before_run(jobs: Sequence[Job], before: ResultsFile, target: Path) -> list[tuple[str, str]]:
    """(level, text) lines said before a sweep starts: a bad eval line or an edited file must
    not wait for the sweep to end to be said."""
    out = []
    # An eval file's lines that cannot be scored are said as `psmlab evals` says them (the
    # report only counts them).
    skipped = {j.payload[0]: j.payload[3][0] for j in jobs if j.kind == "eval"}
    for name, k in skipped.items():
        if k:
            out.append(
                (
                    "warning",
                    f"{name}: {k} line(s) could not be scored and are skipped "
                    "(psmlab evals on the file lists them)",
                )
            )
    redo = sum(
        1
        for j in jobs
        if (r := before.done.get(j.key)) is not None and "error" not in r and changed(r, j.settings)
    )
    if redo:  # an edited file must not quietly reuse rows made another way
        out.append(
            (
                "note",
                f"{redo} unit(s) in {target}/results.jsonl were made with other settings than "
                "the file now gives (sampling, prompts, steering, items); they run again",
            )
        )
    return out


def done_before(jobs: Sequence[Job], before: ResultsFile) -> int:
    """Units a resume need not run again (a progress bar starts there, not at 0)."""
    return sum(1 for j in jobs if not needs_rerun(before.done.get(j.key), j.settings))


def left_out(results: ResultsFile, stale: int, old: int, target: Path) -> list[str]:
    """Notes on the rows of results.jsonl that the report does not use, and why."""
    where = f"{target}/results.jsonl"
    out = []
    if results.relabelled:
        out.append(
            f"{results.relabelled} sample row(s) of {where} were labelled by another version of "
            "the marker rules; labelled again with these (texts unchanged)"
        )
    if stale:
        out.append(
            f"{stale} row(s) of {where} are units this file no longer plans, or plans with other "
            "settings (it changed since they ran); they are left out of the report"
        )
    if old:
        out.append(
            f"{old} row(s) of {where} were scored by an older psmlab and not yet scored again; "
            "they are left out of the report"
        )
    return out


def people_note(said: PeopleLabels, target: Path) -> str | None:
    """Why the report can compare nothing with people, when it cannot."""
    if said.values:
        return None
    if said.disputed:
        return (
            f"{said.disputed} labelled sample(s) are disputed (the annotators differ) and none "
            "is agreed"
        )
    unmatched = (
        f" (none of their {said.not_found} reading(s) matched one: a JSONL line names a sample "
        "by the `key` and `sample` number results.jsonl gives it, and its `text`, if given, "
        "must be the sample's; a session's answer must be one of this run's samples, with its "
        "text)"
        if said.not_found
        else ""
    )
    return (
        f"no sample of these results is labelled in the --people file(s){unmatched}; label "
        f"them in sessions made with psmlab experiment-annotate {target} (the lab, or psmlab "
        "annotate --self-id), or fix the readings' keys"
    )


def people_unmatched(said: PeopleLabels, target: Path) -> str | None:
    """A warning when some readings matched no sample and others did (people_note says it
    when none did): report.md alone said so, and the run ended as if all were read."""
    if not said.not_found or not (said.values or said.disputed):
        return None
    return (
        f"{said.not_found} --people reading(s) match no sample of these results (an unknown "
        "key or sample number, or a text that differs) and are ignored; give them the key, "
        "sample and text results.jsonl gives, or label a session made with psmlab "
        f"experiment-annotate {target}"
    )


def write_report(
    spec: ExperimentSpec,
    file: Path,
    target: Path,
    results: ResultsFile,
    command: str,
    total: int,
    people: PeopleLabels | None,
    left: tuple[int, int],
) -> None:
    """summary.csv and report.md of what results.jsonl holds, each written whole or not at all."""
    from psmlab.core.measure.experiment_rows import given_of
    from psmlab.core.measure.report import report_md
    from psmlab.core.measure.report_csv import summary_csv
    from psmlab.core.session.disk import atomic_write

    atomic_write(target / "summary.csv", summary_csv(results, people, total).encode())
    report = report_md(
        spec.title, results, command, total, given_of(spec), people, file, left_out=left
    )
    atomic_write(target / "report.md", report.encode())


def outcome(results: ResultsFile, total: int, target: Path) -> tuple[str, list[dict[str, Any]]]:
    """The closing line (units done, how many failed) and the failed rows."""
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
    line = f"{done}/{total} units in {target}/results.jsonl{bad}; summary.csv and report.md written"
    return line, failed
