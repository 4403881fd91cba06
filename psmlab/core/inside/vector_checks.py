"""How well a built vector separates held-out answers, as recorded in its file and said of it: the
held-out means it is read against, the shuffled-label control, and a warning when it fails."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from psmlab.core.inside.vectors import Means, Separation, separation, shuffled_auroc
from psmlab.core.models.steering import Steering

N_PERM = 200  # shuffled-label vectors per layer (the control's permutations)
PERM_SEED = 0


def held_out_record(
    table: Sequence[Separation],
    control: Mapping[int, tuple[float, float]],
    n_each: int,
    *,
    high: str = "induced",
    low: str = "default",
    n_high: int | None = None,
    n_low: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Per layer (as text, for the file's JSON): AUROC, gap, the two held-out means a reading is
    set against (`{high}_mean`, `{low}_mean`: a value means little without them, as every layer
    carries its own offset), the shuffled control and how it was drawn."""
    return {
        str(x.layer): {
            "auroc": x.auroc,
            "gap": x.gap,
            f"{high}_mean": x.induced,
            f"{low}_mean": x.default,
            f"{high}_sd": x.induced_sd,
            f"{low}_sd": x.default_sd,
            "shuffled_auroc_mean": control[x.layer][0],
            "shuffled_auroc_sd": control[x.layer][1],
            "shuffled_permutations": N_PERM,
            "shuffled_seed": PERM_SEED,
            "n_questions_each_way": n_each,
            # The answers on each side (the axis pools every archetype's): the chance test's n.
            "n_positive": n_high if n_high is not None else n_each,
            "n_negative": n_low if n_low is not None else n_each,
        }
        for x in table
    }


def axis_check(
    axis: Means,
    build_default: Sequence[Means],
    build_induced: Mapping[str, Sequence[Means]],
    test_default: Sequence[Means],
    test_induced: Mapping[str, Sequence[Means]],
) -> tuple[list[Separation], dict[int, tuple[float, float]]]:
    """The assistant axis on held-out answers: default answers (the Assistant) against every
    archetype's answers pooled, so AUROC > 0.5 means it points towards the Assistant as its
    metadata says; and the same test of axes built with those labels shuffled."""
    pooled_build = [m for runs in build_induced.values() for m in runs]
    pooled_test = [m for runs in test_induced.values() for m in runs]
    table = separation(axis, test_default, pooled_test)
    control = shuffled_auroc(
        build_default, pooled_build, test_default, pooled_test, n_perm=N_PERM, seed=PERM_SEED
    )
    return table, control


# Up to this many answer pairs the p is counted exactly (the normal approximation gave 0.042
# for 4 against 4 at AUROC 0.875, where the exact p is 4/70 = 0.057: a failing layer passed).
EXACT_PAIRS = 2500


def chance_p(auroc: float, n_pos: int, n_neg: int) -> float:
    """One-sided p of an AUROC this high if the vector did not separate the two sides at all
    (Mann-Whitney: exact for small samples, else the normal approximation with a continuity
    correction; a tie's half count, rare in projections, is read as the whole count below,
    the larger p: a tie never passes a layer the exact count would not)."""
    pairs = n_pos * n_neg
    # U = pairs the positive side wins; rounded first, as 0.875 * 16 can land a hair below 14.
    u = math.floor(round(auroc * pairs, 6))
    if pairs <= EXACT_PAIRS:
        counts = _u_counts(n_pos, n_neg)
        return sum(counts[u:]) / math.comb(n_pos + n_neg, n_pos)
    sd = math.sqrt(pairs * (n_pos + n_neg + 1) / 12.0)
    return 0.5 * math.erfc((u - 0.5 - pairs / 2.0) / sd / math.sqrt(2.0))


def _u_counts(m: int, n: int) -> list[int]:
    """How many of the C(m+n, m) orderings give each U = 0..m*n (no ties): the number of
    partitions of U into at most m parts of size at most n, built one part size at a time."""
    # Gaussian binomial coefficient [m+n choose m] as a polynomial in q: its coefficients.
    poly = [1]
    for i in range(1, m + 1):
        # multiply by (1 - q^(n+i)) / (1 - q^i)
        num = poly + [0] * (n + i)
        for k in range(len(num) - 1, n + i - 1, -1):
            num[k] -= num[k - n - i]
        out = num[:]
        for k in range(i, len(out)):
            out[k] += out[k - i]
        poly = out[: m * n + 1]
    return poly + [0] * (m * n + 1 - len(poly))


def verdict(h: Mapping[str, Any]) -> str | None:
    """What a researcher must know before reading a layer's projections (None: it separates):
    a vector that separates the wrong way, or one whose AUROC chance gives at p >= 0.05.

    Not the shuffled-label control: a vector built from half-shuffled labels still leans on the
    real difference when it is strong, so its AUROCs spread towards 0 and 1 (sd 0.3 beside a
    real 0.99), and "within 2 sd of it" warned of vectors that separate almost perfectly."""
    try:
        auroc, gap = float(h["auroc"]), float(h["gap"])
    except (KeyError, TypeError, ValueError):
        return None
    if auroc < 0.5:
        return f"separates held-out answers the wrong way (gap {gap:+.2f}, AUROC {auroc:.2f})"
    if gap < 0:
        # Ranked at chance or better, yet lower on average: not "the wrong way" (a trial read
        # that beside AUROC 0.50), and not a vector to read either.
        return (
            f"does not separate held-out answers: on average they project the wrong way (gap "
            f"{gap:+.2f}), AUROC {auroc:.2f}"
        )
    try:
        n_pos = int(h.get("n_positive") or h["n_questions_each_way"])
        n_neg = int(h.get("n_negative") or h["n_questions_each_way"])
    except (KeyError, TypeError, ValueError):
        return None
    if n_pos < 1 or n_neg < 1:
        return None
    p = chance_p(auroc, n_pos, n_neg)
    if p >= 0.05:
        return (
            f"separates held-out answers no better than chance can (AUROC {auroc:.2f} with "
            f"{n_pos} and {n_neg} answers: one-sided Mann-Whitney p = {p:.2f})"
        )
    return None


# psmlab's metadata keys that hold JSON text in a vector's GGUF (GGUF has no nested values).
JSON_KEYS = (
    "psmlab.prompts",
    "psmlab.held_out",
    "psmlab.pc1_abs_cosine",
    "psmlab.residual_norm",
)


class NotJson(ValueError):
    """A metadata key meant to hold JSON holds other text (another writer's, or damaged)."""


def metadata_json(metadata: Mapping[str, Any], key: str) -> Any:
    """One metadata key's value, its JSON text parsed (a value already parsed is returned as
    it is; None when absent). Raises NotJson for text that is not JSON: the one place that
    decodes these keys, so each reader decides what an unreadable record means."""
    value = metadata.get(key)
    if isinstance(value, str) and key in JSON_KEYS:
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise NotJson(f"{key} is not JSON") from e
    return value


_HIGH = ("induced", "assistant")  # the side a vector or the axis points to


def held_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A vector file's held-out record, read from its metadata (JSON text or already parsed;
    empty for a file that has none or whose record is not JSON)."""
    try:
        held = metadata_json(metadata, "psmlab.held_out")
    except NotJson:
        return {}
    return held if isinstance(held, dict) else {}


def reference(held: Any) -> dict[str, dict[str, float]]:
    """Per layer, the held-out means a projection is read against ({"default": …, "induced": …}
    or the axis's {"assistant": …, "personas": …}); empty for a file that records none."""
    out: dict[str, dict[str, float]] = {}
    if not isinstance(held, dict):
        return out
    for layer, h in held.items():
        if not isinstance(h, dict):
            continue
        means = {
            k.removesuffix("_mean"): float(v)
            for k, v in h.items()
            if k.endswith("_mean")
            and not k.startswith("shuffled")
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
        }
        if len(means) == 2:
            # The side the vector points to first, as `vectors build` prints them: the file's
            # JSON is written with sorted keys, which put "default" before "induced".
            out[str(layer)] = dict(sorted(means.items(), key=lambda kv: kv[0] not in _HIGH))
    return out


def spread(held: Any) -> dict[str, dict[str, float]]:
    """Per layer, the held-out answers' sd on each side, where the file records it (vectors
    built before it was recorded have none)."""
    out: dict[str, dict[str, float]] = {}
    for layer, sides in reference(held).items():
        h = next((v for k, v in held.items() if str(k) == layer), None)
        if not isinstance(h, dict):
            continue
        sds = {k: h.get(f"{k}_sd") for k in sides}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sds.values()):
            out[layer] = {k: float(v) for k, v in sds.items()}  # type: ignore[arg-type]
    return out


def steering_doubts(st: Steering) -> list[str]:
    """The steered layers whose held-out test the vector's file records as failed: `build` and
    `vectors show` said so, and steering with it said nothing (a trial)."""
    if st.alpha == 0:  # nothing is added: nothing to doubt (a trial was warned at @0)
        return []
    held = held_of(st.vector.metadata) if st.vector is not None else {}
    name = Path(st.path).name
    return [
        f"{name} layer {L} {why} (its held-out test): steering there may not move answers "
        "toward what the file is named for"
        for L in st.chosen
        if isinstance(h := held.get(str(L)), dict) and (why := verdict(h))
    ]
