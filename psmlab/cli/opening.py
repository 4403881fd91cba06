"""`psmlab probe --opening`: the opening design of forced choice, per model and item."""

from __future__ import annotations

from typing import Any

from psmlab.cli.common import TtyProgress, model_failures
from psmlab.core.errors import PsmlabError


def opening(
    specs: list[Any],
    chosen: dict[str, str | None],
    items: Any,
    tr: Any,
    system: str | None,
    json_out: bool,
    steering: dict[str, Any],
) -> None:
    """Walk each model's continuations of the openings after each item's question."""
    from psmlab.cli.measure_said import bar, design_title, json_or_nothing, probe_prompts
    from psmlab.core.measure.opening import opening_models

    failed: dict[str, PsmlabError] = {}  # one model failing keeps the others' results
    from psmlab.core.session.records import now

    started = now()  # UTC, when the run began
    results = opening_models(
        specs, chosen, items, tr, system=system, steering=steering,
        progress=TtyProgress.if_tty(), errors=failed,
    )  # fmt: skip
    done = len({r.model for r in results})
    prompts = probe_prompts([(r.model, r.prompt) for r in results], system, None, steering)
    rows = [{**r.to_dict(), "prompt": r.prompt.text if r.prompt else None} for r in results]
    if json_or_nothing(json_out, rows, prompts, specs, failed, done, None, started):
        return
    from rich.table import Table

    from psmlab.cli.output import out_console
    from psmlab.views import safe

    console = out_console()
    fmts = {p["model"]: p["format"] for p in prompts}
    for r in results:
        table = Table(title=safe(design_title(r.model, r.item, r.measures, fmts, system, steering)))
        table.add_column("class")
        table.add_column("mass", justify="right")
        table.add_column("P given a claim", justify="right")
        table.add_column("")
        table.add_column("likeliest claims walked")
        probs = r.probs
        for c in ("ai", "human", "mixed", "none", "cut", "unread"):
            p = probs.get(c)
            seen = "; ".join(f"{t!r} {q:.3f}" for t, q in r.claims_seen.get(c, [])[:3])
            table.add_row(
                c,
                f"{r.masses[c]:.3f}",
                "" if p is None else f"{p:.3f}",
                "" if p is None else bar(p),
                safe(seen),
            )
        console.print(table)
        if not probs:
            console.print("  no ai or human claim was walked: no share to give")
        console.print(
            "  P given a claim: among ai and human claims (mixed is counted beside it); none: the "
            "answer ended without a claim; cut: no claim within the walk's depth; unread: not "
            "followed (below the floor, past the top alternatives, or the budget)"
        )
    model_failures(failed, done)
