"""One model's column: header (id, kind, format, steering, tok/s, how the turn ended), streamed text,
labels, projections on monitored vectors, sample stepper."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from psmlab.core.domain.classify import LABELLER, UNCLEAR, archetypes, turn_end
from psmlab.core.domain.quality import labeller_brief, labeller_line
from psmlab.core.domain.spark import sparkline
from psmlab.core.domain.stats import Share, fmt_ends, fmt_share
from psmlab.core.measure.instruments import pure
from psmlab.core.models.cvec import record_label
from psmlab.core.session.schema import AutoLabelRecord, GenerationRecord, ProjectionRecord
from psmlab.views import safe


@dataclass
class Sample:
    text: str = ""
    record: GenerationRecord | None = None
    tokens_per_s: float = 0.0


@dataclass(frozen=True)
class Forced:
    """The forced choice for the pending answer, with what it measures (`ProbeResult.measures`)."""

    probs: dict[str, float]  # raw: P(persona | one of its identity statements), T=1, untruncated
    calibrated: dict[str, float] | None  # PMI-calibrated by a content-free question, if computed
    measures: str  # the core's one-line description (the panel's tooltip shows it whole)
    normalized: bool = False  # length-normalised: a score, not a probability
    node: str | None = None  # the pending user turn it was computed after

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
    samples: list[Sample] = field(default_factory=list)
    shown: int = 0
    # Runs: every generation of the shown turn is kept; `run_no` is the one on screen (0-based).
    run_no: int = 0
    run_count: int = 0
    warnings: tuple[str, ...] = ()
    labels: Counter[str] = field(default_factory=Counter)  # human annotations
    # Automatic labels over the samples: archetype shares, self-id shares, how the turns ended
    # (beside the labels, never one), and the labeller with its agreement with people.
    auto: list[Share] = field(default_factory=list)
    auto_self_id: list[Share] = field(default_factory=list)
    ends: list[Share] = field(default_factory=list)
    labeller: str = field(default_factory=lambda: labeller_line(LABELLER))
    labeller_brief: str = field(default_factory=lambda: labeller_brief(LABELLER))
    auto_labels: dict[str, AutoLabelRecord] = field(default_factory=dict)  # by generation id
    forced: Forced | None = None  # forced choice for the pending answer
    forced_error: str | None = None  # why the forced choice could not be computed
    forced_on: tuple[tuple[str, str], ...] = ()  # the transcript (role, text) it was computed on
    shade: bool = False  # colour tokens by probability (when recorded)
    cursor: int | None = None  # token under the cursor
    steer: str | None = None  # the column's steering for the next run (`Steering.label()`)
    # The column's other settings for the next run: system prompt, prefill, sampling knobs.
    system: str | None = None
    prefill: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # Shown samples that continued an assistant turn: its text was their prefill, not the setting.
    continued: set[str] = field(default_factory=set)
    # Projections of the shown samples on monitored control vectors, by generation id.
    projections: dict[str, list[ProjectionRecord]] = field(default_factory=dict)


class ModelColumn(Vertical, can_focus=True):
    """Focus a column (Tab) to act on it: adopt, regenerate, step samples, annotate, inspect."""

    BINDINGS = [
        Binding("a", "screen.adopt", "Adopt"),
        Binding("r", "screen.regenerate_column", "Regenerate"),
        Binding("left_square_bracket,left", "step(-1)", "Prev sample", show=False),
        Binding("right_square_bracket,right", "step(1)", "Next sample", show=False),
        Binding("left_curly_bracket", "screen.step_run(-1)", "Prev run", show=False),
        Binding("right_curly_bracket", "screen.step_run(1)", "Next run", show=False),
        Binding("c", "screen.compare", "Compare", show=False),
        Binding("l", "screen.annotate", "Label"),
        Binding("i", "screen.inspect", "Inspect", show=False),
        Binding("s", "screen.settings", "Settings", show=False),
        Binding("comma", "token(-1)", "Prev token", show=False),
        Binding("full_stop", "token(1)", "Next token", show=False),
    ]

    def __init__(self, state: ColumnState, display_name: str, *, blind: bool = False) -> None:
        super().__init__(classes="column")
        self.state = state
        self.display_name = display_name
        # Blind: nothing that gives the model away (kind, format, how its turn ended, template
        # warnings) and no earlier labels or forced-choice numbers on screen.
        self.blind = blind
        self._shown: dict[str, Text] = {}  # what each part shows now (see _put)

    def compose(self) -> ComposeResult:
        yield Static(classes="col-header")
        with VerticalScroll(classes="col-body"):
            yield Static(classes="col-text")
        yield Static(classes="col-dist")
        yield Static(classes="col-footer")

    def on_mount(self) -> None:
        self.refresh_view()

    def on_resize(self, event: events.Resize) -> None:
        """The forced choice's bars are shown only when they fit: redraw at the new width (as
        `refresh_view` draws it: blind, the panel stays hidden)."""
        self._shown.pop(".col-dist", None)
        self.refresh_view()

    def _distribution(self) -> Text:
        """Label shares over this column's samples (automatic) and the forced-choice distribution."""
        s = self.state
        out = Text()
        if s.auto and s.auto[0].n > 1:
            out.append(f"auto labels over {s.auto[0].n} samples ", style="bold")
            # The panel holds 10 lines: in a narrow column the whole labeller line would push
            # the shares out of it, so there the labeller is said in brief (its kappa kept).
            narrow = self.content_size.width < len(s.labeller) // 2
            out.append_text(safe(f"({s.labeller_brief if narrow else s.labeller})", "dim"))
            if s.auto_self_id and s.auto_self_id[0].n:
                out.append("\nself-id: ", style="bold")
                seen = [f"{x.label} {fmt_share(x)}" for x in s.auto_self_id if x.k]
                absent = [x for x in s.auto_self_id if not x.k]
                if absent:  # absent classes together: "human, mixed 0/3 (≤ 56%)"
                    seen.append(", ".join(x.label for x in absent) + " " + fmt_share(absent[0]))
                out.append_text(safe(" · ".join(seen)))
            else:  # a session recorded before the self-identification axis
                out.append("\nself-id: not recorded", style="dim")
            out.append("\narchetypes: ", style="bold")
            out.append_text(safe(" · ".join(f"{x.label} {fmt_share(x)}" for x in s.auto[:3])))
            out.append_text(safe(f"\nturns ended: {fmt_ends(s.ends)}", "dim"))
        if s.forced or s.forced_error:
            if out:
                out.append("\n")
            out.append_text(forced_block(s, self.content_size.width))
        return out

    @property
    def current(self) -> Sample | None:
        s = self.state
        return s.samples[s.shown] if 0 <= s.shown < len(s.samples) else None

    def action_step(self, delta: int) -> None:
        n = len(self.state.samples)
        if n:
            self.state.shown = (self.state.shown + delta) % n
            self.refresh_view()

    def action_token(self, delta: int) -> None:
        cur = self.current
        toks = cur.record.token_logprobs if cur is not None and cur.record is not None else None
        if not toks:
            self.app.notify(
                "No token probabilities for this sample (F7 records them)", severity="warning"
            )
            return
        at = -1 if self.state.cursor is None else self.state.cursor
        self.state.cursor = max(0, min(len(toks) - 1, at + delta))
        self.refresh_view()

    def _shaded(self, rec: GenerationRecord) -> Text:
        """The continuation token by token: low-probability tokens stand out; the cursor is reversed."""
        out = Text()
        budget = len(rec.text)
        for i, t in enumerate(rec.token_logprobs or []):
            piece = t.text[: max(0, budget)]
            budget -= len(t.text)
            p = math.exp(t.logprob)
            style = "" if p >= 0.5 else "yellow" if p >= 0.1 else "bold red"
            if i == self.state.cursor:
                style += " reverse"
            out.append_text(safe(piece, style.strip()))
            if budget <= 0:
                break
        return out

    def _put(self, selector: str, content: Text) -> None:
        """Show `content` in one part of the column. While tokens stream, most parts do not change
        and the text grows within its last line most of the time: an unchanged part is left
        alone, and a layout pass (the costly part of a redraw with two columns, ~14 ms here)
        is asked for only when the part's height changes."""
        widget = self.query_one(selector, Static)
        if self._shown.get(selector) == content:
            return
        self._shown[selector] = content
        widget.update(content, layout=False)
        width, height = widget.content_size
        # Textual's own measure of the new content (the widget's content-height cache was
        # cleared by the update); a part not laid out yet always gets a layout.
        if not width or widget.get_content_height(widget.size, widget.size, width) != height:
            widget.refresh(layout=True)

    def refresh_view(self, *, follow: bool = False) -> None:
        s = self.state
        head = Text()
        head.append_text(safe(self.display_name, "bold"))
        cur = self.current
        made = cur.record if cur is not None else None
        if not self.blind:
            # The format the shown answer was made with, never a setting chosen since.
            head.append_text(safe(f" · {s.kind} · {made.format if made else s.format}", "dim"))
        if s.run_count:
            head.append(f" · run {s.run_no + 1}/{s.run_count}", style="bold")
        # What the next run changes, said once: "next run: chatml; unsteered; system changed".
        nexts: list[str] = []
        if made is not None and not self.blind and made.format != s.format:
            nexts.append(s.format)
        # Steering: the shown answer's (as recorded), else the column's; blind: no file name.
        made_steer = record_label(made.params.get("steer")) if made is not None else s.steer
        if made_steer:
            head.append_text(
                safe(" · steered" + ("" if self.blind else f" {made_steer}"), "magenta")
            )
        if made is not None and made_steer != s.steer:
            nxt = (
                "unsteered"
                if s.steer is None
                else "steered" + ("" if self.blind else f" {s.steer}")
            )
            nexts.append(nxt)
        changed = pending(made, s) if made is not None else []
        if changed:  # names only: a system prompt or prefill is long (F3 shows it)
            nexts.append(f"{', '.join(changed)} changed")
        if nexts:
            head.append_text(safe(" · next run: " + "; ".join(nexts), "yellow"))
        if cur is not None and cur.tokens_per_s:
            head.append(f" · {cur.tokens_per_s:.0f} tok/s", style="dim")
        if cur is not None and cur.record is not None and not self.blind:
            rec = cur.record
            # How the turn ended, not a label: a base model starting the next speaker's line
            # is the normal end of its turn.
            head.append_text(safe(f" · {turn_end(rec.finish_reason, rec.stop_string)}", "dim"))
        self._put(".col-header", head)
        body = Text()
        if s.error:
            body.append_text(safe(s.error, "bold red"))
        elif cur is None:
            body.append_text(safe(s.status, "dim italic"))
        else:
            if cur.record is not None and cur.record.prefill:
                body.append_text(safe(cur.record.prefill, "italic green"))
            if s.shade and cur.record is not None and cur.record.token_logprobs:
                body.append_text(self._shaded(cur.record))
            else:
                body.append_text(safe(cur.text))
            if cur.record is None:
                body.append("▌", style="dim")
        self._put(".col-text", body)
        foot = Text()
        if s.samples:
            foot.append(f"sample {s.shown + 1}/{len(s.samples)}", style="bold")
            if cur is not None and cur.record is not None:
                foot.append(f" · seed {cur.record.seed} · {cur.record.n_tokens} tok", style="dim")
                auto = s.auto_labels.get(cur.record.id)
                if auto is not None and not self.blind:
                    sid = auto.self_id or "not recorded"
                    arch = ", ".join(archetypes(auto.labels))
                    foot.append_text(safe(f"\n{auto.method}: self-id {sid} · {arch}", "cyan"))
                if not self.blind:
                    for p in s.projections.get(cur.record.id, []):
                        foot.append("\n")
                        foot.append_text(monitor_line(p, self.content_size.width))
        if s.labels and not self.blind:
            foot.append(
                "  labels: " + ", ".join(f"{k} {v}" for k, v in s.labels.most_common()),
                style="cyan",
            )
        shown = cur.record if cur is not None else None
        toks = shown.token_logprobs if shown is not None else None
        if s.cursor is not None and toks and s.cursor < len(toks):
            t = toks[s.cursor]
            alts = ", ".join(f"{a!r} {math.exp(lp):.2f}" for a, lp in t.top)
            foot.append_text(
                safe(f"\ntoken {t.text!r} p={math.exp(t.logprob):.2f} · top: {alts}", "magenta")
            )
            assert shown is not None
            for p in () if self.blind else s.projections.get(shown.id, []):
                at = token_value(p, s.cursor)
                if at is not None:
                    foot.append_text(safe(f" · {monitor_name(p)} {at:+.2f}", "magenta"))
        # The warnings of the prompt the shown answer was made from (while streaming: the live run's).
        warnings = made.warnings if made is not None else s.warnings
        for w in () if self.blind else warnings:  # one line each; F2 shows them whole
            short = w if len(w) <= 70 else w[:67] + "…"
            foot.append_text(safe(f"\n⚠ {short}", "yellow"))
        self._put(".col-footer", foot)
        dist = self.query_one(".col-dist", Static)
        if self.blind:
            self._put(
                ".col-dist",
                Text("labels and forced choice hidden in blind mode (Ctrl+B reveals)", "dim"),
            )
            dist.tooltip = None
        else:
            self._put(".col-dist", self._distribution())
            dist.tooltip = s.forced.measures if s.forced else None
        if follow:
            self.query_one(".col-body", VerticalScroll).scroll_end(animate=False)


def pending(made: GenerationRecord, s: ColumnState) -> list[str]:
    """The column's settings besides format and steering that changed since `made` was made."""
    prefill = None if made.id in s.continued else made.prefill
    changed = ["system"] if made.system != s.system else []
    if prefill != (s.prefill or None):
        changed.append("prefill")
    # Knobs a record from an older version does not hold are not counted as changed.
    if any(made.params.get(k, v) != v for k, v in s.params.items()):
        changed.append("sampling")
    return changed


def monitor_name(p: ProjectionRecord) -> str:
    """A monitored vector's name: its archetype, else its file name."""
    return str(p.vector.get("archetype") or Path(str(p.vector.get("file") or "?")).name)


def _last_layer(p: ProjectionRecord) -> str | None:
    keys = [k for k in p.projection if k.lstrip("-").isdigit()]
    return max(keys, key=int) if keys else None


def token_value(p: ProjectionRecord, i: int) -> float | None:
    """Token i's projection at the vector's last layer (None: not measured)."""
    layer = _last_layer(p)
    values = p.per_token.get(layer, []) if layer is not None else []
    return values[i] if 0 <= i < len(values) else None


MONITOR_SPARK = 24  # the sparkline's width when the column's is not known yet


def monitor_line(p: ProjectionRecord, width: int = 0) -> Text:
    """`hal-9000 L20 +3.21 ▂▃▅▇▆▃`: the answer's mean projection at the vector's last layer and
    its tokens' as a sparkline (fitted to `width` cells); or why it was not measured."""
    out = Text()
    out.append_text(safe(monitor_name(p), "bold"))
    layer = _last_layer(p)
    if p.skipped or layer is None:
        why = p.skipped or "nothing measured"
        short = why if len(why) <= 60 else why[:57] + "…"
        out.append_text(safe(f" skipped: {short}", "dim"))
        return out
    out.append_text(safe(f" L{layer} {p.projection[layer]:+.2f}"))
    values = p.per_token.get(layer) or []
    room = width - out.cell_len - 1 if width > 0 else MONITOR_SPARK
    if values and room >= 4:
        out.append(" " + sparkline(values, min(room, 48)), style="cyan")
    return out


BAR = 8  # a probability of 1 is this many blocks


def _dist_line(name: str, d: Mapping[str, float], width: int) -> Text:
    """`name: a 0.52 ████ · b 0.30 ██ · c 0.10 █` (the top three; persona ids escaped), with the
    bars only when the line then still fits in `width` cells."""
    top = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    for bars in (True, False):
        out = Text()
        out.append(f"{name}: ", style="bold")
        out.append_text(
            safe(
                " · ".join(
                    f"{a} {p:.2f}" + (f" {'█' * round(p * BAR)}" if bars else "") for a, p in top
                )
            )
        )
        if out.cell_len <= width:
            break
    return out


def forced_header(f: Forced) -> str:
    """What the numbers are, short enough for a column (the tooltip has `f.measures` whole)."""
    what = "score, not a probability" if f.normalized else "P(persona | statements)"
    return f"forced choice · T=1 · {what}"


KNOBS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0}


def _sample_params(s: ColumnState) -> dict[str, Any] | None:
    """The sampling knobs the column's samples were drawn with (seeds aside); None if they differ."""
    knobs = [{k: x.record.params.get(k) for k in KNOBS} for x in s.samples if x.record is not None]
    if not knobs or any(p != knobs[0] for p in knobs[1:]):
        return None
    return knobs[0]


def settings_note(params: Mapping[str, Any] | None) -> str:
    """Whether the samples come from the distribution forced choice scores: T=1, no truncation
    (`instruments.pure`) and, here too, no repeat penalty."""
    if params is None:
        return "(samples at mixed settings: not comparable)"
    if pure(params) and params.get("repeat_penalty", 1.0) == 1.0:
        return "(same T=1 distribution)"
    parts = [f"T {params.get('temperature')}"] if params.get("temperature") != 1.0 else []
    if any(params.get(k) != KNOBS[k] for k in ("top_k", "top_p", "min_p")):
        parts.append("truncated")
    if params.get("repeat_penalty", 1.0) != 1.0:
        parts.append(f"repeat penalty {params.get('repeat_penalty')}")
    return f"(samples at {', '.join(parts)}: another distribution)"


def agreement_line(s: ColumnState, f: Forced) -> Text | None:
    """Forced choice's top persona against the samples' most frequent archetype label (never
    `unclear`), with whether the samples were drawn from the distribution it scores; None when
    the column has no labelled samples answering the turn the forced choice was computed on."""
    recs = [x.record for x in s.samples if x.record is not None]
    if not s.auto or not s.auto[0].n or not recs:
        return None
    if any(r.node != f.node for r in recs):
        return None  # samples of another turn
    n = s.auto[0].n
    named = [x for x in s.auto if x.label != UNCLEAR and x.k]
    if not named:
        verdict = "all unclear"
    else:
        best = [x for x in named if x.k == named[0].k]
        k = best[0].k
        if len(best) == 1 and best[0].label == f.top:
            verdict = f"top agrees ({f.top} {k}/{n})"
        elif f.top in {x.label for x in best}:
            verdict = f"top tied: {', '.join(x.label for x in best)} {k}/{n} each"
        else:
            mine = next((x.k for x in s.auto if x.label == f.top), 0)
            who = ", ".join(x.label for x in best) + (" each" if len(best) > 1 else "")
            verdict = f"samples' top is {who} {k}/{n} ({f.top} {mine}/{n})"
    out = Text()
    out.append(f"vs {n} sample{'s' if n != 1 else ''}: ", style="bold")
    out.append_text(safe(verdict))
    out.append_text(safe(" " + settings_note(_sample_params(s)), "dim"))
    return out


def forced_block(s: ColumnState, width: int = 0) -> Text:
    """The forced choice, always with what it measures: a header, the calibrated (PMI) and raw
    distributions (bars when `width` fits them), and its agreement with the labelled samples."""
    out = Text()
    f = s.forced
    if f is None:
        if s.forced_error:
            out.append("forced choice: unavailable: ", style="bold dim")
            out.append_text(safe(s.forced_error, "dim"))
        return out
    out.append_text(safe(forced_header(f), "dim"))
    if f.calibrated:
        out.append("\n")
        out.append_text(_dist_line("PMI", f.calibrated, width))
    out.append("\n")
    out.append_text(_dist_line("raw", f.probs, width))
    agree = agreement_line(s, f)
    if agree is not None:
        out.append("\n")
        out.append_text(agree)
    return out
