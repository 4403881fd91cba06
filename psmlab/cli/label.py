"""`psmlab label FILE.jsonl`: the marker rules' self-identification and archetype labels for any text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from psmlab.cli.options import JsonOpt
from psmlab.views import safe


def label(
    file: Annotated[
        Path, typer.Argument(help='JSONL, one object per line with "text" (and "id", "question").')
    ],
    json_out: JsonOpt = False,
) -> None:
    """Label each text: self-identification (ai, human, mixed, none) and archetypes, with the
    rule hits behind them. --json prints one JSON object per line, ready for `psmlab agreement`."""
    import json
    import sys

    from psmlab.core.measure.labeling import label_jsonl

    rows = label_jsonl(file)
    if json_out:
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return
    from rich.console import Console
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
    Console(highlight=False).print(table)
