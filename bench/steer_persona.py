"""Does a persona vector move the persona? Forced-choice log-odds and neutral perplexity under steering.

Usage: python bench/steer_persona.py MODEL VECTOR.gguf --layers 6,10 --alphas -4,-2,-1,0,1,2,4 [--out F]

For each layer and alpha: the identity probe set's mean forced-choice log-odds of the hal-9000
answers against the helpful-assistant answers (log-mean-exp over each archetype's paraphrases, raw,
the model's default format), minus the unsteered value; and the perplexity of a neutral paragraph
relative to unsteered. `shift` is |alpha * v| over the layer's mean residual norm on that paragraph.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from psmlab.core.backends.llama.backend import LlamaBackend  # noqa: E402
from psmlab.core.backends.steered import SteeredBackend  # noqa: E402
from psmlab.core.domain.personas import load_personas  # noqa: E402
from psmlab.core.domain.transcript import Transcript  # noqa: E402
from psmlab.core.inside.capture import Capture  # noqa: E402
from psmlab.core.measure.probe_sets import load_probe_set  # noqa: E402
from psmlab.core.measure.probes import run_probe  # noqa: E402
from psmlab.core.models.cvec import read_cvec  # noqa: E402
from psmlab.core.models.registry import Registry  # noqa: E402
from psmlab.core.models.steering import Steering  # noqa: E402

NEUTRAL = (
    "The river runs through the valley and past the old mill. In spring the water rises and the "
    "farmers plant barley in the fields along its banks. The town holds a market every Saturday, "
    "where people sell bread, cheese, apples and wool."
)
PAIR = ("hal-9000", "helpful-assistant")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("vector")
    ap.add_argument("--layers", required=True)
    ap.add_argument("--alphas", default="-4,-2,-1,0,1,2,4")
    ap.add_argument("--out")
    a = ap.parse_args()
    layers = [int(x) for x in a.layers.split(",")]
    alphas = [float(x) for x in a.alphas.split(",")]
    spec = replace(Registry().resolve(a.model), n_threads=1)
    personas = load_personas()[0]
    items = load_probe_set("identity").items
    vec = read_cvec(a.vector)
    with Capture(spec.path, layers, n_threads=1) as cap:
        acts = cap.capture_prompt(cap.tokenize(NEUTRAL))
    # Row 0 is BOS, whose residual norm is unlike any text token's.
    rnorm = {L: float(np.linalg.norm(acts[L][1:], axis=1).mean()) for L in layers}
    vnorm = {L: float(np.linalg.norm(vec.directions[L])) for L in layers}
    backend = LlamaBackend(spec)
    fmt = spec.get_format(spec.default_format)

    def logodds(steering: Steering | None) -> float:
        b: Any = backend if steering is None else SteeredBackend(backend, steering)
        vals = []
        for it in items:
            r = run_probe(b, Transcript(), it, fmt, personas, calibrate=False)
            vals.append(r.logprobs[PAIR[0]] - r.logprobs[PAIR[1]])
        return float(np.mean(vals))

    toks = backend.llm.tokenize(NEUTRAL.encode(), add_bos=True, special=False)

    def perplexity(steering: Steering | None) -> float:
        with backend.lock:  # the backend's own scoring path, on a bare BOS context
            backend._use_steering(steering)
            backend._prepare(toks[:1])
            lps = backend._logprobs(toks[:1], toks[1:])
        return math.exp(-sum(lps) / len(lps))

    base_lo, base_ppl = logodds(None), perplexity(None)
    out: dict[str, Any] = {
        "model": spec.id,
        "model_sha256": spec.sha256(),
        "vector": str(Path(a.vector).resolve()),
        "pair": PAIR,
        "items": len(items),
        "residual_norm": rnorm,
        "vector_norm": vnorm,
        "unsteered": {"logodds": base_lo, "perplexity": base_ppl},
        "rows": [],
    }
    print(f"{spec.id}: unsteered log-odds {base_lo:+.2f}, perplexity {base_ppl:.1f}")
    print(f"{'layer':>5} {'alpha':>6} {'shift':>6} {'Δ log-odds':>11} {'ppl ×':>7}")
    for L in layers:
        for alpha in alphas:
            st = Steering.load(a.vector, alpha=alpha, layers=[L])
            lo, p = logodds(st), perplexity(st)
            row = {
                "layer": L,
                "alpha": alpha,
                "shift": alpha * vnorm[L] / rnorm[L],
                "delta_logodds": lo - base_lo,
                "perplexity_ratio": p / base_ppl,
            }
            out["rows"].append(row)
            print(
                f"{L:>5} {alpha:>6g} {row['shift']:>6.2f} {row['delta_logodds']:>+11.2f} "
                f"{row['perplexity_ratio']:>7.2f}",
                flush=True,
            )
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
