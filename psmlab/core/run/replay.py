"""Re-run a session headless, token for token, or replay its transcript on other models.

`replay` uses the recorded prompts, formats, params and seeds and compares token for token;
`replay_on` runs the same transcript on other models as a new session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import RenderedPrompt, render
from psmlab.core.domain.stats import FRAGMENT_ENDS
from psmlab.core.domain.types import Generation, SamplingParams
from psmlab.core.errors import PsmlabError, SessionError
from psmlab.core.models.hashing import file_sha256
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering
from psmlab.core.run.recorder import server_changes, spec_for_record
from psmlab.core.run.replay_checks import (
    at_recorded_context,
    check_model_file,
    check_record,
    check_settings,
    check_versions,
    check_vocab,
)
from psmlab.core.session.records import tokens_sha256
from psmlab.core.session.schema import GenerationRecord, Session, new_id

_PARAM_KEYS = set(SamplingParams.model_fields)


@dataclass
class ReplayItem:
    id: str
    model: str
    identical: bool | None  # None when replaying on other models (nothing to compare with)
    first_divergence: int | None = None
    error: str | None = None
    error_code: int | None = None  # the error's exit code (14: a server unreachable, …)
    new_id: str | None = None
    # The prompt rendered now is not the one recorded (prompt_sha256): the turns before the
    # answer were edited in the file, so a change says nothing about determinism.
    prompt_changed: bool = False
    # Nothing to compare: the original was cancelled (or failed) before its first token, and
    # any text starts with none (a trial read "identical" for it).
    empty: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "identical": self.identical,
            "empty": self.empty,
            "first_divergence": self.first_divergence,
            "error": self.error,
            "new_id": self.new_id,
            "prompt_changed": self.prompt_changed,
        }


@dataclass
class ReplayReport:
    items: list[ReplayItem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_session: Session | None = None
    cancelled: bool = False
    expected: int = 0  # how many generations the replay set out to run

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def identical(self) -> int:
        return sum(1 for i in self.items if i.identical is True)

    @property
    def changed(self) -> int:
        return sum(1 for i in self.items if i.identical is False and i.error is None)

    @property
    def failed(self) -> int:
        return sum(1 for i in self.items if i.error is not None)

    @property
    def empty(self) -> int:
        """Originals with nothing to compare (ended before their first token)."""
        return sum(1 for i in self.items if i.empty)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "identical": self.identical,
            "changed": self.changed,
            "failed": self.failed,
            "empty": self.empty,
            "cancelled": self.cancelled,
            "expected": self.expected,
            "warnings": self.warnings,
            "generations": [i.to_dict() for i in self.items],
        }


def first_divergence(a: str, b: str) -> int | None:
    """The first character offset where two texts differ (None if equal)."""
    if a == b:
        return None
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _params(g: GenerationRecord) -> SamplingParams:
    kw = {k: v for k, v in g.params.items() if k in _PARAM_KEYS}
    if g.finish_reason in FRAGMENT_ENDS:
        # A cancelled generation (or one an error cut off) stopped at an arbitrary token: replay
        # up to the same point.
        kw["max_tokens"] = max(1, g.n_tokens)
    return SamplingParams(**kw)


def _group_key(g: GenerationRecord) -> tuple[Any, ...] | None:
    """Generations decoded together (one parallel group) share this key; None: decoded alone."""
    par = g.params.get("parallel")
    if not par:
        return None
    rest = {k: v for k, v in g.params.items() if k not in ("seed", "parallel")}
    return (
        g.model,
        g.node,
        g.turn,
        g.run,
        g.format,
        tuple(par["seeds"]),
        repr(sorted(rest.items())),
    )


def _run_group(
    pool: ModelPool,
    spec: ModelSpec,
    session: Session,
    g: GenerationRecord,
    cancel: threading.Event,
) -> list[Generation]:
    """Decode g's whole parallel group again, with the same seeds in the same sequences: logits
    depend on the batch, so only the same group reproduces its tokens. A sample that was
    cancelled is compared on its prefix, so the group runs to its recorded max_tokens, or,
    when every sample was cut off, as far as the longest of them went."""
    seeds = [int(x) for x in g.params["parallel"]["seeds"]]
    params = SamplingParams(**{k: v for k, v in g.params.items() if k in _PARAM_KEYS})
    model = pool.get(spec)
    prompt = _prompt_for(model, spec, session, g, g.format, params)
    key = _group_key(g)
    members = [x for x in session.generations if _group_key(x) == key]
    if members and all(x.finish_reason in FRAGMENT_ENDS for x in members):
        # Every sample was cut off (a cancelled run): decoding on to max_tokens made nothing
        # compared and looked hung (a trial's 58 streamed tokens replayed toward 2000).
        stop = max(1, max(x.n_tokens for x in members))
        params = params.model_copy(update={"max_tokens": min(params.max_tokens, stop)})
    threads = g.params.get("n_threads")
    return model.generate_many(
        prompt,
        params,
        seeds,
        cancel=cancel,
        n_threads=int(threads) if threads else None,
        steering=steering_of(g),
        group=len(seeds),
    )


def _prompt_for(
    model: Any,
    spec: ModelSpec,
    session: Session,
    g: GenerationRecord,
    fmt_name: str,
    params: SamplingParams,
) -> RenderedPrompt:
    history = session.history_of(g)
    prefill = None if history.turns and history.turns[-1].role == "assistant" else g.prefill
    # Room kept for the answer as the original run kept it: a cancelled answer replays only to
    # where it stopped, but a smaller reserve would keep more of a long history in the prompt.
    recorded = g.params.get("max_tokens")
    reserve = recorded if isinstance(recorded, int) and recorded > 0 else params.max_tokens
    return render(
        history,
        spec.get_format(fmt_name),
        model.vocab,
        model_id=spec.id,
        model=spec,
        n_ctx=model.n_ctx,
        system=g.system,
        prefill=prefill,
        reserve=reserve,
    )


def made_prompt(
    model: Any, spec: ModelSpec, session: Session, g: GenerationRecord
) -> RenderedPrompt:
    """The prompt a recorded answer was made from, rendered again from its record (the lab's
    inspector shows it for the answer on screen; replay compares the tokens it gives)."""
    return _prompt_for(model, spec, session, g, g.format, _params(g))


def _run_one(
    pool: ModelPool,
    spec: ModelSpec,
    session: Session,
    g: GenerationRecord,
    fmt_name: str,
    params: SamplingParams,
    seed: int,
    sample: int,
    cancel: threading.Event,
    *,
    steered: bool = True,
) -> tuple[RenderedPrompt, Generation]:
    model = pool.get(spec)
    prompt = _prompt_for(model, spec, session, g, fmt_name, params)
    threads = g.params.get("n_threads")
    return prompt, model.generate(
        prompt,
        params,
        seed,
        sample=sample,
        cancel=cancel,
        n_threads=int(threads) if threads else None,
        steering=steering_of(g) if steered else None,
    )


def steering_of(g: GenerationRecord) -> Steering | None:
    """The control vector a generation was steered with, read again and checked by sha256."""
    rec = g.params.get("steer")
    return Steering.from_record(rec) if rec else None


Progress = Callable[[int, int, ReplayItem], None]


def replay(
    session: Session,
    *,
    pool: ModelPool | None = None,
    cancel: threading.Event | None = None,
    on_progress: Progress | None = None,
) -> ReplayReport:
    """Re-run every recorded generation with its recorded model, format, params and seed."""
    pool = pool or ModelPool()
    cancel = cancel or threading.Event()
    report = ReplayReport()
    specs: dict[str, ModelSpec | PsmlabError] = {}
    for rec in session.models:
        try:
            found = specs[rec.id] = spec_for_record(rec, report.warnings)
            if found.is_remote:
                # The server's weights cannot be hashed (its id and version are compared); the
                # local GGUF that renders its prompts can.
                check_vocab(session, rec.id, found, report.warnings)
                continue
            digest = file_sha256(found.path)
            if rec.sha256 and digest != rec.sha256:
                report.warnings.append(
                    f"model {rec.id}: {found.path} is not the file the session was recorded with "
                    f"(sha256 {digest[:12]}…, recorded {rec.sha256[:12]}…)"
                )
            else:
                report.warnings.extend(check_model_file(session, rec.id, found.path, digest))
        except PsmlabError as exc:
            specs[rec.id] = exc
    report.warnings.extend(check_versions(session) + check_settings(session))
    checked: set[str] = set()
    grouped: dict[tuple[Any, ...], list[Generation]] = {}  # parallel groups already decoded
    # Every branch: each generation is re-run after the turns it saw.
    gens = sorted(session.generations, key=lambda g: (g.turn, g.model, g.sample))
    report.expected = len(gens)
    text_only = 0
    try:
        for g in gens:
            if cancel.is_set():
                report.cancelled = True
                break
            item = ReplayItem(g.id, g.model, identical=False)
            spec = specs.get(g.model)
            try:
                if spec is None:
                    # A hand-edited file: the session, not the model, is what is wrong (exit 10).
                    raise SessionError(
                        f"model {g.model} is not in the session's model list",
                        "the file has lost that model's record (its `models` entry); restore it "
                        "from a copy of the session",
                    )
                if isinstance(spec, PsmlabError):
                    raise spec
                check_record(g)
                if g.finish_reason in FRAGMENT_ENDS and not g.text and not g.tokens:
                    item.identical, item.empty = None, True
                    report.items.append(item)
                    if on_progress:
                        on_progress(len(report.items), len(gens), item)
                    continue
                spec = at_recorded_context(spec, g)
                key = _group_key(g)
                if key is None:
                    _, new = _run_one(
                        pool, spec, session, g, g.format, _params(g), g.seed, g.sample, cancel
                    )
                else:
                    if key not in grouped:
                        grouped[key] = _run_group(pool, spec, session, g, cancel)
                    done, seq = grouped[key], int(g.params["parallel"]["seq"])
                    if seq >= len(done):
                        raise PsmlabError(
                            f"its parallel group was not decoded again ({len(done)} of {len(g.params['parallel']['seeds'])} samples)"
                        )
                    new = done[seq]
                was = session.model(g.model)
                if was is not None and was.endpoint and g.model not in checked:
                    checked.add(g.model)
                    report.warnings.extend(server_changes(was, new.provenance))
                if not g.tokens:
                    # No token ids recorded (a server model; an experiment's rows, opened as a
                    # session): the text is all there is to compare, and the report says so.
                    text_only += 1
                    cut = g.finish_reason in FRAGMENT_ENDS
                    same = new.text.startswith(g.text) if cut else new.text == g.text
                elif g.finish_reason in FRAGMENT_ENDS:
                    same = list(new.tokens[: len(g.tokens)]) == g.tokens
                else:
                    same = list(new.tokens) == g.tokens and new.text == g.text
                item.identical = same
                # Same text in other tokens diverges nowhere in the text: None, not 0.
                item.first_divergence = None if same else first_divergence(g.text, new.text)
                if not same and g.prompt_sha256:
                    prompt = _prompt_for(pool.get(spec), spec, session, g, g.format, _params(g))
                    item.prompt_changed = tokens_sha256(prompt.tokens) != g.prompt_sha256
            except PsmlabError as exc:
                item.identical, item.error = None, exc.one_line()
                item.error_code = int(exc.exit_code)
            report.items.append(item)
            if on_progress:
                on_progress(len(report.items), len(gens), item)
    except KeyboardInterrupt:
        report.cancelled = True
    if text_only:
        report.warnings.append(
            f"{text_only} generation(s) recorded no token ids (a server model's, an experiment's "
            "samples, or an answer that ended at once): compared by their text only"
        )
    return report


def replay_on(
    session: Session,
    specs: list[ModelSpec],
    *,
    formats: dict[str, str | None] | None = None,
    pool: ModelPool | None = None,
    cancel: threading.Event | None = None,
    on_progress: Progress | None = None,
) -> ReplayReport:
    """The same transcript, turn by turn, on other models: a new session with the same seeds/params."""
    from psmlab.core.run.recorder import SessionRecorder
    from psmlab.core.run.runner import Column, GenerationDone, ModelReady

    pool = pool or ModelPool()
    cancel = cancel or threading.Event()
    new = Session(title=f"{session.title} (replayed on {', '.join(s.id for s in specs)})")
    # The whole tree, every branch: the same turns (and ids) for the new models to continue.
    # Who wrote an adopted turn stays said (its generation is in the other session, and the
    # export says so): dropping it passed another model's answer off as a plain turn.
    new.nodes = [t.model_copy(deep=True) for t in session.nodes]
    new.head = session.head
    report = ReplayReport(new_session=new)
    # One job per (turn, sample): the seeds and params the original used at that turn.
    jobs: dict[tuple[str | None, int], GenerationRecord] = {}
    for g in sorted(session.generations, key=lambda g: (g.turn, g.sample)):
        jobs.setdefault((g.node, g.sample), g)
    total = report.expected = len(jobs) * len(specs)
    if any(g.params.get("steer") for g in jobs.values()):
        # A control vector is made for one model's residual stream (its width, its layers).
        report.warnings.append(
            "steered answers are replayed unsteered: a control vector belongs to the model it "
            "was built for"
        )
    runs: dict[tuple[str | None, str], str] = {}
    try:
        for (node, sample), g in sorted(jobs.items(), key=lambda kv: (kv[1].turn, kv[0][1])):
            for spec in specs:
                if cancel.is_set():
                    raise KeyboardInterrupt
                fmt_name = (formats or {}).get(spec.id) or spec.default_format
                col = Column(
                    spec, format=fmt_name, system=g.system, prefill=g.prefill, params=_params(g)
                )
                run = runs.setdefault((node, spec.id), new_id("r-"))
                rec = SessionRecorder(new, [col], turn=g.turn, node=node, run=run)
                item = ReplayItem(g.id, spec.id, identical=None)
                try:
                    prompt, gen = _run_one(
                        pool,
                        spec,
                        session,
                        g,
                        fmt_name,
                        _params(g),
                        g.seed,
                        sample,
                        cancel,
                        steered=False,
                    )
                    rec.on_event(ModelReady(spec.id, 0.0, prompt))
                    rec.on_event(GenerationDone(gen))
                    item.new_id = gen.id
                except PsmlabError as exc:
                    item.error = exc.one_line()
                    item.error_code = int(exc.exit_code)
                report.items.append(item)
                if on_progress:
                    on_progress(len(report.items), total, item)
    except KeyboardInterrupt:
        report.cancelled = True
    return report
