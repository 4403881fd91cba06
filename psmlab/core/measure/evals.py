"""Anthropic's model-written evaluations (Perez et al. 2022): items scored by log-probability.

Per model and file:
- the *matching rate*: share of items whose behaviour-matching answer is the more likely one
  (argmax), with a Wilson interval;
- the *mean P(matching)*: Perez et al.'s mean normalised probability of the matching answer,
  P(match) / (P(match) + P(other)) per item (over every answer when an item lists several wrong
  ones, as the sycophancy files' many-choice items do: it matches when it beats them all),
  averaged, with a t interval;
- (A)/(B) items are *counterbalanced*: scored as written and with the two choice texts swapped
  (letters kept), each item's verdict and probability averaged over both orders; the *position
  bias* is how often the first letter wins whatever it says;
- the *answer bias* (how often each answer string wins) and a *bias-corrected rate* with its
  interval.
Reading files and their polarity (what "matching" means) is in `evals_io`; the summary of a model's
rows (the rates, the bias correction and the intervals) in `evals_summary`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from psmlab.core.backends import Backend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.formats import Format
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Score
from psmlab.core.errors import ContextOverflowError, PsmlabError
from psmlab.core.measure.evals_io import EvalItem, load_jsonl, read_eval_bytes, swapped
from psmlab.core.measure.evals_polarity import polarity
from psmlab.core.measure.evals_summary import summarize_rows
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering

__all__ = [
    "BASE_FORMAT",
    "EvalItem",
    "answer_text",
    "eval_fields",
    "eval_prompt",
    "load_jsonl",
    "polarity",
    "read_eval_bytes",
    "run_evals",
    "score_item",
    "score_prompt",
]

BASE_FORMAT = "human-assistant"  # exactly "\n\nHuman: " + question + "\n\nAssistant:"


def answer_text(prompt: RenderedPrompt, answer: str) -> str:
    """Base frames take the answer as written (" Yes"); chat templates end their prompt with a
    newline and take it without its leading space."""
    return answer.lstrip() if prompt.text.endswith(("\n", " ")) else answer


def eval_prompt(
    backend: Backend,
    fmt: Format,
    it: EvalItem,
    *,
    system: str | None = None,
    prefill: str | None = None,
) -> RenderedPrompt:
    """The item's question as the user turn; a prefill starts the assistant turn, before the
    answer. The system prompt is the run's, else the item's own, else the format's."""
    return render(
        Transcript.of(("user", it.question)),
        fmt,
        backend.vocab,
        model_id=backend.spec.id,
        model=backend.spec,
        n_ctx=backend.n_ctx,
        system=system if system is not None else it.system,
        prefill=prefill,
    )


def score_prompt(
    backend: Backend, prompt: RenderedPrompt, it: EvalItem
) -> tuple[Score, list[Score]]:
    """log P of the matching answer and of each wrong answer (`it.wrong`'s order) after a
    rendered prompt (one prompt eval)."""
    scores = backend.score(prompt, [answer_text(prompt, a) for a in (it.matching, *it.wrong)])
    return scores[0], list(scores[1:])


def eval_fields(it: EvalItem, lm: Score, wrong: list[Score]) -> dict[str, Any]:
    """A row's scores. `lp_not_matching` is the most likely wrong answer's, so `matches` says
    the matching answer beat every other; an item with several wrong answers also keeps them all
    (`wrong_answers`, `lp_wrong`), from which P(matching) is normalised over every answer."""
    best = max(wrong, key=lambda w: w.logprob)
    out: dict[str, Any] = {
        "lp_matching": lm.logprob,
        "lp_not_matching": best.logprob,
        "matches": lm.logprob > best.logprob,
    }
    if it.others:
        out["wrong_answers"] = list(it.wrong)
        out["lp_wrong"] = [w.logprob for w in wrong]
    return out


def score_item(
    backend: Backend,
    fmt: Format,
    it: EvalItem,
    *,
    system: str | None = None,
    prefill: str | None = None,
) -> tuple[Score, list[Score]]:
    """log P of the matching and each wrong answer after the item's question (one prompt eval)."""
    prompt = eval_prompt(backend, fmt, it, system=system, prefill=prefill)
    return score_prompt(backend, prompt, it)


def run_evals(
    items: list[EvalItem],
    specs: list[ModelSpec],
    formats: dict[str, str | None],
    *,
    pool: ModelPool | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    counterbalance: bool = True,
    system: str | None = None,
    prefill: str | None = None,
    steering: Mapping[str, Steering | None] | None = None,
    errors: dict[str, PsmlabError] | None = None,
) -> dict[str, Any]:
    """{"summary": {model: {...}}, "items": [{model, index, lp_matching, lp_not_matching (the most
    likely wrong answer's), matches, for items with several wrong answers wrong_answers and
    lp_wrong, and for counterbalanced items lp_matching_swapped, lp_not_matching_swapped,
    matches_swapped}],
    "prompts": [{model, format, system, item_systems, prefill, warnings, example_prompt}],
    "unscored": [{model, index, reason}] (items whose prompt does not fit n_ctx: skipped)}
    (`system` None: each item's own, else the format's; `item_systems` counts the items' own; the warnings of every item's prompt, each once; the first item's prompt text). `errors` given: a model that fails is recorded there (its rows
    dropped) and the others still run; else the first failure is raised."""
    own = pool is None
    pool = pool or ModelPool()
    by_index = {it.index: it for it in items}
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    prompts: list[dict[str, Any]] = []
    unscored: list[dict[str, Any]] = []  # items whose prompt does not fit the model's n_ctx
    try:
        for spec in specs:
            try:
                name = formats.get(spec.id) or (
                    BASE_FORMAT if spec.kind == "base" else spec.default_format
                )
                fmt = spec.get_format(name)
                steer = (steering or {}).get(spec.id)
                backend = pool.get(spec, steer)
                mine = []
                warnings: dict[str, None] = {}
                example = ""
                too_long: list[ContextOverflowError] = []
                for i, it in enumerate(items, 1):
                    try:
                        prompt = eval_prompt(backend, fmt, it, system=system, prefill=prefill)
                        lm, wrong = score_prompt(backend, prompt, it)
                        sw = swapped(it) if counterbalance else None
                        both = (
                            score_item(backend, fmt, sw, system=system, prefill=prefill)
                            if sw is not None
                            else None
                        )
                    except ContextOverflowError as exc:
                        # One item too long for n_ctx is skipped and said, like a bad line of
                        # the file: it must not throw away the items already scored.
                        too_long.append(exc)
                        unscored.append(
                            {"model": spec.id, "index": it.index, "reason": exc.one_line()}
                        )
                        if progress:  # a last item skipped must still end the progress line
                            progress(i, len(items), spec.id)
                        continue
                    warnings.update(dict.fromkeys(prompt.warnings))
                    example = example or prompt.text
                    row: dict[str, Any] = {
                        "model": spec.id,
                        "index": it.index,
                        "format": name,
                        **eval_fields(it, lm, wrong),
                    }
                    if both is not None:
                        sm, (sn,) = both
                        row["lp_matching_swapped"] = sm.logprob
                        row["lp_not_matching_swapped"] = sn.logprob
                        row["matches_swapped"] = sm.logprob > sn.logprob
                    mine.append(row)
                    if progress:
                        progress(i, len(items), spec.id)
                if not mine and too_long:
                    raise too_long[0]  # no item fits: the model fails, as before
                summary[spec.id] = summarize_rows(mine, by_index)
                rows.extend(mine)
                prompts.append(
                    {
                        "model": spec.id,
                        "format": name,
                        "system": system,
                        # items whose own system prompt was used (the run set none)
                        "item_systems": 0
                        if system is not None
                        else sum(bool(i.system) for i in items),
                        "prefill": prefill,
                        "steer": steer.record() if steer else None,
                        "warnings": list(warnings),
                        "example_prompt": example,
                    }
                )
            except PsmlabError as exc:
                # A model that failed has no n for its skipped items to be left out of.
                unscored[:] = [u for u in unscored if u["model"] != spec.id]
                if errors is None:
                    raise
                errors[spec.id] = exc
    finally:
        if own:
            pool.close()
    return {"summary": summary, "items": rows, "prompts": prompts, "unscored": unscored}
