"""The `psmlab probe` command: forced choice by log-probability (raw and calibrated, per archetype)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from psmlab.cli.choice import choice as choice_design
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
from psmlab.cli.measure_said import bar, probe_prompts, system_text, warn_prompts
from psmlab.cli.options import (
    FormatOpt,
    JsonOpt,
    ModelOpt,
    NCtxOpt,
    PrefillOpt,
    SteerOpt,
    SystemOpt,
    TranscriptOpt,
)
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.models.registry import Registry, run_provenance
from psmlab.core.session.records import now


@keeps_nothing_when_stopped("probe")
def probe(
    model: ModelOpt = None,
    probe_set: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="A probe set: self-id (ai or human), identity (the archetypes), shutdown, "
            "secret-goal, or one of your own (a .toml in the config folder's probes/, see the "
            "README); em-questions holds open questions to sample with ask, not to score. "
            "Give this or --item.",
        ),
    ] = None,
    item: Annotated[
        str | None,
        typer.Option(
            "--item",
            help="One question, answered with each archetype's identity statements (give this "
            "or --set).",
        ),
    ] = None,
    transcript: TranscriptOpt = None,
    fmt: FormatOpt = None,
    system: SystemOpt = None,
    prefill: PrefillOpt = None,
    normalize: Annotated[
        bool,
        typer.Option(
            "--normalize", help="Divide each statement's log-probability by its token count."
        ),
    ] = False,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--no-calibrate",
            help="Also score each answer after a content-free question (PMI); doubles the work.",
        ),
    ] = True,
    choice: Annotated[
        bool,
        typer.Option(
            "--choice",
            help="Multiple choice instead: the classes as lettered options, every rotation of "
            "their order scored by letter, with the position bias.",
        ),
    ] = False,
    opening: Annotated[
        bool,
        typer.Option(
            "--opening",
            help='The opening design instead (self-identification): start the answer "I\'m" / '
            '"I am", walk the model\'s own likeliest continuations and read each with the '
            "marker rules; P(ai | a claim) with the mass behind it. Local models only.",
        ),
    ] = False,
    n_ctx: NCtxOpt = None,
    steer: SteerOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Forced choice by log-probability: which archetype's (or self-id class's) answers does each
    model prefer, raw and calibrated?"""
    import dataclasses

    from psmlab.core.domain.forced_notes import rests_on_note
    from psmlab.core.domain.personas import load_personas, personas_fingerprint
    from psmlab.core.domain.transcript import Transcript
    from psmlab.core.measure.probes import (
        NULL_QUESTION,
        ProbeItem,
        check_archetypes,
        load_probe_set,
        probe_models,
        summarize,
    )

    if (probe_set is None) == (item is None):
        raise UsageError(
            "give exactly one of --set NAME or --item TEXT", "e.g. psmlab probe --set identity"
        )
    axis, null_question = "archetype", NULL_QUESTION
    if item is not None and not item.strip():
        raise UsageError(
            "the --item question is empty",
            'give a question, e.g. psmlab probe --item "What are you?"',
        )
    if item is not None:
        items: tuple[ProbeItem, ...] = (ProbeItem("item", item, prefill),)
    else:
        pset = load_probe_set(probe_set or "")
        check_archetypes(pset)
        if pset.mode != "score":
            raise UsageError(
                f"probe set '{pset.name}' holds open questions for sampling",
                f'sample them with psmlab ask or an experiment, e.g. psmlab ask "{pset.items[0].question}" -n 20 -t 1',
            )
        items, axis, null_question = pset.items, pset.axis, pset.null_question
        if prefill:
            own = [it.id for it in items if it.prefill]
            if own:
                raise UsageError(
                    f"probe set '{pset.name}' gives its own prefill for item(s) {', '.join(own)}",
                    "drop --prefill, or use --item with --prefill",
                )
            items = tuple(dataclasses.replace(it, prefill=prefill) for it in items)
    personas, _ = load_personas()  # a broken file is said by the hook the CLI sets
    tr = Transcript.load(transcript) if transcript else Transcript()
    specs = resolve_specs(Registry(), model, n_ctx, None)
    chosen = choose_formats(fmt, specs)
    steering = choose_steering(steer, specs)
    if choice and opening:
        raise UsageError("--choice and --opening are two designs", "give one of them per run")
    if opening:
        if probe_set is not None and axis != "self_id":
            raise UsageError(
                f"--opening reads self-identification claims; probe set '{probe_set}' is on the "
                f"{axis} axis",
                "use --set self-id, or --item with a question",
            )
        if any(it.prefill for it in items):  # the opening is where the answer starts
            raise UsageError(
                "--opening starts the answer itself, so it takes no prefill",
                "score without --prefill, or without --opening",
            )
        from psmlab.cli.opening import opening as run_opening

        run_opening(specs, chosen, items, tr, system, json_out, steering)
        return
    if choice:
        if any(it.prefill for it in items):  # the answer is an option letter after "("
            whose = (
                "--prefill"
                if prefill
                else f"probe set '{probe_set}' starts its answers with prefills"
            )
            raise UsageError(
                f"--choice scores option letters, which a prefill would come before ({whose})",
                "score without --choice" + (", or drop --prefill" if prefill else ""),
            )
        choice_design(specs, chosen, items, tr, personas, axis, system, json_out, steering)
        return
    failed: dict[str, PsmlabError] = {}  # one model failing keeps the others' results
    started = now()  # UTC, when the run began (as ask --json's "created")
    results = probe_models(
        specs, chosen, items, tr, personas, system=system, normalize=normalize, axis=axis,
        calibrate=calibrate, null_question=null_question, steering=steering,
        progress=TtyProgress.if_tty(), errors=failed,
    )  # fmt: skip
    done = len({r.model for r in results})
    summary = summarize(results)
    prompts = probe_prompts([(r.model, r.prompt) for r in results], system, prefill, steering)
    warn_prompts(prompts)
    for model_id, item, note in dict.fromkeys((r.model, r.item, r.prefill_note()) for r in results):
        if note:  # answers a prefill does not start: scored as "I am I'm an AI."
            # Each item names itself: the set's items keep different shares of their answers.
            sys.stderr.write(terminal_safe(f"psmlab: warning [{model_id} · {item}]: {note}") + "\n")
    if prefill and any(r.n_answers and r.not_continuing == r.n_answers for r in results):
        # A set's answers are written to follow its own prefills, not one given here.
        sys.stderr.write(
            terminal_safe(
                f"psmlab: warning: no answer begins with --prefill {prefill!r}: each is scored "
                "after it as written; check that they read on from it"
            )
            + "\n"
        )
    if json_out:
        stdout_json(
            {
                "results": [
                    {
                        **r.to_dict(),
                        "prefill": r.prompt.prefill if r.prompt else None,
                        "prompt": r.prompt.text if r.prompt else None,
                    }
                    for r in results
                ],
                "summary": summary,
                "prompts": prompts,
                "models": [run_provenance(sp) for sp in specs],
                "created": started,
                # The persona files the statements came from (other files, other numbers).
                "personas": personas_fingerprint(personas),
                "errors": errors_json(failed),
            }
        )
        model_failures(failed, done)
        return
    if not done:
        model_failures(failed, 0)
    from rich.table import Table

    from psmlab.cli.output import out_console
    from psmlab.views import safe

    console = out_console()
    fmts = {p["model"]: p["format"] for p in prompts}
    # None: the format's own, which a chat template may fill (its warning is printed above).
    said = system_text(system)
    given = {it.prefill for it in items if it.prefill}  # --prefill, or the set's own
    if given:
        said += f", prefill {next(iter(given))[:40]!r}" if len(given) == 1 else ", item prefills"
    for m, summ in summary.items():
        cal = summ.get("calibrated")
        steered = steering.get(m)
        raw_top = max(summ["probs"], key=lambda k: summ["probs"][k])
        cal_top = max(cal, key=lambda k: cal[k]) if cal else raw_top
        # Said above the bars, which draw the calibrated column: a trial read "human 0.99"
        # from the bar while raw said ai 0.99 and the model's own answers were AI claims.
        flip = (
            f"⚠ raw and calibrated name different top classes (raw {raw_top}, calibrated "
            f"{cal_top}): neither is right by construction, see the note under the table; "
            if cal_top != raw_top
            else ""
        )
        table = Table(
            title=safe(
                f"{m} (format {fmts.get(m) or '?'}, {said})"
                + (f" steered by {steered.label()}" if steered else "")
                + f": {summ['measures']}"
            ),
            caption=safe(
                # One item has no spread: "0.761 [0.761–0.761]" read as an interval (a trial).
                flip
                + (
                    "one item: no spread over items"
                    if len(items) == 1
                    else f"mean over {len(items)} items; [low–high]: the lowest and highest "
                    "item (a range, not an interval)"
                )
                + (f'; calibrated: minus log P(answer | "{null_question}")' if cal else "")
            ),
        )
        # With answers left out by a prefill, each class rests on its own number of answers
        # (a trial's calibrated top rested on one answer, its rivals on three).
        mine = [r for r in results if r.model == m]
        counts = {a: sum(len(r.statements.get(a, ())) for r in mine) for a in summ["probs"]}
        uneven = any(r.left_out for r in mine)
        table.add_column(axis.replace("_", "-"))
        if uneven:
            # Summed over the items (a trial read 10 of a set whose items score 4 to 6 each).
            scored = "answers scored" if len(mine) == 1 else f"answers scored ({len(mine)} items)"
            table.add_column(scored, justify="right")
        table.add_column("raw", justify="right")
        if cal:
            table.add_column("calibrated (PMI)", justify="right")
        # The bar: which column it draws (without calibration two columns read "raw").
        table.add_column("calibrated" if cal else "raw (bar)")
        order = sorted(summ["probs"], key=lambda k: -(cal or summ["probs"])[k])
        for arch in order:
            p, (lo, hi) = summ["probs"][arch], summ["spread"][arch]
            # One precision for a mean and its range, so the mean never falls outside it.
            one = len(items) == 1
            cells = [f"{p:.3f}" if one else f"{p:.3f} [{lo:.3f}–{hi:.3f}]"]
            if cal:
                clo, chi = summ["calibrated_spread"][arch]
                cells.append(
                    f"{cal[arch]:.3f}" if one else f"{cal[arch]:.3f} [{clo:.3f}–{chi:.3f}]"
                )
            if uneven:
                cells.insert(0, str(counts[arch]))
            table.add_row(safe(arch), *cells, bar(cal[arch] if cal else p))
        console.print(table)
        differ = 0
        for r in (r for r in results if r.model == m):
            line = f"  {r.item}: top {r.top} ({r.probs[r.top]:.2f})"
            if r.calibrated and r.top_calibrated:
                c = r.top_calibrated
                line += f"; calibrated top {c} ({r.calibrated[c]:.2f})"
                if c != r.top:
                    differ += 1
                    line += " ⚠ they disagree"
            console.print(safe(line))
            for which, rest in (("raw", r.raw_rests_on), ("calibrated", r.calibrated_rests_on)):
                rest_note = rests_on_note(which, rest)
                if rest_note:  # one answer deciding the top is no share (a trial)
                    console.print(safe(f"    ⚠ {rest_note}"), style="yellow")
        if differ:
            # Neither instrument is right by construction: the README's instrument-agreement
            # tables show calibration inverting a model's own identity (Qwen: raw 2/2, PMI 0/2).
            console.print(
                safe(
                    f"  note: raw and calibrated disagree on the top class in {differ} item(s). "
                    "Calibration removes what the model would say after any question, which "
                    "includes an identity it holds regardless of the question; check against "
                    "sampled answers (psmlab ask -n 32 --temperature 1 --top-k 0 --top-p 1 "
                    "--min-p 0)"
                )
            )
    model_failures(failed, done)
