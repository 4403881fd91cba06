"""The text of a model column's parts (header, answer, footer), built from its state: what each
line says, apart from how the widget fits it on screen."""

from __future__ import annotations

import math
from collections import Counter

from rich.text import Text

from psmlab.core.domain.classify import archetypes, left_out, turn_end
from psmlab.core.domain.stats import FRAGMENT_ENDS, fmt_rate
from psmlab.core.models.steering import record_label
from psmlab.core.session.records import failed_layers
from psmlab.core.session.schema import GenerationRecord
from psmlab.tui.keys import in_lab_words
from psmlab.tui.widgets.column_state import (
    ColumnState,
    Sample,
    blind_error,
    last_layer,
    monitor_line,
    monitor_name,
    pending,
    token_value,
)
from psmlab.tui.widgets.column_text import column_words
from psmlab.views import safe

# Text the model was given (a prefill, the answer it continued): marked so in the column and in
# the annotate dialog alike, so what is the model's own reads the same in both.
GIVEN_STYLE = "italic green"


def given_text(start: str) -> Text:
    """The given start of an answer, styled as given (untrusted text: never read as markup)."""
    return safe(start, GIVEN_STYLE)


def header_text(s: ColumnState, cur: Sample | None, name: str, blind: bool) -> Text:
    """Id, kind and format, run, steering, what the next run changes, speed, how the turn ended."""
    head = Text()
    head.append_text(safe(name, "bold"))
    # Over an error the body says the failed run's error, not the earlier answer: the header
    # describes that run (its format, `error_format`), not the answer's settings.
    failed = bool(s.error) and not s.running
    made = cur.record if cur is not None and not failed else None
    if not blind:
        # The format the shown answer was made with, never a setting chosen since.
        # Over an error, the failed run's format (a trial read a newly chosen one as failing).
        shown = made.format if made else s.error_format if s.error and s.error_format else s.format
        head.append_text(safe(f" · {s.kind} · {shown}", "dim"))
    if s.run_count:
        head.append(f" · run {s.run_no + 1}/{s.run_count}", style="bold")
        if s.run_differs and not blind:
            # Names only, as "next run: … changed" says them (c compares the values).
            names = ", ".join(x.replace("_", " ") for x in s.run_differs)
            head.append_text(safe(f" · {names} not as run {s.run_no} (c)", "yellow"))
    # What the next run changes, said once: "next run: chatml; unsteered; system changed".
    nexts: list[str] = []
    was = made.format if made is not None else s.error_format if s.error else None
    if was is not None and not blind and was != s.format:
        nexts.append(s.format)
    # Steering: the shown answer's (as recorded), else the column's; blind: no file name.
    made_steer = record_label(made.params.get("steer")) if made is not None else s.steer
    if made_steer:
        head.append_text(safe(" · steered" + ("" if blind else f" {made_steer}"), "magenta"))
    if made is not None and made_steer != s.steer:
        nxt = "unsteered" if s.steer is None else "steered" + ("" if blind else f" {s.steer}")
        nexts.append(nxt)
    changed = pending(made, s) if made is not None else []
    if blind:
        # Blind: what changed was set per model before going blind, and names it (a trial
        # read "next run: sampling changed" on the column whose temperature they had set);
        # the seed is every column's, and no tell.
        nexts, changed = [], [c for c in changed if c == "seed"]
    if changed:  # names only: a system prompt or prefill is long (F3 shows it)
        nexts.append(f"{', '.join(changed)} changed")
    if nexts:
        head.append_text(safe(" · next run: " + "; ".join(nexts), "yellow"))
    if failed:
        # Nor its speed, end and given text (a trial read "continues the adopted answer"
        # above a run that never began).
        return head
    # What the model was given comes before its speed and end: in a narrow column the header
    # is cut from its end, and a trial's 80x24 lab lost "prefill given" behind them.
    given_by = cur.record if cur is not None else None
    went_on = given_by is not None and given_by.id in (
        s.continued | s.continued_own | s.continued_plain
    )
    if given_by is not None and (given_by.prefill or went_on):
        # Said in words, not by colour alone: the green start is text the model was given.
        # An empty answer continued is said too: the run sits under that (blank) turn, and
        # a trial read it as a new run of the turn before, unsaid.
        given = (
            "continues the edited answer (green)"
            if given_by.id in s.continued_own
            else "continues the assistant turn (green)"
            if given_by.id in s.continued_plain
            else "continues the adopted answer (green)"
            if given_by.id in s.continued
            else "prefill given (green)"
        )
        if not given_by.prefill:
            given = given.replace("(green)", "(it was empty)")
        head.append_text(safe(f" · {given}", "green"))
    elif cur is not None and cur.record is None and cur.given:
        # Streaming: which it is is known once the answer is recorded; green is given text.
        head.append_text(safe(" · given text (green)", "green"))
    # Blind: no speed either (a 1.5B model runs at a third of a 135M one's: it names the model).
    if cur is not None and cur.tokens_per_s and not blind:
        head.append(f" · {fmt_rate(cur.tokens_per_s)}", style="dim")
    if cur is not None and cur.record is not None and not blind:
        rec = cur.record
        # How the turn ended, not a label: a base model starting the next speaker's line
        # is the normal end of its turn.
        head.append_text(safe(f" · {turn_end(rec.finish_reason, rec.stop_string)}", "dim"))
    return head


def body_text(s: ColumnState, cur: Sample | None, blind: bool, asked: bool) -> Text:
    """The answer shown (given text green, shaded by token probability on F6), or the status;
    `asked`: the lab has a message (else the column says how to send one)."""
    body = Text()
    if s.error:
        # Blind: the message names the model (its id, its file, its tokenizer's count).
        said_error = (s.error_blind or blind_error(None)) if blind else s.error
        body.append_text(safe(said_error, "bold red"))
    elif cur is None:
        said = (
            s.status
            if s.status != "ready"
            else "ready: no answer here yet (F5 runs)"
            if asked
            else "ready: type a message below (Enter sends it to every model)"
        )
        body.append_text(safe(said, "dim italic"))
    else:
        start = cur.record.prefill if cur.record is not None else cur.given
        if start:
            body.append_text(given_text(start))
        # Blind, never shaded: where the colour changes shows a token boundary, and the
        # boundaries name the tokenizer, so the model.
        if s.shade and not blind and cur.record is not None and cur.record.token_logprobs:
            body.append_text(shaded(cur.record, s.cursor, blind))
        elif blind and not start:
            # A base frame's answer starts with the space after "Assistant:", a chat
            # template's does not: blind, that space would name the model's kind.
            body.append_text(safe(cur.text.lstrip()))
        else:
            body.append_text(safe(cur.text))
        if cur.record is None and blind and s.running:  # held (`ModelColumn.held`)
            held = "blind: every column's answers show together when the run ends"
            body.append_text(safe(f"{' ' if start else ''}writing… ({held})", "dim italic"))
        elif cur.record is None:
            body.append("▌", style="dim")
        elif not cur.text.strip():
            # Said: with given text (green) above it, an empty answer read as the model's, and
            # its self-id "none" as a reading of that text.
            what = "nothing" if not cur.text else "only whitespace"
            if cur.record.finish_reason == "stop_string" and not blind:
                # Its tokens (the footer's count) are the next speaker's line it went on to;
                # blind, how a turn ended is hidden (a stop string names a base frame).
                what += " before the stop string"
            body.append_text(safe(f"{' ' if start else ''}(the model added {what})", "dim italic"))
    return body


def footer_text(
    s: ColumnState, cur: Sample | None, blind: bool, width: int, *, whole: bool = False
) -> Text:
    """Which sample, its seed and labels, people's labels, the token under the cursor and the
    prompt's warnings; `width`: the column's, in cells (`whole`: the warnings as written, for
    `p`, which shows what the column cuts)."""
    # Over an error the body says the failed run's error, not the earlier answer: the header
    # describes that run (its format, `error_format`), not the answer's settings.
    failed = bool(s.error) and not s.running
    made = cur.record if cur is not None and not failed else None
    foot = Text()
    if s.samples:
        foot.append(f"sample {s.shown + 1}/{len(s.samples)}", style="bold")
        if cur is not None and cur.record is not None:
            # Blind: no token count (the same text in more tokens names another tokenizer).
            tok = "" if blind else f" · {cur.record.token_words()}"
            foot.append(f" · seed {cur.record.seed}{tok}", style="dim")
            if how := s.adopted.get(cur.record.id):  # which answer went on, and where
                foot.append(f" · {how}", style="green" if how == "adopted" else "dim green")
            if blind and cur.record.finish_reason in FRAGMENT_ENDS:
                # A stop by the user or an error names no model; a fragment must not pass
                # for a whole answer (the header's turn end is hidden blind).
                foot.append(f" · {cur.record.finish_reason}: cut off", style="yellow")
            auto = s.auto_labels.get(cur.record.id)
            if auto is not None and not blind:
                sid = auto.self_id or "not recorded"
                arch = ", ".join(archetypes(auto.labels))
                foot.append_text(safe(f"\n{auto.method}: self-id {sid} · {arch}", "cyan"))
                foot.append_text(safe(left_out(cur.record.text, auto.method), "dim"))
                if cur.record.finish_reason in FRAGMENT_ENDS:  # as the panel counts it
                    foot.append(f" ({cur.record.finish_reason}: not in the shares)", style="dim")
            if not blind:
                projs = s.projections.get(cur.record.id, [])
                for p in projs:
                    foot.append("\n")
                    foot.append_text(monitor_line(p, width, projs, whole=whole))
    # Only the samples on screen: while a new run streams, the labels of the run before
    # (another turn's) were counted as "on other samples" of this one.
    here = {x.record.id for x in s.samples if x.record is not None}
    of_here = {i: c for i, c in s.labels_of.items() if i in here}
    if of_here and not blind:
        # People's labels of the sample on screen (it sits on that sample's line); the
        # column's other samples are counted apart, never mixed in.
        mine = of_here.get(cur.record.id) if cur is not None and cur.record else None
        said = ", ".join(f"{k} {v}" for k, v in mine.most_common()) if mine else "none"
        others = sum(sum(c.values()) for c in of_here.values()) - sum((mine or Counter()).values())
        rest = f" · {others} label{'s' * (others != 1)} on other samples" if others else ""
        foot.append(f"  labels on this sample: {said}{rest}", style="cyan")
    shown = cur.record if cur is not None else None
    toks = shown.token_logprobs if shown is not None else None
    if shown is not None and s.cursor is not None and toks and s.cursor < len(toks) and not blind:
        t = toks[s.cursor]
        alts = ", ".join(f"{a!r} {math.exp(lp):.2f}" for a, lp in t.top)
        # Which distribution: a local model's own (T=1, untruncated, read from the logits it
        # sampled from), not the truncated one its sampler drew from; a server's, as it says.
        of = "p(server)" if shown.provenance.get("endpoint") else "p(T=1)"
        foot.append_text(
            safe(f"\ntoken {t.text!r} {of}={math.exp(t.logprob):.2f} · top: {alts}", "magenta")
        )
        projs = s.projections.get(shown.id, [])
        for p in projs:
            at = token_value(p, s.cursor)
            if at is not None:
                # The layer read failed its held-out test: the value is marked here too.
                mark = " ⚠" if failed_layers(p.vector, [last_layer(p) or ""]) else ""
                foot.append_text(safe(f" · {monitor_name(p, projs)} {at:+.2f}{mark}", "magenta"))
    # The warnings of the prompt the shown answer was made from (while streaming: the live run's).
    warnings = made.warnings if made is not None else s.warnings
    room = max(20, width - 2)
    for w in () if blind else warnings:  # one line each; F2 shows them whole
        if whole:
            foot.append_text(safe(f"\n⚠ {in_lab_words(w)}", "yellow"))
            continue
        w = column_words(in_lab_words(w), room)
        short = w if len(w) <= room else w[: room - 1] + "…"
        foot.append_text(safe(f"\n⚠ {short}", "yellow"))
    return foot


def shaded(rec: GenerationRecord, cursor: int | None, blind: bool) -> Text:
    """The continuation token by token: low-probability tokens stand out; the cursor is reversed."""
    out = Text()
    budget = len(rec.text)
    for i, t in enumerate(rec.token_logprobs or []):
        piece = t.text[: max(0, budget)]
        budget -= len(t.text)
        if blind and not out and not rec.prefill:  # as the plain view: no telling space
            piece = piece.lstrip()
        p = math.exp(t.logprob)
        style = "" if p >= 0.5 else "yellow" if p >= 0.1 else "bold red"
        if i == cursor:
            style += " reverse"
            if "\n" in piece and not piece.strip():
                # Newlines alone take no cell: reversed, the cursor was nowhere on screen (a
                # trial). A mark stands for it, then the newlines themselves.
                out.append_text(safe("↵", style.strip()))
                style = ""
        out.append_text(safe(piece, style.strip()))
        if budget <= 0:
            break
    return out
