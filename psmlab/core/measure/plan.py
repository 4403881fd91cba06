"""An experiment's plan: every unit of work its file asks for, each with a unique key (the file's
schema is in `experiment_spec`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from psmlab.core.domain.formats import OWN_TEMPLATES, Format
from psmlab.core.domain.types import sample_seeds
from psmlab.core.errors import FormatError, UsageError
from psmlab.core.measure.evals import load_jsonl, polarity
from psmlab.core.measure.experiment_spec import Context, ExperimentSpec
from psmlab.core.measure.labeling import parse_labeller, resolve_judge
from psmlab.core.measure.opening import settings as opening_settings
from psmlab.core.measure.probes import ProbeSet, check_archetypes, load_probe_set
from psmlab.core.measure.results import GROUP
from psmlab.core.models.hashing import file_sha256, total_size
from psmlab.core.models.registry import Registry, distinct_ids, split_kind
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering, misfit


@dataclass(frozen=True)
class Job:
    key: str
    kind: str  # sample | probe | opening | choice | eval
    model: ModelSpec
    format: str
    context: Context
    payload: Any
    seed: int = 0
    sample: int = 0
    steering: Steering | None = None
    # What else decides the unit's result (sampling, prompt texts, steering, scoring): a stored
    # row with other settings is not this unit's result, and runs again (`results.needs_rerun`).
    settings: str = ""
    # A frame .toml the file names relative to itself: read from there, while `format` stays
    # as written (the unit's key and its rows' format do not depend on where it was run).
    frame_file: Path | None = None

    def get_format(self) -> Format:
        return self.model.get_format(str(self.frame_file) if self.frame_file else self.format)


def frame_next_to(name: str, base: Path) -> Path | None:
    """A relative frame path read next to the experiment file, as its eval files and models are
    (it was read from the current directory, so the file broke when run from elsewhere)."""
    p = Path(name).expanduser()
    if not name.endswith(".toml") or p.is_absolute() or not (base / p).is_file():
        return None
    return (base / p).resolve()


def _model_identity(m: ModelSpec) -> str:
    """The model as far as a result depends on it: its id and, for a local file, its size (not its
    path: the same demo model sits elsewhere in each environment; not its sha256: hashing a large
    GGUF for every plan is slow)."""
    if m.is_remote:
        return m.id
    try:
        return f"{m.id}:{total_size(m.path)}"  # a split GGUF's parts together
    except OSError:
        return m.id


def _fingerprint(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _probe_set(name: str, field: str) -> ProbeSet:
    """A probe set the experiment file names in `field`; an unknown name is said to be the
    file's (a trial's typo "selfid" was refused as if typed on a command line)."""
    try:
        return load_probe_set(name)
    except UsageError as exc:
        if not exc.problem.startswith("unknown probe set"):
            raise
        raise UsageError(
            f"the experiment's {field} list an unknown probe set '{name}'",
            exc.fix.replace("choose one of: ", "in the experiment file choose one of: ", 1),
        ) from None


def plan(spec: ExperimentSpec, base: Path, registry: Registry | None = None) -> list[Job]:
    """Every unit of work, in a fixed order (grouped by model so each loads once)."""
    registry = registry or Registry()
    ids = set(registry.ids()) if spec.models else set()
    models = distinct_ids(
        [registry.resolve(_model_ref(m, base, ids)) for m in spec.models]
        if spec.models
        else registry.default_pair()
    )
    judge = parse_labeller(spec.labeller)  # a bad labeller or judge fails before any unit runs
    if spec.opening and not any(_probe_set(p, "probes").axis == "self_id" for p in spec.probes):
        raise UsageError(
            "opening = true walks self-identification probe items, and no probe set here has one",
            'add probes = ["self-id"], or drop opening',
        )
    if judge is not None:
        resolve_judge(spec.labeller, registry)  # refused by the name it was given as
    questions = [(q.id, q.text, q.prefill) for q in spec.questions]
    for name in spec.question_sets:
        asked = _probe_set(name, "question_sets").items
        questions += [(f"{name}/{i.id}", i.question, i.prefill) for i in asked]
    probe_items = []
    for name in spec.probes:
        ps = _probe_set(name, "probes")
        check_archetypes(ps)  # scored here: a class naming no persona fails before any unit
        probe_items += [(name, i, ps.axis, ps.null_question) for i in ps.items]
    eval_items = []
    names = [Path(e).name for e in spec.evals]
    for e, short in zip(spec.evals, names, strict=True):
        p = (base / e).resolve()
        # One item past the limit says whether the file holds more than was scored.
        limit = spec.eval_limit
        items, problems = load_jsonl(p, limit=None if limit is None else limit + 1)
        limited = limit if limit is not None and len(items) > limit else None
        items = items[:limit] if limit is not None else items
        if not items:
            raise UsageError(
                f"eval file {e} has no usable items ({problems[0] if problems else 'it is empty'})",
                "give a model-written-evals file: JSONL or a JSON array of items with question, "
                "answer_matching_behavior and answer_not_matching_behavior",
            )
        pol = polarity(p)  # what "matching" means for this file, recorded with every row
        # Two files of one name (the human- and LM-written survival-instinct) keep their paths.
        name = short if names.count(short) == 1 else e
        # Which file, as read (rows and the report named it only "survival-instinct.jsonl").
        # Not part of a unit's settings: its items are, so a line past eval_limit edited
        # does not make every unit run again.
        source = {"path": str(p), "sha256": file_sha256(p)}
        eval_items += [(name, it, pol, (len(problems), limited), source) for it in items]
    jobs: list[Job] = []
    _check_steer_tables(spec, models)
    steers = {(m.id, c.name): _steering(c, m, base) for m in models for c in spec.contexts}
    sampling = spec.model_dump(
        include={"temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens"}
    )
    for m in models:
        for f in spec.formats:
            fmt = m.default_format if f == "default" else f
            frame = frame_next_to(fmt, base)
            try:  # an unknown format fails here, not once per unit after a sweep
                m.get_format(str(frame) if frame else fmt)
            except FormatError as exc:
                if f == "default":  # the model's own (a config's typo): its error names it
                    raise
                if f not in OWN_TEMPLATES:
                    # An unknown name: its own error lists the formats, but not the file's
                    # "default", nor that the experiment file is where it is written.
                    raise FormatError(
                        f"the experiment's formats list an unknown format '{f}'"
                        if exc.problem.startswith("unknown format")
                        else f"the experiment's formats list '{f}': {exc.problem}",
                        exc.fix.replace(
                            "choose one of: ",
                            "in the experiment file choose one of: default (each model's own), ",
                            1,
                        ),
                    ) from None
                # The format's own fix names --format, a flag an experiment file does not have.
                raise FormatError(
                    f"the experiment's formats list '{f}', but {exc.problem}",
                    'in the experiment file write formats = ["default"] (each model\'s own: its '
                    "chat template, or a frame for a base model) or list formats every model "
                    "can use (chatml, dialogue, hhh, …)",
                ) from None
            for c in spec.contexts:
                st = steers[(m.id, c.name)]
                if st is _SKIP:
                    continue
                steering = st if isinstance(st, Steering) else None
                at = f"{m.id}|{fmt}|{c.name}"
                cond = {
                    "system": c.system,
                    "steer": steering.record() if steering else None,
                    "model": _model_identity(m),
                }
                # The group's size too, after the fingerprint (`results.changed` reads it): a
                # cell's samples are decoded together and another group gives other tokens, so
                # rows of a smaller group are not this file's samples (a trial raised samples
                # 3 -> 4 and the report mixed the two groups, unsaid). Outside the fingerprint,
                # so rows written before it still match.
                sample_settings = {
                    q[0]: _fingerprint(
                        **cond, question=q[1], prefill=q[2], labeller=spec.labeller, **sampling
                    )
                    + f"{GROUP}{spec.samples}"
                    for q in questions
                }
                for qid, text, prefill in questions:
                    for base_seed in spec.seeds:
                        for i, s in enumerate(sample_seeds(base_seed, spec.samples)):
                            jobs.append(
                                Job(
                                    f"sample|{at}|{qid}|{s}",
                                    "sample",
                                    m,
                                    fmt,
                                    c,
                                    (qid, text, prefill),
                                    s,
                                    i,
                                    steering,
                                    sample_settings[qid],
                                )
                            )
                for name, item, axis, null_q in probe_items:
                    # v2: paraphrases aggregated by log-mean-exp, with the calibrated distribution
                    # (a results file from before re-scores them instead of mixing the two).
                    jobs.append(
                        Job(
                            f"probe2|{at}|{name}/{item.id}",
                            "probe",
                            m,
                            fmt,
                            c,
                            (name, item, axis, null_q),
                            steering=steering,
                            settings=_fingerprint(
                                **cond, item=item, axis=axis, null=null_q, norm=spec.normalize
                            ),
                        )
                    )
                    # The walk reads a local model's next-token distributions and starts the
                    # answer itself: a server model or a prefilled item gets no walk.
                    if spec.opening and axis == "self_id" and not m.is_remote and not item.prefill:
                        jobs.append(
                            Job(
                                f"opening|{at}|{name}/{item.id}",
                                "opening",
                                m,
                                fmt,
                                c,
                                (name, item, axis, null_q),
                                steering=steering,
                                settings=_fingerprint(**cond, item=item, walk=opening_settings()),
                            )
                        )
                    if spec.choice:
                        jobs.append(
                            Job(
                                f"choice|{at}|{name}/{item.id}",
                                "choice",
                                m,
                                fmt,
                                c,
                                (name, item, axis, null_q),
                                steering=steering,
                                settings=_fingerprint(**cond, item=item, axis=axis, null=null_q),
                            )
                        )
                # Evals are rendered like everything else in the sweep: this format, this
                # context's system prompt or document header (the published Perez prompt is the
                # format "human-assistant").
                for name, it, pol, skipped, source in eval_items:
                    # Rows scored only as written are other units than counterbalanced ones:
                    # flipping `swap` re-scores instead of mixing the two in one report.
                    kind = "eval" if spec.swap else "eval-as-written"
                    key = f"{kind}|{at}|{name}|{it.index}"
                    payload = (name, it, pol, skipped, source)
                    jobs.append(
                        Job(
                            key,
                            "eval",
                            m,
                            fmt,
                            c,
                            payload,
                            steering=steering,
                            settings=_fingerprint(**cond, item=it, polarity=pol),
                        )
                    )
    _check_unique(jobs, spec)
    frames = {j.format: frame_next_to(j.format, base) for j in jobs}
    jobs = [
        dataclasses.replace(j, frame_file=frames[j.format]) if frames[j.format] else j for j in jobs
    ]
    if not jobs:
        raise UsageError(
            f"experiment '{spec.title}' has nothing to run",
            "give it questions, question_sets, probes or evals (psmlab experiment --example prints one with every key)",
        )
    return jobs


_SKIP = object()  # a context whose steering table leaves this model out


def _model_ref(ref: str, base: Path, ids: set[str]) -> str:
    """A relative .gguf path as the file's author meant it: next to the experiment file, like
    its eval and vector paths, when a file is there; else as given (the current directory).
    `ids`: the registry's model ids, which are never paths."""
    path, kind = split_kind(ref)
    if ref.startswith(("http://", "https://")) or path in ids:
        return ref
    p = Path(path).expanduser()
    if p.is_absolute() or not (base / p).is_file():
        return ref
    return str(base / p) + (f"@{kind}" if kind else "")


def _steering(c: Context, m: ModelSpec, base: Path) -> Steering | object | None:
    """The control vector a context applies to a model (relative files under the experiment's
    folder), None for none, or _SKIP when the context steers other models only."""
    if c.steer is None:
        return None
    if isinstance(c.steer, dict):
        if m.id not in c.steer:
            return _SKIP
        text = c.steer[m.id]
    else:
        text = c.steer
    if m.is_remote:
        raise UsageError(
            f"context '{c.name}' steers {m.id}, which runs on a server and cannot be steered",
            "give the context a steer table that names local models only",
        )
    st = Steering.parse(text, base=base, where=f"the steer of context '{c.name}'")
    # A vector of another width, or layers the model lacks, fail every unit of the sweep: said
    # here, before anything runs (retrying would never help).
    if bad := misfit(st, m):
        raise UsageError(
            f"context '{c.name}' steers {m.id}: {bad.why}",
            f"{bad.fix}, or a steer table that gives each model its own",
        )
    return st


def _check_steer_tables(spec: ExperimentSpec, models: list[ModelSpec]) -> None:
    """A steer table naming no model of the experiment (a typo) would drop its context."""
    ids = [m.id for m in models]
    for c in spec.contexts:
        if isinstance(c.steer, dict):
            unknown = [k for k in c.steer if k not in ids]
            if unknown:
                raise UsageError(
                    f"context '{c.name}' steers '{unknown[0]}', which is not one of the "
                    "experiment's models",
                    f"name models the experiment runs: {', '.join(ids)}",
                )


def _check_unique(jobs: list[Job], spec: ExperimentSpec) -> None:
    """Two units with one key would silently merge in results.jsonl; overlapping sample seeds
    (seeds 1 and 2 with 8 samples each share seeds 2..8) would count the same samples twice."""
    ranges = sorted((s, s + spec.samples) for s in spec.seeds)
    for (a, a_end), (b, _) in pairwise(ranges):
        if b < a_end:
            raise UsageError(
                f"seeds {a} and {b} overlap: with samples = {spec.samples} each seed uses "
                f"{spec.samples} consecutive seeds",
                f"space the seeds at least {spec.samples} apart (e.g. seeds = [1, {1 + spec.samples}])",
            )
    seen: set[str] = set()
    for j in jobs:
        if j.key in seen:
            raise UsageError(
                f"two units of the experiment are the same: {j.key}",
                "give every model, format, context, question and probe a distinct entry or id",
            )
        seen.add(j.key)
