"""Experiments: a declarative sweep of models x formats x contexts x (questions, probes, evals) x seeds.

Every finished unit of work (one sample, one probe item, one eval item) is appended to
`results.jsonl` and fsynced before the next starts, keyed so a re-run skips what is done: a crash or
Ctrl+C loses at most the unit in flight, and a resumed run gives the same results as an unbroken one
(generation and scoring take the same evaluation path whatever ran before).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import Generation, SamplingParams
from psmlab.core.errors import PsmlabError
from psmlab.core.measure.choice import run_choice
from psmlab.core.measure.evals import eval_fields, eval_prompt, score_item, score_prompt
from psmlab.core.measure.evals_io import swapped
from psmlab.core.measure.experiment_lanes import (
    Abandoned,
    Progress,
    failed_fields,
    lanes_of,
    run_lanes,
)
from psmlab.core.measure.experiment_spec import ExperimentSpec
from psmlab.core.measure.labeling import SampleLabeller, label_fields, relabel_stale
from psmlab.core.measure.opening import run_opening
from psmlab.core.measure.plan import Job, plan
from psmlab.core.measure.probes import run_probe
from psmlab.core.measure.results import EVAL_SCORING, ResultsFile, needs_rerun


def run_experiment(
    spec: ExperimentSpec,
    base: Path,
    out: Path,
    *,
    pool: ModelPool | None = None,
    cancel: threading.Event | None = None,
    on_progress: Progress | None = None,
    jobs: list[Job] | None = None,
) -> ResultsFile:
    """Run what is not yet in `out/results.jsonl`; returns every result, old and new.
    `jobs`: the spec's plan, when the caller has made it already (it reads every eval file)."""
    jobs = plan(spec, base) if jobs is None else jobs
    results = ResultsFile(out / "results.jsonl")
    own = pool is None
    pool = pool or ModelPool()
    # The rules, or a judge model for the self-id labels (loaded on the first sample).
    labeller = SampleLabeller(spec.labeller, pool, load_personas()[0])
    params = SamplingParams(
        temperature=spec.temperature,
        top_p=spec.top_p,
        top_k=spec.top_k,
        min_p=spec.min_p,
        repeat_penalty=spec.repeat_penalty,
        max_tokens=spec.max_tokens,
    )
    results.relabelled = relabel_stale(results, labeller)
    try:
        # Units that failed before (a server that was down) are tried again on a resume.
        todo = [j for j in jobs if needs_rerun(results.done.get(j.key), j.settings)]
        lanes = lanes_of(todo)
        dead: dict[str, PsmlabError] = {}  # model id -> why it could not be loaded in this run
        finished = len(jobs) - len(todo)
        if len(lanes) <= 1 and all(w == 1 for _, w in lanes.values()):
            # One lane, one worker: run in this thread, exactly in plan order.
            # Samples of one prompt are decoded as one group, and a resumed run decodes a
            # half-written group whole again (only its missing rows are written): the group's
            # composition decides its tokens, so a resume then equals an unbroken run.
            batch_of = {j.key: b for b in _batches(jobs) for j in b}
            wanted = {j.key for j in todo}
            for job in (j for q, _ in lanes.values() for j in q):
                if cancel is not None and cancel.is_set():
                    break
                if job.key not in wanted:
                    continue
                batch = batch_of[job.key]
                rows = _run_batch(batch, pool, params, labeller, spec, dead)
                for j, row in zip(batch, rows, strict=True):
                    if j.key not in wanted:
                        continue
                    wanted.discard(j.key)
                    results.append(row)
                    finished += 1
                    if on_progress:
                        on_progress(finished, len(jobs), j)
        else:
            run_lanes(
                lanes,
                len(jobs),
                finished,
                lambda job: _run_job(job, pool, params, labeller, spec, dead),
                _base_row,
                results,
                cancel,
                on_progress,
            )
    except Abandoned:
        # Left open: a unit still decoding holds its model, and closing would wait for it
        # (the stop asked not to). The process ends next; the workers write nothing more.
        own = False
        raise
    finally:
        if own:
            pool.close()
    # Rows land in completion order when lanes run at once; the report reads them in plan order.
    order = {j.key: i for i, j in enumerate(jobs)}
    results.done = dict(sorted(results.done.items(), key=lambda kv: order.get(kv[0], len(order))))
    return results


def _batches(jobs: list[Job]) -> list[list[Job]]:
    """Consecutive samples of one local prompt (model, format, context, question, steering) go
    together: the backend decodes them as parallel sequences. Everything else runs alone."""
    out: list[list[Job]] = []
    for j in jobs:
        prev = out[-1][-1] if out else None
        if (
            prev is not None
            and j.kind == prev.kind == "sample"
            and not j.model.is_remote
            and (j.model.id, j.format, j.context.name, j.payload)
            == (prev.model.id, prev.format, prev.context.name, prev.payload)
        ):
            out[-1].append(j)
        else:
            out.append([j])
    return out


def _run_batch(
    batch: list[Job],
    pool: ModelPool,
    params: SamplingParams,
    labeller: SampleLabeller,
    spec: ExperimentSpec,
    dead: dict[str, PsmlabError],
) -> list[dict[str, Any]]:
    """Rows for a batch from `_batches`, in its order."""
    if len(batch) == 1:
        return [_run_job(batch[0], pool, params, labeller, spec, dead)]
    return [
        _run_job(j, pool, params, labeller, spec, dead, gen=g)
        for j, g in zip(batch, _sample_together(batch, pool, params, dead), strict=True)
    ]


def _sample_together(
    batch: list[Job], pool: ModelPool, params: SamplingParams, dead: dict[str, PsmlabError]
) -> list[Generation | PsmlabError]:
    """The batch's samples, decoded together; an error stands in for each sample it cost."""
    j = batch[0]
    try:
        if j.model.id in dead:
            raise dead[j.model.id]
        backend = pool.get(j.model, j.steering)
        gens = backend.generate_many(
            _sample_prompt(j, backend, params), params, [x.seed for x in batch]
        )
    except PsmlabError as exc:
        return [exc] * len(batch)
    return list(gens)


def _sample_prompt(job: Job, backend: Any, params: SamplingParams) -> RenderedPrompt:
    _, text, prefill = job.payload
    return render(
        Transcript.of(("user", text)),
        job.get_format(),
        backend.vocab,
        model_id=job.model.id,
        model=job.model,
        n_ctx=backend.n_ctx,
        system=job.context.system,
        prefill=prefill,
        reserve=params.max_tokens,
    )


def _run_job(
    job: Job,
    pool: ModelPool,
    params: SamplingParams,
    labeller: SampleLabeller,
    spec: ExperimentSpec,
    dead: dict[str, PsmlabError] | None = None,
    *,
    gen: Generation | PsmlabError | None = None,
) -> dict[str, Any]:
    """One unit's result row; a sample decoded with others comes in as `gen` (or its error)."""
    m = job.model
    row = _base_row(job)
    dead = {} if dead is None else dead
    if m.id in dead:  # a model that could not be loaded is not retried for every unit
        row.update(failed_fields(dead[m.id]))
        return row
    try:
        try:
            backend = pool.get(m, job.steering)
        except PsmlabError as exc:
            dead[m.id] = exc
            raise
        fmt = job.get_format()
        row["provenance"] = backend.provenance()
        if job.kind == "sample":
            qid, text, _ = job.payload
            if isinstance(gen, PsmlabError):
                raise gen
            g = gen or backend.generate(
                _sample_prompt(job, backend, params), params, job.seed, sample=job.sample
            )
            # How the turn ended is not a label; the question is what the text answers.
            try:
                label, judged = labeller.label(g.text, text, g.prefill)
            except PsmlabError as exc:  # the judge's failure, not the sampled model's
                row.update(failed_fields(exc, "labeller"))
                return row
            if judged is not None:
                row["judge"] = judged
            else:  # which rules: a row labelled by others is labelled again (`relabel_stale`)
                row["rules"] = rules_fingerprint()
            # The persona files its archetypes were read with: the report quotes their kappa
            # only for the set it was measured with.
            row["personas"] = labeller.personas_fingerprint
            row.update(
                question=qid,
                question_text=text,
                seed=g.seed,
                sample=job.sample,
                text=g.text,
                prefill=g.prefill,
                n_tokens=g.n_tokens,
                finish_reason=g.finish_reason,
                role_leak=g.role_leak,
                **label_fields(label),
                params=g.params,
                warnings=list(g.warnings),  # what the prompt held besides the question
            )
        elif job.kind == "probe":
            name, item, axis, null_question = job.payload
            r = run_probe(
                backend,
                Transcript(),
                item,
                fmt,
                labeller.personas,
                system=job.context.system,
                normalize=spec.normalize,
                axis=axis,
                calibrate=True,
                null_question=null_question,
            )
            row.update(
                probs=r.probs,
                logprobs=r.logprobs,
                top=r.top,
                calibrated=r.calibrated,
                top_calibrated=r.top_calibrated,
                null_question=r.null_question,
                statement_logprobs=r.statements,
                null_statement_logprobs=r.null_statements,
                paraphrase_range=r.paraphrase_range,
                raw_rests_on=r.raw_rests_on,
                calibrated_rests_on=r.calibrated_rests_on,
                aggregation="log-mean-exp",
                length_normalized=r.normalized,
                warnings=list(r.prompt.warnings) if r.prompt else [],
            )
        elif job.kind == "opening":
            item = job.payload[1]
            op = run_opening(backend, Transcript(), item, fmt, system=job.context.system)
            row.update(
                **{k: v for k, v in op.to_dict().items() if k not in ("model", "item")},
                warnings=list(op.prompt.warnings) if op.prompt else [],
            )
        elif job.kind == "choice":
            name, item, axis, _ = job.payload
            ch = run_choice(
                backend,
                Transcript(),
                item,
                fmt,
                labeller.personas,
                axis=axis,
                system=job.context.system,
            )
            row.update(
                **{k: v for k, v in ch.to_dict().items() if k not in ("model", "item")},
                warnings=sorted({w for p in ch.prompts for w in p.warnings}),
            )
        else:
            name, it, pol, (skipped, limited), source = job.payload
            prompt = eval_prompt(backend, fmt, it, system=job.context.system)
            lm, wrong = score_prompt(backend, prompt, it)
            if job.context.system is None and it.system:  # the item's own (an ARENA-style file)
                row["item_system"] = it.system
            row.update(
                eval=name,
                eval_file=source,  # its path and sha256, as read for this run
                index=it.index,
                **eval_fields(it, lm, wrong),
                matching=it.matching,
                not_matching=it.not_matching,
                polarity=pol,
                eval_scoring=EVAL_SCORING,
                skipped_in_file=skipped,  # lines of the file that could not be scored
                **({"eval_limit": limited} if limited else {}),  # only its first items scored
                warnings=list(prompt.warnings),
            )
            # Counterbalanced as in `psmlab evals`: the (A)/(B) texts swapped, so a model that
            # always picks one letter scores 0.5, not its position bias.
            sw = swapped(it) if spec.swap else None
            if sw is not None:
                sm, (sn,) = score_item(backend, fmt, sw, system=job.context.system)
                row.update(
                    lp_matching_swapped=sm.logprob,
                    lp_not_matching_swapped=sn.logprob,
                    matches_swapped=sm.logprob > sn.logprob,
                )
    except PsmlabError as exc:
        row.update(failed_fields(exc))
    return row


def _base_row(job: Job) -> dict[str, Any]:
    """What every row of a unit says, a failed one too: the unit, its model, format, context and
    settings; a probe, opening or choice unit's set and item (a failed one was told from its
    key, which an item id with "|" in it cannot be parsed from)."""
    row: dict[str, Any] = {
        "key": job.key,
        "kind": job.kind,
        "model": job.model.id,
        "kind_of_model": job.model.kind,
        "format": job.format,
        "context": job.context.name,
        "settings": job.settings,  # which settings made it (`results.needs_rerun`)
    }
    if job.steering is not None:
        row["steer"] = job.steering.record()
    if job.kind in ("probe", "opening", "choice"):
        name, item, axis, _ = job.payload
        row.update(_item_fields(name, item, axis))
    return row


def _item_fields(name: str, item: Any, axis: str) -> dict[str, Any]:
    """What a probe or a multiple-choice row says about the item it scored."""
    return {
        "probe": f"{name}/{item.id}",
        "probe_set": name,
        "item": item.id,
        "question_text": item.question,
        "axis": axis,
    }
