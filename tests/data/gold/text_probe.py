"""A baseline beside the rules: a word-feature classifier trained on every labelled text but `test`.

    .venv/bin/python tests/data/gold/text_probe.py

It asks whether three times the labelled text closes the gap that `activation_probe.py` (trained
on `dev` alone, 504 rows) did not: the training set is `dev` plus the experiments' readings where
both readers agree (`experiments/readings/*.jsonl`; about 1,500 texts in all, duplicates of a text
kept once). Features per text: the words and word pairs of the speaker's own turn (lower-cased,
curly apostrophes folded; those in at least 3 training texts), the question it answers,
and, in the `+rules` designs, the marker rules' label. A multinomial logistic regression (L2) is
fitted (`activation_probe.fit`). Three designs: words alone; words with the rules' label; and the
rules, with the words deciding only between `none` and `human` where the rules say `none` (their
main miss: a human self-description they do not know). Design and L2 strength are chosen by 5-fold
cross-validation on the training texts; `test` is scored once, for the chosen one only, beside
the rules. The rules were written on these training texts (rounds 1-6), so their label is more
reliable there than on `test`: the cross-validation favours designs that trust it, and the
printout says so.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from activation_probe import LAMBDAS, fit, names

from psmlab.core.domain.selfid import SELF_IDS, self_identify
from psmlab.core.domain.selfid_speaker import other_speakers
from psmlab.core.measure.coefficients import bootstrap_kappa, cohen_kappa

GOLD = Path(__file__).resolve().parent
READINGS = GOLD.parents[2] / "experiments" / "readings"
WORD = re.compile(r"[a-z0-9']+")
MIN_DOCS = 3


def training_rows() -> list[dict[str, str]]:
    """`dev`, then every reading both readers agree on; a text seen before is not added again."""
    rows = [json.loads(x) for x in (GOLD / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    out = [{"text": r["text"], "question": r["question"], "self_id": r["self_id"]} for r in rows]
    for f in sorted(READINGS.glob("*.jsonl")):
        said: dict[tuple[str, int], list[dict[str, str]]] = {}
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            said.setdefault((r["key"], r["sample"]), []).append(r)
        for reads in said.values():
            if len(reads) == 2 and reads[0]["self_id"] == reads[1]["self_id"]:
                out.append({k: reads[0][k] for k in ("text", "question", "self_id")})
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in out:
        if (r["text"], r["question"]) not in seen:
            seen.add((r["text"], r["question"]))
            unique.append(r)
    return unique


def own_turn(text: str) -> str:
    """The text up to the first turn it gives another speaker (what the codebook reads)."""
    cut = len(text)
    for tag in other_speakers(text):
        at = text.find(tag)
        if at > 0:
            cut = min(cut, at)
    return text[:cut]


def tokens(text: str) -> set[str]:
    words = WORD.findall(own_turn(text).lower().replace("\u2019", "'"))[:120]
    return {*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))}


def predict(
    design: str, x: np.ndarray, rules: list[str], w: np.ndarray, b: np.ndarray
) -> list[str]:
    """The fitted reader's labels; in a "rules, ... decides none/human" design, the rules' own
    label except where they say `none` and the reader says `none` or `human`."""
    out = names((x @ w + b).argmax(1))
    if not design.startswith("rules,"):
        return out
    return [
        o if r == "none" and o in ("none", "human") else r for o, r in zip(out, rules, strict=True)
    ]


def choose(
    designs: dict[str, np.ndarray], y: np.ndarray, rules: list[str], *, width: int
) -> tuple[float, str, float]:
    """(5-fold cross-validated kappa, design, L2 strength) of the best design on the training
    rows `designs[...]`, `y`, `rules` (each design's line printed)."""
    order = np.random.default_rng(0).permutation(len(y))
    best: tuple[float, str, float] | None = None
    for design, x in designs.items():
        for lam in LAMBDAS:
            scores = []
            for fold in np.array_split(order, 5):
                fit_on = np.setdiff1d(order, fold)
                w, b = fit(x[fit_on], y[fit_on], lam)
                pred = predict(design, x[fold], [rules[i] for i in fold], w, b)
                scores.append(cohen_kappa(names(y[fold]), pred))
            k = float(np.mean(scores))
            print(f"{design:{width}s} L2 {lam:<6g} training 5-fold kappa {k:.3f}", flush=True)
            if best is None or k > best[0]:
                best = (k, design, lam)
    assert best is not None
    return best


def main() -> None:
    train = training_rows()
    test = [json.loads(x) for x in (GOLD / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    docs = Counter(t for r in train for t in tokens(r["text"]))
    vocab = {t: i for i, t in enumerate(sorted(t for t, n in docs.items() if n >= MIN_DOCS))}
    kinds = sorted({r["question"].strip().lower() for r in [*train, *test]})

    def matrix(rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        x = np.zeros((len(rows), len(vocab) + len(kinds)))
        rules = []
        for i, r in enumerate(rows):
            for t in tokens(r["text"]):
                if t in vocab:
                    x[i, vocab[t]] = 1.0
            x[i, len(vocab) + kinds.index(r["question"].strip().lower())] = 1.0
            rules.append(self_identify(r["text"], r["question"]).label)
        return x, np.array([SELF_IDS.index(r["self_id"]) for r in rows]), rules

    xtr, ytr, rtr = matrix(train)
    xte, yte, rte = matrix(test)
    onehot = np.eye(len(SELF_IDS))
    with_rules_tr = np.concatenate([xtr, 5.0 * onehot[[SELF_IDS.index(r) for r in rtr]]], 1)
    with_rules_te = np.concatenate([xte, 5.0 * onehot[[SELF_IDS.index(r) for r in rte]]], 1)
    print(
        f"training texts {len(train)} (dev + agreed readings), features {xtr.shape[1]}; "
        f"the rules on them: kappa {cohen_kappa(names(ytr), rtr):.3f} (written on them)"
    )

    designs = {
        "words": (xtr, xte),
        "words +rules": (with_rules_tr, with_rules_te),
        "rules, words decide none/human": (xtr, xte),
    }
    cv, design, lam = choose({d: x for d, (x, _) in designs.items()}, ytr, rtr, width=32)
    x, xt = designs[design]
    w, b = fit(x, ytr, lam)
    gold, pred = names(yte), predict(design, xt, rte, w, b)
    k, (lo, hi) = cohen_kappa(gold, pred), bootstrap_kappa(gold, pred)
    print(f"chosen: {design}, L2 {lam:g} (training 5-fold kappa {cv:.3f})")
    print(
        f"test split n={len(gold)}: kappa {k:.3f} ({lo:.2f} to {hi:.2f}); "
        f"rules {cohen_kappa(gold, rte):.3f}"
    )


if __name__ == "__main__":
    main()
