"""Measure labellers against the gold set's test split and (with --write) ship the numbers.

    .venv/bin/python tests/data/gold/measure.py [--judge MODEL]... [--split test] [--write]
        [--sample N [--seed S]]

MODEL is anything `psmlab label --labeller judge:MODEL` takes (a registry id, a .gguf path, a
server model from the config). --write stores each labeller's self-id kappa, interval, n and
per-class F1, and the marker rules' archetype kappa (item x archetype decisions), in
psmlab/resources/labellers.json, which the lab shows beside every label share.
--sample N scores every labeller on the same N rows drawn at random (seeded; for a judge too slow
for the whole split); such a run is never written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path

from psmlab.core import paths
from psmlab.core.domain.personas import load_personas, personas_fingerprint
from psmlab.core.domain.quality import labellers_file
from psmlab.core.domain.selfid import self_identify
from psmlab.core.measure.judge import judge_rows
from psmlab.core.measure.kappa import Agreement, compare, compare_sets
from psmlab.core.measure.labeling import label_text

GOLD = Path(__file__).resolve().parent


def entry(a: Agreement, split: str) -> dict[str, object]:
    low, high = a.kappa_ci
    return {
        "kappa": round(a.kappa, 4),
        "ci_low": round(low, 4),
        "ci_high": round(high, 4),
        "n": a.n,
        "split": split,
        "gold": "tests/data/gold",
        "measured": dt.date.today().isoformat(),
        "accuracy": round(a.accuracy, 4),
        "f1": {c.label: None if c.f1 != c.f1 else round(c.f1, 4) for c in a.classes},
        # 95% bootstrap interval of each class's F1 (items resampled, as for kappa)
        "f1_ci95": {c.label: [None if x != x else round(x, 4) for x in c.f1_ci] for c in a.classes},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judge", action="append", default=[])
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--sample", type=int, help="only N rows drawn at random (never written)")
    ap.add_argument("--seed", type=int, default=20261201, help="the draw's seed (with --sample)")
    args = ap.parse_args()
    if args.sample and args.write:
        ap.error("--sample measures a subset: it is never written; drop --write")
    rows = [json.loads(x) for x in (GOLD / f"{args.split}.jsonl").read_text().splitlines() if x]
    if args.sample:
        random.Random(args.seed).shuffle(rows)
        rows = rows[: args.sample]
    gold = [r["self_id"] for r in rows]
    results: dict[str, Agreement] = {
        "markers": compare(
            [self_identify(r["text"], question=r.get("question")).label for r in rows], gold, source_name="markers",
            reference_name=f"gold {args.split}",
        )
    }  # fmt: skip
    shas: dict[str, str | None] = {}
    for model in args.judge:
        done = judge_rows(
            model,
            rows,
            progress=lambda n, m=model: print(f"{m}: {n}/{len(rows)}", file=sys.stderr),
        )
        name = done[0]["labeller"]
        results[name] = compare(
            [d["self_id"] for d in done], gold, source_name=name, reference_name="gold"
        )
        # The judge's model file: a later judge of the same name on another file is not this one.
        shas[name] = done[0]["judge"]["provenance"].get("model_sha256")
    table: dict[str, dict[str, object]] = {}
    for name, a in results.items():
        table[name] = entry(a, args.split)
        if shas.get(name):
            table[name]["model_sha256"] = shas[name]
    # Archetypes: the rules' against the rows a reader gave archetypes on ([] where none was
    # clear; null where archetypes were not read), each item x archetype one decision.
    read = [r for r in rows if isinstance(r.get("archetypes"), list)]
    # The shipped persona files only: the number is quoted for labels read with them.
    personas = load_personas([paths.shipped("personas")])[0]
    arche = compare_sets(
        [frozenset(label_text(r["text"], personas, r.get("question"))["archetypes"]) for r in read],
        [frozenset(r["archetypes"]) for r in read],
        source_name="markers",
        reference_name=f"gold {args.split}",
    )
    arche_entry = entry(arche, args.split)
    arche_entry["decisions"] = arche.decisions
    # How many of the items hold any archetype (said beside n: 4 of 328 read as 328).
    arche_entry["with_any"] = sum(1 for r in read if r["archetypes"])
    arche_entry["personas"] = personas_fingerprint(personas)
    print(json.dumps(table, indent=2))
    print(json.dumps({"markers archetypes": arche_entry}, indent=2))
    if args.write:
        path = labellers_file()
        shipped = json.loads(path.read_text()) if path.exists() else {}
        for name, e in table.items():
            shipped.setdefault(name, {})["self_id"] = e
        shipped["markers"]["archetypes"] = arche_entry
        path.write_text(json.dumps(shipped, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
