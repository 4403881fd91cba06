"""Anthropic's model-written evaluations (Perez et al. 2022): JSONL items scored by log-probability.

An item *matches* when the model finds the behaviour-matching answer more likely than the other.
Small models often prefer one answer string whatever the question, so each model also gets its
answer bias and a bias-corrected rate (verdicts after centring the log-odds over the file).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from psmlab.core.backends import Backend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.stats import wilson
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Score
from psmlab.core.errors import UsageError
from psmlab.core.models.registry import ModelSpec

BASE_FORMAT = "human-assistant"  # exactly "\n\nHuman: " + question + "\n\nAssistant:"
BIAS_DOMINATED = 0.9


@dataclass(frozen=True)
class EvalItem:
    index: int  # line number in the file
    question: str
    matching: str
    not_matching: str


def load_jsonl(path: Path, *, limit: int | None = None) -> tuple[list[EvalItem], list[str]]:
    """Items and one problem per malformed line (with its number); bad lines are skipped."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    items: list[EvalItem] = []
    problems: list[str] = []
    for n, line in enumerate(raw.splitlines(), 1):
        if limit is not None and len(items) >= limit:
            break
        if not line.strip():
            continue
        try:
            d = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"{path.name} line {n}: not UTF-8; skipped")
            continue
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name} line {n}: not JSON ({exc.msg}); skipped")
            continue
        m, nm = d.get("answer_matching_behavior") if isinstance(d, dict) else None, None
        if isinstance(d, dict):
            nm = d.get("answer_not_matching_behavior")
            if isinstance(m, list) and len(m) == 1:  # some files wrap answers in a list
                m = m[0]
            if isinstance(nm, list) and len(nm) == 1:
                nm = nm[0]
        q = d.get("question") if isinstance(d, dict) else None
        if not (isinstance(q, str) and isinstance(m, str) and isinstance(nm, str)):
            problems.append(
                f"{path.name} line {n}: needs question, answer_matching_behavior and "
                "answer_not_matching_behavior as text; skipped"
            )
            continue
        items.append(EvalItem(n, q, m, nm))
    return items, problems


def answer_text(prompt: RenderedPrompt, answer: str) -> str:
    """Base frames take the answer as written (" Yes"); chat templates end their prompt with a
    newline and take it without its leading space."""
    return answer.lstrip() if prompt.text.endswith(("\n", " ")) else answer


def score_item(backend: Backend, fmt: Format, it: EvalItem) -> tuple[Score, Score]:
    """log P of the matching and the other answer after the item's question (one prompt eval)."""
    prompt = render(
        Transcript.of(("user", it.question)),
        fmt,
        backend.vocab,
        model_id=backend.spec.id,
        n_ctx=backend.n_ctx,
    )
    lm, ln = backend.score(
        prompt, [answer_text(prompt, it.matching), answer_text(prompt, it.not_matching)]
    )
    return lm, ln


def summarize_rows(rows: list[dict[str, Any]], items: dict[int, EvalItem]) -> dict[str, Any]:
    """One model's eval rows: the matching rate with its interval, raw and bias-corrected."""
    n = len(rows)
    k = sum(r["matches"] for r in rows)
    low, high = wilson(k, n)
    preferred = Counter(
        items[r["index"]].matching if r["matches"] else items[r["index"]].not_matching for r in rows
    )
    bias = {a: c / n for a, c in preferred.most_common()} if n else {}
    # Centre the log-odds within each answer pair (" No" vs " Yes"), then re-judge.
    pair_of = {
        r["index"]: tuple(sorted((items[r["index"]].matching, items[r["index"]].not_matching)))
        for r in rows
    }
    odds: dict[int, float] = {}
    for r in rows:
        it = items[r["index"]]
        lp = {it.matching: r["lp_matching"], it.not_matching: r["lp_not_matching"]}
        a, b = pair_of[r["index"]]
        odds[r["index"]] = lp[a] - lp[b]
    centre = {
        p: fmean([odds[i] for i, q in pair_of.items() if q == p]) for p in set(pair_of.values())
    }
    corrected = 0
    for r in rows:
        it = items[r["index"]]
        a, b = pair_of[r["index"]]
        pick = a if odds[r["index"]] - centre[pair_of[r["index"]]] > 0 else b
        r["matches_corrected"] = pick == it.matching
        corrected += r["matches_corrected"]
    return {
        "n": n,
        "matching": k,
        "rate": k / n if n else 0.0,
        "ci_low": low,
        "ci_high": high,
        "answer_bias": bias,
        "corrected_rate": corrected / n if n else 0.0,
        "bias_dominated": bool(bias) and max(bias.values()) >= BIAS_DOMINATED,
    }


def run_evals(
    items: list[EvalItem],
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    *,
    pool: ModelPool | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """{"summary": {model: {...}}, "items": [{model, index, lp_matching, lp_not_matching, matches}]}"""
    own = pool is None
    pool = pool or ModelPool()
    by_index = {it.index: it for it in items}
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    try:
        for spec in specs:
            name = formats.get(spec.id) or (
                BASE_FORMAT if spec.kind == "base" else spec.default_format
            )
            fmt = spec.get_format(name)
            backend = pool.get(spec)
            mine = []
            for i, it in enumerate(items, 1):
                lm, ln = score_item(backend, fmt, it)
                mine.append(
                    {
                        "model": spec.id,
                        "index": it.index,
                        "format": name,
                        "lp_matching": lm.logprob,
                        "lp_not_matching": ln.logprob,
                        "matches": lm.logprob > ln.logprob,
                    }
                )
                if progress:
                    progress(i, len(items), spec.id)
            summary[spec.id] = summarize_rows(mine, by_index)
            rows.extend(mine)
    finally:
        if own:
            pool.close()
    return {"summary": summary, "items": rows}
