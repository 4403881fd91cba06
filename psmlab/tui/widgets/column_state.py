"""What a model column shows, as data: its state (samples, runs, labels, forced choice, settings),
and the small lines drawn from it (pending settings, monitor sparkline); the forced-choice block
is `forced_lines`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from rich.text import Text

from psmlab.core.domain.classify import LABELLER
from psmlab.core.domain.quality import labeller_brief, labeller_line
from psmlab.core.domain.spark import spark_scale, sparkline
from psmlab.core.domain.stats import Share
from psmlab.core.domain.types import MAX_SEED
from psmlab.core.errors import ContextOverflowError, PsmlabError
from psmlab.core.session.records import failed_layers, reference_note
from psmlab.core.session.schema import AutoLabelRecord, GenerationRecord, ProjectionRecord
from psmlab.views import safe


@dataclass
class Sample:
    text: str = ""
    record: GenerationRecord | None = None
    tokens_per_s: float = 0.0
    # While it streams (no record yet): the text the model was given to go on from (a prefill,
    # an adopted answer), shown green from the first token as the finished answer shows it.
    given: str | None = None


class Settings(NamedTuple):
    """What a run or a forced choice was made with, as the panel compares them: the format, the
    system prompt, the prefill and the steering's short label (`Steering.label()`)."""

    format: str
    system: str | None
    prefill: str | None
    steer: str | None


@dataclass(frozen=True)
class Forced:
    """The forced choice for the pending answer, with what it measures (`ProbeResult.measures`)."""

    probs: dict[str, float]  # raw: P(persona | one of its identity statements), T=1, untruncated
    calibrated: dict[str, float] | None  # PMI-calibrated by a content-free question, if computed
    measures: str  # the core's one-line description (the panel's tooltip shows it whole)
    normalized: bool = False  # length-normalised: a score, not a probability
    node: str | None = None  # the pending user turn it was computed after
    scored_with: Settings | None = None  # the column's settings it was scored with
    # The opening design after the same message (`OpeningResult.to_dict()`), or why none.
    opening: dict[str, Any] | None = None
    opening_note: str | None = None
    # With a column prefill: the answers left out, or scored after it as written.
    prefill_note: str | None = None
    # A top class that one answer decides ("calibrated top hal-9000 rests on one answer: …").
    rests_on: tuple[str, ...] = ()

    @property
    def top(self) -> str:
        """The top persona of the distribution the panel leads with (calibrated when there is one)."""
        d = self.calibrated or self.probs
        return max(d, key=lambda k: d[k])


@dataclass
class ColumnState:
    model_id: str
    kind: str
    format: str
    status: str = "loading model…"
    error: str | None = None
    # The error as blind mode shows it: what failed and what to do, not the message (which
    # names the model, its file, or its tokenizer's count of the prompt).
    error_blind: str | None = None
    # The format of the run that failed: a format chosen since is the next run's, not the error's.
    error_format: str | None = None
    samples: list[Sample] = field(default_factory=list)
    shown: int = 0
    # A run is going on in this column: blind, its answers are held until every column's run
    # has ended (which column finished first, or streamed faster, names the smaller model).
    running: bool = False
    # Runs: every generation of the shown turn is kept; `run_no` is the one on screen (0-based).
    run_no: int = 0
    run_count: int = 0
    # The settings the run on screen was made with that differ from the run before it (seeds
    # aside): a trial stepped between runs made with other settings under one header.
    run_differs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    labels: Counter[str] = field(default_factory=Counter)  # human annotations, all samples
    labels_of: dict[str, Counter[str]] = field(default_factory=dict)  # by generation id
    # Automatic labels over the samples: archetype shares, self-id shares, how the turns ended
    # (beside the labels, never one), and the labeller with its agreement with people.
    auto: list[Share] = field(default_factory=list)
    auto_self_id: list[Share] = field(default_factory=list)
    ends: list[Share] = field(default_factory=list)
    cancelled: int = 0  # shown answers cut off by the user, left out of the shares
    failed: int = 0  # shown answers cut off by an error, likewise
    labeller: str = field(default_factory=lambda: labeller_line(LABELLER, now=True))
    labeller_brief: str = field(default_factory=lambda: labeller_brief(LABELLER, now=True))
    methods: tuple[str, ...] = (LABELLER,)  # the labellers of the shown shares
    auto_labels: dict[str, AutoLabelRecord] = field(default_factory=dict)  # by generation id
    forced: Forced | None = None  # forced choice for the pending answer
    forced_error: str | None = None  # why the forced choice could not be computed
    forced_error_with: Settings | None = None  # the settings that error came with
    forced_on: tuple[tuple[str, str], ...] = ()  # the transcript (role, text) it was computed on
    forced_pending: bool = False  # being (re)scored now, after the last run
    # The lab scores a message while it waits for its answer: an answered one (adopted, or
    # asked outside the lab) without a forced choice never gets one.
    forced_due: bool = True
    shade: bool = False  # colour tokens by probability (when recorded)
    cursor: int | None = None  # token under the cursor
    steer: str | None = None  # the column's steering for the next run (`Steering.label()`)
    # The column's other settings for the next run: system prompt, prefill, sampling knobs.
    system: str | None = None
    prefill: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None  # the lab's seed for sample 1 of the next run (None: random)
    # Shown samples that continued an assistant turn: its text was their prefill, not the setting.
    continued: set[str] = field(default_factory=set)
    continued_own: set[str] = field(default_factory=set)  # of those, text a person edited
    continued_plain: set[str] = field(default_factory=set)  # a turn no adoption is recorded for
    # Shown samples adopted into a turn: "adopted" (on the branch shown) or "adopted on another
    # branch" (back at a turn, which answer went on where was not said).
    adopted: dict[str, str] = field(default_factory=dict)
    # Projections of the shown samples on monitored control vectors, by generation id.
    projections: dict[str, list[ProjectionRecord]] = field(default_factory=dict)

    @property
    def next_settings(self) -> Settings:
        """The settings the column's next run (and its forced choice) will use."""
        return Settings(self.format, self.system, self.prefill, self.steer)


def pending(made: GenerationRecord, s: ColumnState) -> list[str]:
    """The column's settings besides format and steering that changed since `made` was made."""
    prefill = None if made.id in s.continued else made.prefill
    changed = ["system"] if made.system != s.system else []
    if prefill != (s.prefill or None):
        changed.append("prefill")
    # Knobs a record from an older version does not hold are not counted as changed.
    if any(made.params.get(k, v) != v for k, v in s.params.items()):
        changed.append("sampling")
    # The seed is the lab's (F3 sets it for every column): a trial set 7 over 42 and only the
    # column whose dialog it was said "next run: system changed". Sample i's seed is base + i.
    if s.seed is not None and (made.seed - made.sample) % (MAX_SEED + 1) != s.seed:
        changed.append("seed")
    return changed


def monitor_name(p: ProjectionRecord, among: Sequence[ProjectionRecord] = ()) -> str:
    """A monitored vector's name: its archetype, else its file name; with its file name too
    where another of `among` has that archetype (a trial's SmolLM2 and Gemma hal-9000 vectors
    read as one, "hal-9000 L12 +1.90" above "hal-9000 skipped")."""
    name = str(p.vector.get("archetype") or "")
    file = Path(str(p.vector.get("file") or "?")).name
    if not name:
        return file
    twins = [q for q in among if q.vector.get("archetype") == name]
    if len({str(q.vector.get("file")) for q in twins}) > 1:
        return f"{name} ({file})"
    return name


def last_layer(p: ProjectionRecord) -> str | None:
    keys = [k for k in p.projection if k.lstrip("-").isdigit()]
    return max(keys, key=int) if keys else None


def token_value(p: ProjectionRecord, i: int) -> float | None:
    """Token i's projection at the vector's last layer (None: not measured)."""
    layer = last_layer(p)
    values = p.per_token.get(layer, []) if layer is not None else []
    return values[i] if 0 <= i < len(values) else None


MONITOR_SPARK = 24  # the sparkline's width when the column's is not known yet


def monitor_line(
    p: ProjectionRecord,
    width: int = 0,
    among: Sequence[ProjectionRecord] = (),
    *,
    whole: bool = False,
) -> Text:
    """`hal-9000 L20 +3.21 ▂▃▅▇▆▃`: the answer's mean projection at the vector's last layer and
    its tokens' as a sparkline (fitted to `width` cells); or why it was not measured (`among`:
    the answer's other projections, which its name must be told apart from)."""
    out = Text()
    out.append_text(safe(monitor_name(p, among), "bold"))
    layer = last_layer(p)
    if p.skipped or layer is None:
        why = p.skipped or "nothing measured"
        short = why if len(why) <= 60 else why[:57] + "…"
        out.append_text(safe(f" skipped: {short}", "dim"))
        return out
    out.append_text(safe(f" L{layer} {p.projection[layer]:+.2f}"))
    if layer in p.added:  # steered at this layer: part of the value is the vector itself
        out.append_text(safe(f" (the vector's own {p.added[layer]:+.2f})", "magenta"))
    if p.note:  # the vector records another model file: a number that may mean nothing here
        out.append(" (another model's vector)", style="yellow")
    if p.baseline:  # made otherwise than the vector's answers: their means are another offset
        out.append(" (not made as its held-out answers were)", style="yellow")
    if failed := failed_layers(p.vector, [layer]):  # why: in `p` (whole), trace, the export
        why = f": {failed[str(layer)]}" if whole else ""
        out.append_text(safe(f" (⚠ failed its held-out test{why})", "bold yellow"))
    ref = reference_note({**p.vector, "failed": {}}, [layer])
    ref = ref.removeprefix("held out: ").removeprefix(f"L{layer} ")
    if ref:  # what its build's held-out answers read at this layer: the scale of the value
        out.append_text(safe(f" (held out: {ref})", "dim"))
    values = p.per_token.get(layer) or []
    room = width - out.cell_len - 1 if width > 0 else MONITOR_SPARK
    if values and room >= 4:
        drawn = sparkline(values, min(room, 48))
        out.append(" " + drawn, style="cyan")
        scale = spark_scale(values, min(room, 48))
        if room - len(drawn) - 1 >= len(scale):  # what its blocks span, where it fits
            out.append(" " + scale, style="dim")
    return out


def blind_error(exc: PsmlabError | None) -> str:
    """A column's error in words that name no model, for blind mode (None: of an unknown kind)."""
    if isinstance(exc, ContextOverflowError):
        return (
            "the prompt does not fit this model's context: shorten the message, lower the max "
            "tokens (F3), or raise n_ctx in the model's config entry (Ctrl+B shows the numbers)"
        )
    return "this model failed; the error names it, so blind mode hides it (Ctrl+B shows it)"
