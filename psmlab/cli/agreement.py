"""`psmlab agreement`: how well one label source agrees with another (kappa, interval, F1, confusion)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from psmlab.cli.common import stdout_json
from psmlab.cli.options import JsonOpt
from psmlab.views import safe


def agreement(
    source: Annotated[Path, typer.Argument(help="JSONL labels to check, one object per line.")],
    reference: Annotated[
        Path, typer.Argument(help="JSONL labels taken as right (e.g. a gold set), same ids.")
    ],
    field_name: Annotated[
        str, typer.Option("--field", help="The label field compared (a list compares as a set).")
    ] = "self_id",
    key: Annotated[str, typer.Option("--key", help="The field that identifies an item.")] = "id",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap interval.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Compare two label sources item by item: Cohen's kappa with a bootstrap 95% interval,
    per-class precision/recall/F1 and the confusion matrix (rows: the reference)."""
    from rich.console import Console
    from rich.table import Column, Table

    from psmlab.core.measure.agreement import compare_files

    result = compare_files(source, reference, field_name=field_name, key=key, seed=seed)
    if json_out:
        stdout_json(result.to_dict())
        return
    lo, hi = result.kappa_ci

    def num(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.2f}"

    console = Console(highlight=False)
    console.print(
        safe(
            f"{result.source} vs {result.reference} (reference) on '{field_name}': n={result.n}, "
            f"accuracy {num(result.accuracy)}, Cohen's kappa {num(result.kappa)} "
            f"(95% bootstrap interval {num(lo)} to {num(hi)})"
        )
    )
    if result.unreliable:
        console.print("the interval includes 0: no better than chance on these items", markup=False)
    table = Table("class", "precision", "recall", "F1", "support (reference)")
    for c in result.classes:
        table.add_row(safe(c.label), num(c.precision), num(c.recall), num(c.f1), str(c.support))
    console.print(table)
    labels = list(result.confusion)
    # Headers are plain text here (Column(header=Text)): label names are never markup.
    conf = Table(
        Column(header=safe("reference \\ source")), *(Column(header=safe(s)) for s in labels)
    )
    for r in labels:
        conf.add_row(safe(r), *(str(result.confusion[r][s]) for s in labels))
    console.print(conf)
