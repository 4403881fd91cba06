"""A baseline beside the rules: a linear probe on a model's residual stream, trained on `dev`.

    .venv/bin/python tests/data/gold/activation_probe.py [--model PATH] [--layers 8,15,22]
        [--cache FILE.npz]

Each gold text is read by the model (no question, no template: the continuation alone, at most
256 tokens); per layer, the mean of its tokens' `l_out` rows and the last token's row form its
features. A multinomial logistic regression (L2, plain gradient descent, features standardised on
`dev`) predicts the self-id label; with `+rules`, the marker rules' label is a one-hot feature too.
The configuration (layer, rules or not, L2 strength) is chosen by 5-fold cross-validation on `dev`
alone; `test` is scored once, for that configuration only, and printed beside the rules' kappa.
It answers a question the closing notes of issue 13 asked: is the gap to kappa 0.8 a matter of
writing rules, or do a small model's activations not separate the classes either?
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from psmlab.core.domain.selfid import SELF_IDS, self_identify
from psmlab.core.inside.capture import Capture
from psmlab.core.measure.coefficients import bootstrap_kappa, cohen_kappa

GOLD = Path(__file__).resolve().parent
MAX_TOKENS = 256
LAMBDAS = (1e-3, 1e-2, 3e-2, 1e-1, 3e-1)


def gold_rows() -> list[dict[str, object]]:
    rows = []
    for split in ("dev", "test"):
        for line in (GOLD / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            row["split"] = split
            rows.append(row)
    return rows


def features(model: str, layers: list[int], rows: list[dict[str, object]]) -> dict[int, np.ndarray]:
    """Per layer, one row per text: mean of its tokens' residuals (BOS left out), then the last's."""
    out: dict[int, list[np.ndarray]] = {layer: [] for layer in layers}
    with Capture(model, layers, n_ctx=512, n_threads=2) as cap:
        for i, row in enumerate(rows):
            toks = cap.tokenize(str(row["text"]).strip() or ".", add_special=True)[:MAX_TOKENS]
            acts = cap.capture_prompt(toks)
            for layer in layers:
                a = acts[layer]
                body = a[1:] if len(a) > 1 else a
                out[layer].append(np.concatenate([body.mean(0), a[-1]]))
            if i % 100 == 0:
                print(f"  read {i}/{len(rows)} texts", file=sys.stderr, flush=True)
    return {layer: np.stack(v) for layer, v in out.items()}


def fit(
    x: np.ndarray, y: np.ndarray, lam: float, iters: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    k = len(SELF_IDS)
    w, b = np.zeros((x.shape[1], k)), np.zeros(k)
    onehot = np.eye(k)[y]
    for _ in range(iters):
        z = x @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= 0.5 * (x.T @ (p - onehot) / len(y) + lam * w)
        b -= 0.5 * (p - onehot).mean(0)
    return w, b


def names(idx: np.ndarray) -> list[str]:
    return [SELF_IDS[i] for i in idx]


def cv_kappa(x: np.ndarray, y: np.ndarray, lam: float) -> float:
    order = np.random.default_rng(0).permutation(len(y))
    scores = []
    for fold in np.array_split(order, 5):
        train = np.setdiff1d(order, fold)
        w, b = fit(x[train], y[train], lam)
        scores.append(cohen_kappa(names(y[fold]), names((x[fold] @ w + b).argmax(1))))
    return float(np.mean(scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a GGUF file (default: the demo SmolLM2)")
    ap.add_argument("--layers", default="8,15,22")
    ap.add_argument("--cache", type=Path, help="keep the features here and reuse them")
    args = ap.parse_args()
    model = args.model
    if model is None:
        from psmlab.core.models.registry import Registry

        model = Registry().resolve("smollm2-135m-instruct").path
    layers = [int(s) for s in args.layers.split(",")]
    rows = gold_rows()
    if args.cache is not None and args.cache.exists():
        cached = np.load(args.cache)
        feats = {layer: cached[str(layer)] for layer in layers}
    else:
        feats = features(model, layers, rows)
        if args.cache is not None:
            np.savez(args.cache, **{str(k): v for k, v in feats.items()})
    y = np.array([SELF_IDS.index(str(r["self_id"])) for r in rows])
    dev = np.array([r["split"] == "dev" for r in rows])
    rules = [self_identify(str(r["text"]), r.get("question")).label for r in rows]  # type: ignore[arg-type]
    rule_onehot = np.eye(len(SELF_IDS))[[SELF_IDS.index(r) for r in rules]] * 5.0
    best: tuple[float, str, float, np.ndarray] | None = None
    for layer in [*layers, "all"]:
        raw = np.concatenate(list(feats.values()), 1) if layer == "all" else feats[int(layer)]
        x = (raw - raw[dev].mean(0)) / (raw[dev].std(0) + 1e-6)
        for with_rules in (False, True):
            xx = np.concatenate([x, rule_onehot], 1) if with_rules else x
            for lam in LAMBDAS:
                k = cv_kappa(xx[dev], y[dev], lam)
                name = f"layer {layer}" + (" +rules" if with_rules else "")
                print(f"{name:16s} L2 {lam:<6g} dev 5-fold kappa {k:.3f}")
                if best is None or k > best[0]:
                    best = (k, name, lam, xx)
    assert best is not None
    cv, name, lam, xx = best
    w, b = fit(xx[dev], y[dev], lam)
    gold, pred = names(y[~dev]), names((xx[~dev] @ w + b).argmax(1))
    k, (lo, hi) = cohen_kappa(gold, pred), bootstrap_kappa(gold, pred)
    rk = cohen_kappa(gold, [r for r, d in zip(rules, dev, strict=True) if not d])
    print(f"chosen on dev: {name}, L2 {lam:g} (dev 5-fold kappa {cv:.3f})")
    print(f"test split n={len(gold)}: probe kappa {k:.3f} ({lo:.2f} to {hi:.2f}); rules {rk:.3f}")


if __name__ == "__main__":
    main()
