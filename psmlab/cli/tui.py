"""Starting the TUI: `psmlab` (demo pair or -m models) and `psmlab open SESSION`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from psmlab.core.domain.limits import MAX_LAB_COLUMNS
from psmlab.core.errors import UsageError
from psmlab.core.models.registry import Registry


def _run(lab: object) -> None:
    from psmlab.tui.app import PsmlabApp

    try:
        PsmlabApp(lab).run()  # type: ignore[arg-type]
    finally:
        lab.close()  # type: ignore[attr-defined]


def run_lab(models: list[str] | None) -> None:
    from psmlab.core.run.lab import Lab

    registry = Registry()
    specs = [registry.resolve(m) for m in models] if models else registry.default_pair()
    if len(specs) > MAX_LAB_COLUMNS:
        raise UsageError(
            f"{len(specs)} models is more columns than fit", f"open at most {MAX_LAB_COLUMNS}"
        )
    if len({s.id for s in specs}) != len(specs):
        raise UsageError("the same model was given twice", "pass each model once")
    _run(Lab(specs))


def open_session(
    session: Annotated[Path, typer.Argument(help="Session file to continue in the lab.")],
) -> None:
    """Open a saved session in the lab and continue it."""
    from psmlab.core.run.lab import Lab
    from psmlab.core.session.file import resolve_path

    _run(Lab.open(resolve_path(session)))
