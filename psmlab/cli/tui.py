"""Starting the TUI: `psmlab` (demo pair or -m models) and `psmlab open SESSION`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from psmlab.core.domain.limits import MAX_LAB_COLUMNS
from psmlab.core.errors import UsageError
from psmlab.core.models.registry import Registry, distinct_ids

MONITOR_HELP = (
    "A control vector (e.g. psmlab vectors build … --axis): each new answer is re-read and "
    "projected on it, shown under the answer (per token with F7) and saved. Repeatable."
)


def _monitor(lab: object, paths: list[Path] | None) -> None:
    """Read the --monitor vectors before the lab starts (a bad file fails here, with one line)."""
    try:
        for p in paths or []:
            lab.add_monitor(p)  # type: ignore[attr-defined]
    except BaseException:
        lab.close()  # type: ignore[attr-defined]
        raise


def _run(lab: object) -> None:
    from psmlab.tui.app import PsmlabApp

    try:
        PsmlabApp(lab).run()  # type: ignore[arg-type]
    finally:
        lab.close()  # type: ignore[attr-defined]


BLIND_HELP = (
    'Start in blind mode: columns named "Model A", "Model B"... in a shuffled order, kinds, '
    "formats and labels hidden (Ctrl+B toggles it; a session saved blind opens blind)."
)


def run_lab(
    models: list[str] | None, monitor: list[Path] | None = None, *, blind: bool = False
) -> None:
    from psmlab.core.run.lab import Lab

    registry = Registry()
    specs = distinct_ids(
        [registry.resolve(m) for m in models] if models else registry.default_pair()
    )
    if len(specs) > MAX_LAB_COLUMNS:
        raise UsageError(
            f"{len(specs)} models is more columns than fit", f"open at most {MAX_LAB_COLUMNS}"
        )
    if len({s.id for s in specs}) != len(specs):
        raise UsageError(
            "the same model was given twice",
            # The way to a model beside itself (steered and not, two settings) is two names.
            "pass each model once; to set one model beside itself, give its file a second "
            "name in the config ([models.NAME] path = ...)",
        )
    lab = Lab(specs)
    lab.session.blind = blind  # a new lab: nothing to save yet, so not "unsaved work"
    _monitor(lab, monitor)
    _run(lab)


def open_session(
    session: Annotated[Path, typer.Argument(help="Session file to continue in the lab.")],
    monitor: Annotated[
        list[Path] | None,
        typer.Option("--monitor", metavar="FILE", help=MONITOR_HELP, dir_okay=False),
    ] = None,
    blind: Annotated[bool, typer.Option("--blind", help=BLIND_HELP)] = False,
) -> None:
    """Open a saved session in the lab and continue it (blind if it was saved blind)."""
    from psmlab.core.run.lab import Lab
    from psmlab.core.session.file import resolve_path

    lab = Lab.open(resolve_path(session))
    if blind:
        lab.blind = True
    _monitor(lab, monitor)
    _run(lab)
