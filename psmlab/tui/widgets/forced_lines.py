"""The forced-choice block under a model column, as text: its distributions, what each measures
(settings, labeller, n), how it agrees with the column's own labelled samples, and the opening
design's walks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from psmlab.core.domain.classify import UNCLEAR
from psmlab.core.domain.sampling import pure
from psmlab.core.domain.stats import Share, fmt_share
from psmlab.core.measure.instruments import EVEN
from psmlab.core.models.steering import record_label
from psmlab.tui.widgets.column_state import ColumnState, Forced, Settings
from psmlab.views import safe


def _run_settings(s: ColumnState) -> Settings | None:
    """The shown run's format, system prompt, prefill and steering label, as a forced choice
    records what it was scored with (None: no finished sample, or one that continued a turn)."""
    g = next((x.record for x in s.samples if x.record is not None), None)
    if g is None or g.id in s.continued:
        return None
    return Settings(g.format, g.system, g.prefill, record_label(g.params.get("steer")))


BAR = 8  # a probability of 1 is this many blocks


def _dist_line(name: str, d: Mapping[str, float], width: int) -> Text:
    """`name top 3/12: a 0.52 ████ · b 0.30 ██ · c 0.10 █` (the top three; persona ids escaped), with the
    bars only when the line then still fits in `width` cells."""
    top = sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    # Three of how many: the rest share what the three leave (a trial read 3 of 12 as all).
    of = f" top {len(top)}/{len(d)}" if len(d) > len(top) else ""
    for bars in (True, False):
        out = Text()
        out.append(f"{name}{of}: ", style="bold")
        out.append_text(
            safe(
                " · ".join(
                    # No bar at all below half a block: "skynet 0.01  · …" had a stray space.
                    f"{a} {p:.2f}" + (f" {'█' * round(p * BAR)}" if bars and round(p * BAR) else "")
                    for a, p in top
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
    (`sampling.pure`) and, here too, no repeat penalty."""
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


def _answer_its_turn(s: ColumnState, f: Forced) -> bool:
    """Whether the column has recorded samples, all answering the turn `f` was computed on."""
    recs = [x.record for x in s.samples if x.record is not None]
    return bool(recs) and all(r.node == f.node for r in recs)


# Fewer samples than this name no top label worth agreeing with.
FEW = 5


def agreement_line(s: ColumnState, f: Forced) -> Text | None:
    """Forced choice's top persona against the samples' most frequent archetype label (never
    `unclear`), with whether the samples were drawn from the distribution it scores; None when
    the column has no labelled samples answering the turn the forced choice was computed on."""
    if not s.auto or not s.auto[0].n or not _answer_its_turn(s, f):
        return None  # no labelled samples, or samples of another turn
    n = s.auto[0].n
    named = [x for x in s.auto if x.label != UNCLEAR and x.k]
    if not named:
        verdict = "all unclear"
    else:
        best = [x for x in named if x.k == named[0].k]
        k = best[0].k
        if n < FEW:
            # No "agrees" over a sample or two (a trial: "top agrees (human-impostor 1/2)").
            who = ", ".join(x.label for x in best) + (" each" if len(best) > 1 else "")
            verdict = f"samples' top {who} {k}/{n}"
        elif len(best) == 1 and best[0].label == f.top:
            verdict = f"top agrees ({f.top} {k}/{n})"
        elif f.top in {x.label for x in best}:
            verdict = f"top tied: {', '.join(x.label for x in best)} {k}/{n} each"
        else:
            mine = next((x.k for x in s.auto if x.label == f.top), 0)
            who = ", ".join(x.label for x in best) + (" each" if len(best) > 1 else "")
            verdict = f"samples' top is {who} {k}/{n} ({f.top} {mine}/{n})"
    unclear = next((x.k for x in s.auto if x.label == UNCLEAR), 0)
    if unclear and named:  # the samples' top is over the named labels: say what it skipped
        verdict += f"; {unclear}/{n} unclear not counted"
    if named and n < FEW:
        # "top agrees (human-impostor 1/1)" read as a finding (a trial).
        verdict += f"; {n} sample{'s' * (n != 1)} cannot tell (F6 sets how many)"
    out = Text()
    out.append(f"vs {n} sample{'s' if n != 1 else ''}: ", style="bold")
    out.append_text(safe(verdict))
    out.append_text(safe(" " + settings_note(_sample_params(s)), "dim"))
    return out


def _edge(p: float) -> str:
    """A share of the walk, with as many decimals as it takes to show which side of the
    "leans neither way" edge it is on (0.5507 and 0.5479 both read 0.55 and got two verdicts)."""

    def leans(x: float) -> bool:  # as the verdict reads it (ai share: ai; human share: human)
        return x >= 0.5 + EVEN or x <= 0.5 - EVEN

    for d in (2, 3, 4, 5):
        if leans(round(p, d)) == leans(p):
            return f"{p:.{d}f}"
    return f"{p:.6f}"


def opening_lines(s: ColumnState, f: Forced, *, compare: bool = True) -> Text:
    """The opening design beside the archetype statements: what the model's own continuations
    of "I'm" / "I am" claim (P among ai and human claims, and how much of the walk claimed at
    all), and the samples' self-identification majority when they answer the same turn (not
    when `compare` is off: the run on view was made with other settings than the score's)."""
    out = Text()
    out.append('self-id after "I\'m": ', style="bold")
    o = f.opening
    if o is None:
        out.append_text(safe(f.opening_note or "", "dim"))
        return out
    masses = o.get("masses") or {}
    # Read defensively: a session file is text anyone may have edited.
    probs = {k: float((o.get("probs") or {}).get(k, 0.0)) for k in ("ai", "human")}
    probs = probs if sum(probs.values()) > 0 else {}
    claimed = sum(float(masses.get(k, 0.0)) for k in ("ai", "human", "mixed"))
    if probs:
        out.append_text(safe(f"ai {_edge(probs['ai'])} · human {_edge(probs['human'])}"))
    else:
        out.append("no ai or human claim in the walk", style="dim")
    # How much the numbers rest on: the walk reads only its likeliest paths (the rest unread).
    out.append_text(safe(f" · {claimed:.0%} of the walk claims (marker rules)", "dim"))
    counts = {x.label: x.k for x in s.auto_self_id}
    n = s.auto_self_id[0].n if s.auto_self_id else 0
    if not n or not compare or not _answer_its_turn(s, f):
        return out
    ai, human = counts.get("ai", 0), counts.get("human", 0)
    # As the experiment report reads it: within EVEN of an even split the walk leans neither way.
    p_ai = probs["ai"] / (probs["ai"] + probs["human"]) if probs else 0.5
    mine = "ai" if p_ai >= 0.5 + EVEN else "human" if p_ai <= 0.5 - EVEN else None
    theirs = "ai" if ai > human else "human" if human > ai else None
    if not ai and not human:
        # "no ai or human claim among them" was said of a sample claiming both ("I'm a human
        # AI", mixed): say what they are, and that they are left out of the ai/human split.
        rest = [f"{counts[c]} {c}" for c in ("mixed", "none") if counts.get(c)]
        verdict = (
            f"{' and '.join(rest)}, not counted (no sample claims only ai or only human)"
            if rest
            else "no ai or human claim among them"  # an edited file's classes: nothing to say
        )
    elif theirs is None:
        verdict = f"ai and human tied, {ai} claims each"
    else:
        k = max(ai, human)
        agrees = (
            "the walk made no ai or human claim"
            if not probs
            else f"the walk leans neither way: within {EVEN} of an even split"
            if mine is None
            else "agrees"
            if mine == theirs
            else "differs"
        )
        share = Share(theirs, k, ai + human)
        if mine is not None and probs and share.ci[0] <= 0.5:
            # "1/1 100% (21%–100%) (agrees)" read as a finding (a trial): an interval that
            # reaches an even split settles no majority to agree or differ with.
            c = ai + human
            agrees += f", but {c} claim{'s' * (c != 1)} settle{'s' * (c == 1)} no majority"
        # Among the samples that claim ai or human, as the walk's share is among its claims
        # (a trial read the walk's 0.59 beside 1/3 that counted two samples claiming nothing);
        # with its interval, as every share the lab shows.
        verdict = f"{theirs} {fmt_share(share)} of their ai or human claims ({agrees})"
    if (ai or human) and n - ai - human:
        verdict += f"; {n - ai - human} without one not counted"
    out.append("\n")
    out.append(f"vs {n} sample{'s' if n != 1 else ''}: ", style="bold")
    out.append_text(safe(verdict))
    out.append_text(safe(" " + settings_note(_sample_params(s)), "dim"))
    return out


def forced_block(s: ColumnState, width: int = 0) -> Text:
    """The forced choice, always with what it measures: a header, the calibrated (PMI) and raw
    distributions (bars when `width` fits them), and its agreement with the labelled samples."""
    out = Text()
    f = s.forced
    continued = bool(s.samples) and all(
        x.record is not None and x.record.id in s.continued for x in s.samples
    )
    if f is None:
        if s.forced_pending:
            what = (
                "the message before (these samples continue an answer)"
                if continued
                else ("the pending message")
            )
            out.append(f"forced choice: scoring {what}…", style="dim italic")
        elif s.forced_error:
            out.append("forced choice: unavailable: ", style="bold dim")
            out.append_text(safe(s.forced_error, "dim"))
            if s.forced_error_with not in (None, s.next_settings):
                # A broken template's error stayed under a new format's cancelled run, as if
                # the new one were broken too.
                out.append_text(
                    safe("\nwith the earlier settings (scored again after the next run)", "yellow")
                )
        elif s.samples and all(x.record is not None for x in s.samples):  # say so, not a blank
            # Short: why is in the README and the export (a new message or quitting stops it).
            out.append(
                "forced choice: not scored for a continued answer (only after a user message)"
                if continued
                else "forced choice: none for this message (scored once every column's run is over)"
                if s.forced_due
                else "forced choice: not scored for this message (the lab scores a message "
                "while it waits for its answer)",
                style="dim italic",
            )
        return out
    out.append_text(safe(forced_header(f), "dim"))
    if f.scored_with is not None and f.scored_with[3]:
        out.append_text(safe(f" · steered {f.scored_with[3]}", "magenta"))
    if f.scored_with is not None and f.scored_with != s.next_settings:
        if s.run_no < s.run_count - 1 and _run_settings(s) == f.scored_with:
            # An earlier run ({): its own settings' score, which no later run replaces (a
            # trial read "rescored after the next run" on run 2 of 3).
            out.append_text(
                safe("\nscored with this run's settings (the next run's differ)", "yellow")
            )
        else:
            # The settings changed since: these numbers describe the old ones until rescored.
            late = "rescoring…" if s.forced_pending else "rescored after the next run"
            out.append_text(safe(f"\nscored with the earlier settings ({late})", "yellow"))
    if f.prefill_note:
        out.append_text(safe("\n" + f.prefill_note, "yellow"))
    if continued:
        # Shown over a run that continued the adopted answer, it read as that run's (the other
        # column said "not scored for a continued answer" of the same kind of run).
        out.append_text(
            safe("\nscored for the message before: these samples continue an answer", "yellow")
        )
    # An earlier run of other settings ({ / }) showed the score of the newest ones, set beside
    # its own samples as if it were theirs.
    other_run = _run_settings(s) not in (None, f.scored_with) and f.scored_with is not None
    if other_run:
        out.append_text(
            safe("\nscored with other settings than this run's: not compared with it", "yellow")
        )
    if f.calibrated:
        out.append("\n")
        out.append_text(_dist_line("PMI", f.calibrated, width))
    out.append("\n")
    out.append_text(_dist_line("raw", f.probs, width))
    agree = None if other_run else agreement_line(s, f)
    if agree is not None:
        out.append("\n")
        out.append_text(agree)
    if f.opening is not None or f.opening_note:  # a record from before the walk has neither
        out.append("\n")
        # Not set beside samples of other settings either (it compared them under a line
        # saying it did not).
        out.append_text(opening_lines(s, f, compare=not other_run))
    # Last: the panel cuts its lines at its height, and whether the samples agree is read first
    # (the whole panel is on p).
    for note in f.rests_on:
        out.append_text(safe("\n⚠ " + note, "yellow"))
    return out
