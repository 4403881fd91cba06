"""The `psmlab evals` command: Anthropic's model-written evaluations, scored by log-probability."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.common import (
    TtyProgress,
    choose_formats,
    choose_steering,
    errors_json,
    keeps_nothing_when_stopped,
    model_failures,
    resolve_specs,
    stdout_json,
)
from psmlab.cli.measure_said import MAX_WARNINGS, system_text, warn_prompts
from psmlab.cli.options import FormatOpt, JsonOpt, ModelOpt, NCtxOpt, SteerOpt, SystemOpt
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.models.registry import Registry, run_provenance
from psmlab.core.session.records import now


@keeps_nothing_when_stopped("evals")
def evals(
    file: Annotated[
        Path, typer.Argument(help="A model-written-evals file: JSONL, or one JSON array of items.")
    ],
    model: ModelOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N items.")
    ] = None,
    fmt: FormatOpt = None,
    system: SystemOpt = None,
    prefill: Annotated[
        str | None,
        typer.Option(
            "--prefill",
            help="Text the assistant turn starts with, before the scored answer "
            '(e.g. "I believe the best answer is").',
        ),
    ] = None,
    no_swap: Annotated[
        bool,
        typer.Option(
            "--no-swap", help="Score (A)/(B) items only as written (no counterbalanced order)."
        ),
    ] = False,
    n_ctx: NCtxOpt = None,
    steer: SteerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Score Anthropic's model-written evaluations: how often is the behaviour-matching answer more likely?

    What "matching" means differs between files (accepting shutdown in one, resisting it in
    another): each file's polarity is looked up by its name and shown; for a file psmlab does
    not know, the output says which file to state it in (evals-polarity.toml by the config)."""
    from psmlab.core.measure.evals import load_jsonl, polarity, read_eval_bytes, run_evals
    from psmlab.core.measure.evals_polarity import POLARITY_UNKNOWN, polarity_hint
    from psmlab.core.measure.evals_summary import (
        MIN_SIDE,
        answer_bias_text,
        half_note,
        wins_text,
    )

    raw = read_eval_bytes(file)
    items, problems = load_jsonl(file, limit=limit, raw=raw)
    if not items:
        # One line, not a warning per line before it (a trial's label file gave ten and "318
        # more lines skipped" above the error): the first line's reason and how many share it.
        first = problems[0].removesuffix("; skipped") if problems else ""
        for named in (str(file), file.name):  # "e.jsonl line 1: …", "arr.json item 1: …"
            first = first.removeprefix(f"{named} ")
        raise UsageError(
            f"{file} has no usable items"
            + (
                f" ({first}"
                + (f"; and {len(problems) - 1} more skipped" if len(problems) > 1 else "")
                + ")"
                if problems
                else " (it is empty)"
            ),
            "give a model-written-evals file: JSONL or a JSON array of items with question, "
            "answer_matching_behavior and answer_not_matching_behavior",
        )
    for p in problems[:MAX_WARNINGS]:  # a file of another shape would print one per line
        sys.stderr.write(f"psmlab: warning: {terminal_safe(p)}\n")
    if len(problems) > MAX_WARNINGS:
        sys.stderr.write(
            f"psmlab: warning: … and {len(problems) - MAX_WARNINGS} more lines skipped\n"
        )
    pol = polarity(file.resolve(), raw)  # as experiments do: the path, wherever it is given from
    specs = resolve_specs(Registry(), model, n_ctx, None)
    chosen = choose_formats(fmt, specs)
    steering = choose_steering(steer, specs)
    failed: dict[str, PsmlabError] = {}  # one model failing keeps the others' results
    started = now()  # UTC, when the run began (as ask --json's "created")
    report = run_evals(
        items,
        specs,
        chosen,
        steering=steering,
        progress=TtyProgress.if_tty(),
        counterbalance=not no_swap,
        system=system,
        prefill=prefill,
        errors=failed,
    )
    report["skipped"] = problems
    report["polarity"] = pol
    report["questions_ending_in_answer"] = answer_cued(items)
    unscored = report["unscored"]
    for u in unscored[:MAX_WARNINGS]:
        sys.stderr.write(
            terminal_safe(
                f"psmlab: warning: {u['model']}: item {u['index']} skipped: {u['reason']}"
            )
            + "\n"
        )
    if len(unscored) > MAX_WARNINGS:
        sys.stderr.write(
            f"psmlab: warning: … and {len(unscored) - MAX_WARNINGS} more items skipped\n"
        )
    warn_prompts(report["prompts"])
    if json_out:
        stdout_json(
            {
                **report,
                # Which file, as read: items[].index counts into it, and a result nobody can
                # tie to its file cannot be re-run.
                "eval_file": {
                    "path": str(file.resolve()),
                    "sha256": hashlib.sha256(raw).hexdigest(),
                    "limit": limit,
                    "items": len(items),
                    "swap": not no_swap,
                },
                "models": [run_provenance(sp) for sp in specs],
                "created": started,
                "errors": errors_json(failed),
            }
        )
        model_failures(failed, len(report["summary"]))
        return
    if not report["summary"]:
        model_failures(failed, 0)  # every model failed: no table of nothing
    from rich.table import Table

    from psmlab.views import safe

    # What the model saw, on screen as in --json: the same file gave other numbers in another
    # format or with a system prompt, and the table said nothing of it (a trial).
    said = system_text(system)
    said += f", prefill {prefill[:40]!r}" if prefill else ""
    fmt_of = {p["model"]: p.get("format") for p in report["prompts"]}
    table = Table(  # a Text title: a file name is never markup
        title=safe(
            f"{file.name} ({said}): share of items where the behaviour-matching answer is the "
            "most likely"
        )
    )
    # The mean's interval is a t interval over items (a trial asked which it was).
    for c in (
        "model",
        "matching (95% CI)",
        "mean P(match) (95% t)",
        "(A) wins",
        "bias-corrected",
    ):
        table.add_column(c, overflow="fold")
    notes = []
    for m, s in report["summary"].items():
        # Each share with its n: "' (A)' 30/40 75%" (never a share alone).
        bias = answer_bias_text(s)
        pos = s["position_bias"]
        steered = steering.get(m)
        # A rate the note below calls near 50% by construction is not left unmarked in the
        # headline columns (a trial read Gemma's "46%" as a finding).
        tied = " ⚠ see note" if s.get("position_dominated") and s["counterbalanced"] else ""
        # The corrected rate the note says to read neither of (an interval over half the
        # scale) is marked where it stands too (a trial read the bare cell).
        # Items kept raw (the correction could not reach them), among those scored as written.
        kept_raw = s["confounded"] + s["thin_side"] + s["several_answers"] + s["uncorrected"]
        # Marked whenever the note speaks of it: read neither, or a lean and not an answer (a
        # trial read a bare "75%" as the behaviour of a model answering " Yes" to every item).
        loose = s["bias_dominated"] and not kept_raw
        table.add_row(
            safe(
                f"{m} (format {fmt_of.get(m) or '?'})"
                + (f" steered by {steered.label()}" if steered else "")
            ),
            f"{s['matching']}/{s['n']} {s['rate']:.0%} ({s['ci_low']:.0%}–{s['ci_high']:.0%})"
            + tied,
            f"{s['p_matching']:.2f} ({s['p_matching_ci_low']:.2f}–{s['p_matching_ci_high']:.2f})",
            wins_text(s),
            f"{s['corrected_rate']:.0%} ({s['corrected_ci_low']:.0%}–{s['corrected_ci_high']:.0%})"
            + (tied or (" ⚠ see note" if loose else "")),
        )
        if half := half_note(s):
            notes.append(f"{m}: {half}")
        swapped = s["counterbalanced"]
        notes.append(
            f"{m}: answer bias (share of items each answer wins"
            + (", in the order written" if swapped else "")
            + f"): {bias}"
        )
        orders = 2 * s["counterbalanced"]
        if letter := s.get("position_dominated"):
            # Swapping cancels the letter's pull in 'matching', but a model that picks a letter
            # whatever it names says little about the behaviour: said, not left to a column.
            cb = s["counterbalanced"]
            # Said of the items it rests on: beside many items never swapped (several wrong
            # answers, Yes/No) the whole rate is not near 50%.
            on = "" if cb == s["n"] else f"on the {cb} of {s['n']} items scored in both orders "
            notes.append(
                f"{m}: position bias: {letter} wins {round(max(pos, 1 - pos) * orders)} of "
                f"{orders} orders whatever it says, so {on}'matching' is near 50% by "
                "construction; read mean P(match) and the items' margins"
            )
        if s["bias_dominated"]:
            written = s["as_written"]
            lo, hi = s["corrected_ci_low"], s["corrected_ci_high"]
            read = (
                "none of them could be corrected (below), so on them the bias-corrected rate is "
                "the raw one and neither tells the behaviour from the answer strings"
                if kept_raw >= written
                # An interval over half the scale is no reading: a trial's 8 items, one answer
                # winning all, gave "75% (12%–100%)" beside advice to read it.
                else "read neither: the bias-corrected rate cannot tell the behaviour from the "
                f"answer strings on these items ({s['corrected_rate']:.0%}, {lo:.0%}–{hi:.0%}); "
                "score more items (a larger --limit, or none)"
                if not kept_raw and hi - lo > 0.5
                # A lean, not an answer: a trial read "75%" as the behaviour of a model that
                # said " Yes" to all 20 items (and 70% of one that said " No" to all).
                else f"the bias-corrected rate ({s['corrected_rate']:.0%}, {lo:.0%}–{hi:.0%}) "
                "is a lean, not what the model answers: the share of items whose odds lean "
                "further to the matching answer than the file's average item"
                + (
                    f", while it answers {s['bias_top_answer']!r} on all {written}"
                    if s["bias_top_written"] == written and s.get("bias_top_answer")
                    else ""
                )
                + "; with one answer winning almost everywhere, few items tell it"
                + (
                    # Said, or the advice reads as if the corrected rate told another story.
                    "; here it comes out the same as the raw rate: which items match changes, "
                    "not how many"
                    if abs(s["corrected_rate"] - s["rate"]) < 1e-9
                    else ""
                )
                if not kept_raw
                else "the bias-corrected rate corrects only two-answer items whose matching "
                "answer varies and whose answer pair other items share (below)"
            )
            of = "items" if not swapped else "items scored as written"
            notes.append(
                f"{m}: the rate is dominated by answer bias (it prefers one answer string on "
                f"{s['bias_top_written']} of {written} {of}); {read}"
                + (
                    f"; the {swapped} item(s) scored in both orders are corrected by the swap"
                    if swapped
                    else ""
                )
            )
        if s["confounded"]:
            notes.append(
                f"{m}: {s['confounded']} item(s) share an answer pair whose matching answer is "
                "always the same string (e.g. always (C) against (A)), so a preference for that "
                "string cannot be told from the behaviour; their bias-corrected verdict is the raw one"
            )
        if s["thin_side"]:
            notes.append(
                f"{m}: {s['thin_side']} item(s) share an answer pair one of whose strings is the "
                f"matching answer in fewer than {MIN_SIDE} items, too few to estimate that "
                "string's bias from; their bias-corrected verdict is the raw one"
            )
        if s["several_answers"]:
            notes.append(
                f"{m}: {s['several_answers']} item(s) list several wrong answers: they match when "
                "the matching answer is the most likely of all, their P(match) is normalised over "
                "every answer, and their bias-corrected verdict is the raw one"
            )
        if s["uncorrected"]:
            notes.append(
                f"{m}: {s['uncorrected']} item(s) share their answer pair with no other item; "
                "their bias-corrected verdict is the raw one"
            )
    from psmlab.cli.output import out_console

    console = out_console()
    # "matching = resists shutdown", or "polarity unknown: ..." (said once, not "polarity: polarity").
    console.print(safe(pol if pol.startswith("polarity") else f"polarity: {pol}"))
    if pol == POLARITY_UNKNOWN:
        console.print(safe(f"note: {polarity_hint(file)}"))
    console.print(table)
    if any(s["counterbalanced"] for s in report["summary"].values()):
        typer.echo(
            "note: (A)/(B) items were scored as written and with their choices swapped "
            "(letters kept), and averaged; '(A) wins' is the share of orders won by (A); "
            "'matching' adds the items' scores (1: the matching answer wins in both orders, "
            "0.5: in one, 0: in neither), and its interval treats that sum as a count"
        )
    cued = answer_cued(items)
    if cued:
        # Published so (survival-instinct's items 14-19): the prompt's own "Assistant:" comes
        # after the file's "Answer:", and the model reads both (a trial asked).
        notes.append(
            f"{cued} item(s) end their question with 'Answer:' as the file writes them; the "
            "prompt adds its own assistant turn after it, so the model reads both (kept as "
            "published)"
        )
    own = max((p.get("item_systems", 0) for p in report["prompts"]), default=0)
    if own:
        notes.append(
            f"{own} item(s) carry their own system prompt (the file's `system` field) and were "
            "scored with it; --system replaces them"
        )
    if problems:
        # "FILE item 3: ..." for a JSON array's items, "FILE line 3: ..." for JSONL lines
        array = all(x.split(": ", 1)[0].split(" ")[-2:-1] == ["item"] for x in problems)
        notes.append(
            f"{len(problems)} {'item(s) of the array' if array else 'line(s) of the file'} could "
            "not be scored and were skipped (warnings "
            "above): n counts the scored items only"
        )
    for m in dict.fromkeys(u["model"] for u in unscored):
        k = sum(u["model"] == m for u in unscored)
        notes.append(
            f"{k} item(s) did not fit {m}'s n_ctx and were skipped for it (warnings above): "
            "its n counts the scored items only; --n-ctx raises the context"
        )
    for n in notes:
        typer.echo(terminal_safe("note: " + n))
    model_failures(failed, len(report["summary"]))


def answer_cued(items: list[Any]) -> int:
    """How many items' questions end with "Answer:" (the prompt then cues an answer twice)."""
    return sum(1 for it in items if it.question.rstrip().lower().endswith("answer:"))
