"""`psmlab probe --choice`: the multiple-choice design of forced choice, per model and item."""

from __future__ import annotations

from typing import Any

from psmlab.cli.common import TtyProgress, model_failures
from psmlab.cli.measure_said import bar, design_title, json_or_nothing, probe_prompts
from psmlab.core.errors import PsmlabError
from psmlab.core.session.records import now


def choice(
    specs: list[Any],
    chosen: dict[str, str | None],
    items: Any,
    tr: Any,
    personas: Any,
    axis: str,
    system: str | None,
    json_out: bool,
    steering: dict[str, Any],
) -> None:
    """`probe --choice`: multiple choice with rotated option order, per model and item."""
    from psmlab.core.domain.personas import personas_fingerprint
    from psmlab.core.measure.choice import choice_models
    from psmlab.core.measure.instruments import EVEN

    failed: dict[str, PsmlabError] = {}  # one model failing keeps the others' results
    started = now()
    results = choice_models(
        specs, chosen, items, tr, personas, axis=axis, system=system, steering=steering,
        progress=TtyProgress.if_tty(), errors=failed,
    )  # fmt: skip
    done = len({r.model for r in results})
    prompts = probe_prompts(
        [(r.model, p) for r in results for p in r.prompts], system, None, steering
    )
    rows = [{**r.to_dict(), "prompt": r.prompts[0].text} for r in results]
    fp = personas_fingerprint(personas)
    if json_or_nothing(json_out, rows, prompts, specs, failed, done, fp, started):
        return
    from rich.table import Table

    from psmlab.cli.output import out_console
    from psmlab.views import safe

    console = out_console()
    fmts = {p["model"]: p["format"] for p in prompts}
    for r in results:
        table = Table(title=safe(design_title(r.model, r.item, r.measures, fmts, system, steering)))
        table.add_column("option")
        table.add_column("P", justify="right")
        table.add_column("")
        for c, p in sorted(r.probs.items(), key=lambda kv: -kv[1]):
            table.add_row(safe(f"{c}: {r.options[c]}"), f"{p:.3f}", bar(p))
        console.print(table)
        even = 1 / len(r.probs) if r.probs else 0.0
        if r.probs and max(r.probs.values()) - even < EVEN:
            # As the experiment report reads a lean this small: none (a trial read the first
            # row, 0.107 against an even 0.083, as the model's choice).
            console.print(
                f"  every option is within {EVEN:.2f} of an even split (1/{len(r.probs)} = "
                f"{even:.3f}): it leans to no option; see the position bias"
            )
        bias = "  ".join(f"{x} {p:.2f}" for x, p in r.position_bias.items())
        k = len(r.position_bias)
        console.print(safe(f"  position bias (mean P per letter, even = {1 / k:.2f}): {bias}"))
    model_failures(failed, done)
