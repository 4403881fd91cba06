"""`psmlab label FILE.jsonl`: self-identification and archetype labels for any text, by marker rules or a judge model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.options import JsonOpt
from psmlab.views import safe

LabellerOpt = Annotated[
    str,
    typer.Option(
        "--labeller",
        help="markers (phrase rules) or judge:MODEL (a model id from `psmlab models`, a .gguf "
        "path or a server URL) that labels self-identification by log-probability.",
    ),
]


def label(
    file: Annotated[
        Path, typer.Argument(help='JSONL, one object per line with "text" (and "id", "question").')
    ],
    labeller: LabellerOpt = "markers",
    json_out: JsonOpt = False,
) -> None:
    """Label each text: self-identification (ai, human, mixed, none) and archetypes, with the
    rule hits (markers) or the option probabilities (a judge) behind them. --json prints one JSON
    object per line, ready for `psmlab agreement`."""
    import json
    import sys

    from psmlab.core.domain.quality import labeller_line
    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.measure.labeling import label_jsonl

    rows = label_jsonl(file, labeller)
    # How far these labels can be trusted (the labeller's measured agreement with people, and
    # "unreliable" when its interval includes 0) goes with them, on stderr beside JSON lines.
    measured = labeller_line(rows[0]["labeller"])
    if json_out:
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        sys.stderr.write(terminal_safe(f"psmlab: {measured}") + "\n")
        return
    from rich.console import Console

    table = _judge_table(rows) if rows[0].get("judge") else _markers_table(rows)
    table.caption = safe(measured)
    Console(highlight=False).print(table)


def _markers_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(
        "id", "self_id", "archetypes", "evidence", title="labeller: markers (phrase rules)"
    )
    for r in rows:
        spans = [h["marker"] for h in r["self_id_hits"]]
        table.add_row(
            safe(str(r["id"])),
            r["self_id"],
            safe(", ".join(r["archetypes"])),
            safe(", ".join(spans)),
        )
    return table


def _judge_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    j = rows[0]["judge"]
    options = list(rows[0]["probs"])
    table = Table(
        "id",
        "self_id",
        *[f"p({o})" for o in options],
        "archetypes (markers)",
        title=safe(
            f"labeller: {rows[0]['labeller']} (rubric {j['rubric']}, format {j['format']}, "
            "option log-probabilities)"
        ),
    )
    for r in rows:
        cut = " (text cut)" if r["judge"]["truncated"] else ""
        table.add_row(
            safe(str(r["id"])),
            r["self_id"] + cut,
            *[f"{r['probs'][o]:.2f}" for o in options],
            safe(", ".join(r["archetypes"])),
        )
    return table
