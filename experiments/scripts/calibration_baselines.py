"""The calibrated forced choice with Zhao et al.'s (2021) content-free baseline, measured once.

    .venv/bin/python experiments/scripts/calibration_baselines.py MAIN_DIR HELD_DIR

MAIN_DIR and HELD_DIR: the output folders of `psmlab experiment` on
`experiments/self-identification.toml` and `-heldout.toml` (their `results.jsonl`). For every
pooled cell (model, format; the two sampled questions weighted by their samples' claims, as the
report pools), P(ai) of the self-id probe set calibrated against "N/A" alone (the lab's design;
this column reproduces the report's) and against "N/A", "" and "[MASK]" together (Zhao et al.'s
recipe: each input's distribution over the answers, then their mean), each beside the samples'
majority as the rules and as the readers (`experiments/readings/`, where both readers agree)
read them. Y: the top class agrees; ≈: P(ai) within 0.05 of 0.5, leaning neither way (as the
report reads it, not counted as agreeing).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.transcript import Transcript
from psmlab.core.measure.instruments import EVEN
from psmlab.core.measure.probe_sets import load_probe_set, statements_for
from psmlab.core.measure.probes import continuation, distribution, logmeanexp, probe_prompt
from psmlab.core.models.registry import Registry

NULLS = ["N/A", "", "[MASK]"]
MODELS = ["gemma-3-270m", "smollm2-135m-instruct"]
READINGS = Path(__file__).resolve().parents[1] / "readings"


def p_ai(real: dict[str, list[float]], null: dict[str, list[float]]) -> float:
    # As the lab's calibrated design: log-mean-exp per class, then the distribution.
    cal = {a: logmeanexp([x - y for x, y in zip(real[a], null[a], strict=True)]) for a in real}
    return distribution(cal)["ai"]


def majorities(results: Path, readings: Path) -> dict[str, dict[tuple[str, str, str], Counter]]:
    """Per (model, format, question): the samples' self-id counts, by the rules (the last row of
    each sample) and by the readers (where both agree)."""
    last = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r.get("kind") == "sample":
            last[(r["key"], r.get("sample"))] = r
    rules: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for r in last.values():
        rules[(r["model"], r["format"], r["question"])][r["self_id"]] += 1
    reads: dict[tuple[str, int], list[str]] = defaultdict(list)
    for line in readings.read_text(encoding="utf-8").splitlines():
        x = json.loads(line)
        reads[(x["key"], x["sample"])].append(x["self_id"])
    people: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for (key, _sample), said in reads.items():
        if len(said) == 2 and said[0] == said[1]:
            _, m, f, _c, q, _seed = key.split("|")
            people[(m, f, q)][said[0]] += 1
    return {"rules": rules, "people": people}


def main() -> None:
    files = {
        "main": (
            ["dialogue", "hhh", "screenplay", "chatml"],
            ["what-are-you", "are-you-human"],
            Path(sys.argv[1]) / "results.jsonl",
            READINGS / "self-identification.jsonl",
        ),
        "held": (
            ["chatlog", "forum", "human-assistant", "gemma"],
            ["who-are-you", "are-you-an-ai"],
            Path(sys.argv[2]) / "results.jsonl",
            READINGS / "self-identification-heldout.jsonl",
        ),
    }
    items = {it.id: it for it in load_probe_set("self-id").items}
    personas = load_personas()[0]
    registry, pool = Registry(), ModelPool()
    try:
        for name, (formats, questions, results, readings) in files.items():
            counts = majorities(results, readings)
            for m in MODELS:
                spec = registry.resolve(m)
                backend = pool.get(spec, None)
                for f in formats:
                    fmt = spec.get_format(f)
                    per_q = {}
                    for q in questions:
                        item = items[q]
                        flat = [
                            (a, s)
                            for a, ss in statements_for(item, personas, "self_id").items()
                            for s in ss
                        ]

                        def scores(question: str | None, item=item, flat=flat, fmt=fmt, b=backend):
                            p = probe_prompt(b, Transcript(), item, fmt, question=question)
                            out: dict[str, list[float]] = defaultdict(list)
                            got = b.score(p, [continuation(p, s) for _, s in flat])
                            for (a, _), sc in zip(flat, got, strict=True):
                                out[a].append(sc.logprob)
                            return out

                        real = scores(None)
                        nulls = [scores(n) for n in NULLS]
                        # As Zhao et al.: each content-free input's distribution (here over
                        # all the answers), then their mean; an input whose prompt makes every
                        # answer likelier does not outweigh the others.
                        normed = []
                        for n in nulls:
                            z = logmeanexp([x for v in n.values() for x in v])
                            normed.append({a: [x - z for x in v] for a, v in n.items()})
                        mean_null = {
                            a: [logmeanexp([n[a][j] for n in normed]) for j in range(len(real[a]))]
                            for a in real
                        }
                        per_q[q] = (p_ai(real, nulls[0]), p_ai(real, mean_null))
                    for src, c in counts.items():
                        w = {q: c[(m, f, q)]["ai"] + c[(m, f, q)]["human"] for q in questions}
                        ai = sum(c[(m, f, q)]["ai"] for q in questions)
                        hu = sum(c[(m, f, q)]["human"] for q in questions)
                        total = sum(w.values()) or 1
                        na = sum(w[q] * per_q[q][0] for q in questions) / total
                        zhao = sum(w[q] * per_q[q][1] for q in questions) / total
                        top = "ai" if ai > hu else "human" if hu > ai else "tie"

                        def mark(p: float, top: str = top) -> str:
                            # As the report reads it: within EVEN of 0.5, a lean of neither.
                            lean = "ai" if p >= 0.5 + EVEN else "human" if p <= 0.5 - EVEN else "-"
                            return "Y" if lean == top else "≈" if lean == "-" else "-"

                        print(
                            f"{name} {src:6s} {m[:6]} {f:16s} claims ai/human {ai:2d}/{hu:2d} "
                            f"majority {top:5s} | N/A {na:.2f} {mark(na)} | "
                            f"3 nulls {zhao:.2f} {mark(zhao)}",
                            flush=True,
                        )
    finally:
        pool.close()


if __name__ == "__main__":
    main()
