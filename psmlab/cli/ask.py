"""`psmlab ask`: every model continues the same conversation; optionally saved as a session."""

from __future__ import annotations

import dataclasses
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.common import (
    build_transcript,
    choose_formats,
    choose_steering,
    resolve_specs,
    say_relabelled,
    stdout_json,
)
from psmlab.cli.options import (
    SAMPLING,
    FormatOpt,
    JsonOpt,
    LogprobsOpt,
    MaxTokensOpt,
    MinPOpt,
    ModelOpt,
    MonitorOpt,
    NCtxOpt,
    PrefillOpt,
    RepeatPenaltyOpt,
    SamplesOpt,
    SeedOpt,
    SteerOpt,
    SystemOpt,
    TemperatureOpt,
    ThreadsOpt,
    TopKOpt,
    TopPOpt,
    TranscriptOpt,
    sampling_params,
)
from psmlab.core.domain.limits import LOGPROB_ALTERNATIVES
from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import ExitCode, UsageError
from psmlab.core.models.registry import Registry
from psmlab.core.run.runner import Column
from psmlab.core.session.records import now


def ask(
    message: Annotated[str | None, typer.Argument(help="The user message.")] = None,
    model: ModelOpt = None,
    n: SamplesOpt = 1,
    seed: SeedOpt = None,
    temperature: TemperatureOpt = SAMPLING.temperature,
    top_p: TopPOpt = SAMPLING.top_p,
    top_k: TopKOpt = SAMPLING.top_k,
    min_p: MinPOpt = SAMPLING.min_p,
    repeat_penalty: RepeatPenaltyOpt = SAMPLING.repeat_penalty,
    max_tokens: MaxTokensOpt = SAMPLING.max_tokens,
    fmt: FormatOpt = None,
    system: SystemOpt = None,
    prefill: PrefillOpt = None,
    transcript: TranscriptOpt = None,
    n_ctx: NCtxOpt = None,
    threads: ThreadsOpt = None,
    save: Annotated[
        Path | None,
        typer.Option(
            "--save",
            help="Save as a session file; if it exists, the message becomes its next turn.",
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", help="Title of the session (with --save on an existing one: renames it)."
        ),
    ] = None,
    logprobs: LogprobsOpt = False,
    labeller: Annotated[
        str,
        typer.Option(
            "--labeller",
            help="Who gives the self-id labels: markers (phrase rules) or judge:MODEL (any "
            "registry model answers a rubric, scored by log-probability; archetypes stay markers).",
        ),
    ] = "markers",
    steer: SteerOpt = None,
    monitor: MonitorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask every model the same thing and show their answers side by side."""
    params = sampling_params(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
        repeat_penalty=repeat_penalty,
        max_tokens=max_tokens,
    )
    from psmlab.core.measure.labeling import parse_labeller

    judge = parse_labeller(labeller)  # a bad name fails before anything is generated
    watch = _vectors(monitor)  # so does a bad vector file
    # A session asked again without -m goes on with its own models (it ran the demo pair
    # beside them, unsaid), as `psmlab open` does.
    if save is not None:
        _save_target(save)
    kept = _session_models(save) if save is not None and not model else None
    specs = resolve_specs(Registry(), model, n_ctx, threads) if kept is None else [
        dataclasses.replace(s, n_ctx=n_ctx or s.n_ctx, n_threads=threads or s.n_threads)
        for s in kept
    ]  # fmt: skip
    _monitor_fits(watch, specs)
    chosen = choose_formats(fmt, specs)
    steering = choose_steering(steer, specs)
    columns = [
        Column(
            s,
            format=chosen[s.id],
            system=system,
            prefill=prefill,
            params=params,
            steering=steering[s.id],
        )
        for s in specs
    ]
    lp = LOGPROB_ALTERNATIVES if logprobs else 0
    if save is None:
        tr = build_transcript(message, transcript)
        code = _ask(tr, columns, n, seed, json_out, None, lp, judge, watch)
    else:
        code = _ask_saved(
            save, title, message, transcript, columns, n, seed, json_out, lp, judge, watch
        )
    if code:
        raise typer.Exit(code)


def _save_target(save: Path) -> Path:
    """Where --save writes, refused before any model runs with the option named (ask takes
    paths in -m and --save)."""
    from psmlab.core.session.file import save_target

    try:
        target = save_target(save)
    except UsageError as exc:
        raise UsageError(f"--save {save}: {exc.problem}", exc.fix) from None
    for d in target.parents:  # under a file: found only when the session is written (exit 10)
        if d.exists() and not d.is_dir():
            raise UsageError(f"--save {save}: {d} is a file, not a folder", "pass another path")
    return target


def _session_models(save: Path) -> list[Any] | None:
    """The models of an existing session to continue, found again as `psmlab open` finds them
    (recorded n_ctx and threads kept), said on stderr; None for a new session."""
    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.session.file import load
    from psmlab.core.session.found import spec_for_record

    target = _save_target(save)
    if not target.is_file():
        return None
    session = load(target)  # a broken file is its one-line error now, as it would be later
    warnings: list[str] = []
    specs = [spec_for_record(rec, warnings) for rec in session.models]
    if not specs:
        return None
    for w in warnings:
        sys.stderr.write(terminal_safe(f"psmlab: note: {w}") + "\n")
    names = ", ".join(rec.id for rec in session.models)
    sys.stderr.write(
        terminal_safe(f"psmlab: note: asking the session's models: {names} (-m chooses others)")
        + "\n"
    )
    return specs


def _as_the_session_asked(session: Any, columns: list[Column]) -> list[Column]:
    """Each column with the system prompt and format the session recorded for its model,
    where none was given now; each kept setting is said."""
    import dataclasses

    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.session.append import kept_settings

    out = []
    for c in columns:
        system, fmt, notes = kept_settings(
            session,
            c.id,
            system=c.system,
            fmt=c.format,
            default_format=c.spec.default_format,
            steered=c.steering is not None,
        )
        for note in notes:
            sys.stderr.write(terminal_safe(f"psmlab: note: {note}") + "\n")
        out.append(dataclasses.replace(c, system=system, format=fmt))
    return out


def _ask_saved(
    save: Path,
    title: str | None,
    message: str | None,
    transcript: Path | None,
    columns: list[Column],
    n: int,
    seed: int | None,
    json_out: bool,
    lp: int,
    judge: str | None,
    watch: list[tuple[Path, Any]],
) -> int:
    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.session.append import check_same_files, new_session, next_turn
    from psmlab.core.session.file import open_session, save_target

    save = save_target(save)  # a bare name is a session in the sessions directory
    new = new_session(title, message)
    with open_session(save, create=new) as sf:
        tr = next_turn(
            sf.session,
            save,
            created=sf.session is new,
            message=message,
            transcript_given=transcript is not None,
            first=lambda: build_transcript(message, transcript),
        )
        if sf.session is not new:  # the next turn is asked as the session was, unless told
            check_same_files(sf.session, [c.spec for c in columns], save)
            columns = _as_the_session_asked(sf.session, columns)
        if title is not None and sf.session is not new and sf.session.title != title:
            # Asked for by name, so done, and said: it was silently ignored on an existing file.
            sys.stderr.write(
                terminal_safe(f"psmlab: note: session retitled {sf.session.title!r} -> {title!r}")
                + "\n"
            )
            sf.session.title = title
        try:
            code = _ask(tr, columns, n, seed, json_out, sf, lp, judge, watch)
            sf.save()
        finally:
            # The recorder saves after each answer: said even when the run stops part-way.
            say_relabelled(sf.session, saved=True)
    sys.stderr.write(f"psmlab: saved session to {save}\n")
    return code


def _ask(
    tr: Transcript,
    columns: list[Column],
    n: int,
    seed: int | None,
    json_out: bool,
    sf: Any,
    lp: int,
    judge: str | None = None,
    watch: list[tuple[Path, Any]] | None = None,
) -> int:
    from psmlab.core.run.runner import run

    sinks = []
    session = sf.session if sf is not None else None
    if watch and session is None:
        # Monitoring re-reads each answer after the turns it saw: keep them in a session in memory.
        from psmlab.core.run.recorder import SessionRecorder
        from psmlab.core.session.schema import Session, TurnRecord

        session = Session()
        session.set_turns([TurnRecord(role=t.role, content=t.content) for t in tr.turns])
        sinks.append(
            SessionRecorder(session, columns, turn=len(tr.turns), node=session.head).on_event
        )
    live_view = None
    if not json_out and sys.stdout.isatty():
        from psmlab.cli.live import LiveColumns

        live_view = LiveColumns(columns, n, tr.last_user)
        sinks.append(live_view.on_event)
    if sf is not None:
        from psmlab.core.run.recorder import SessionRecorder

        # Save after every finished generation: a crash loses at most the one in flight.
        sinks.append(
            SessionRecorder(
                sf.session,
                columns,
                turn=len(tr.turns),
                node=sf.session.head,
                on_change=sf.save,
            ).on_event
        )

    def on_event(ev: Any) -> None:
        for sink in sinks:
            sink(ev)

    t0 = time.perf_counter()
    started_at = now()
    with live_view if live_view is not None else nullcontext():
        result = run(tr, columns, n=n, seed=seed, on_event=on_event, logprobs=lp)
        elapsed = time.perf_counter() - t0
        from psmlab.core.measure.labeling import label_generations

        autos, shares, name, judged = label_generations(
            result.generations,
            [c.spec.id for c in columns],
            tr.last_user,
            judge,
            sf.session if sf is not None else None,
        )
        if judge is not None and sf is not None:
            sf.save()
        if live_view is not None:
            # The last frame shows the labels the shares count (a judge's, when one labels).
            live_view.relabel(autos)
    from psmlab.core.domain.quality import labeller_line
    from psmlab.core.domain.stats import self_id_differences

    diffs = self_id_differences(shares)
    watched: dict[str, list[dict[str, Any]]] = {}
    if watch:  # capture loads only when asked for
        from psmlab.core.domain.textsafe import terminal_safe
        from psmlab.core.inside.monitor import monitor_answers

        threads = min(c.spec.n_threads for c in columns)
        monitor_said: list[str] = []
        watched = monitor_answers(session, result.generations, watch, threads, monitor_said)
        for w in monitor_said:
            sys.stderr.write(f"psmlab: warning: {terminal_safe(w)}\n")
    if sf is not None and watched:
        sf.save()
    if json_out:
        from psmlab.cli.live import prompt_warnings
        from psmlab.core.run.ask_output import ask_document

        prompt_warnings(result)

        stdout_json(
            ask_document(
                tr,
                columns,
                result,
                autos=autos,
                judged=judged,
                watched=watched,
                shares=shares,
                diffs=diffs,
                labeller=name,
                started_at=started_at,
                elapsed_s=elapsed,
            )
        )
    else:
        from psmlab.cli.live import print_result

        table: Any = None
        # Shares over no finished sample (every one failed or was cut off) are 0/0 rows.
        if n > 1 and any(ls.n for ls in shares.values()):
            from psmlab.cli.output import differences_table, shares_table
            from psmlab.core.measure.instruments import distribution_words

            # A judge's line names the archetypes' labeller (the marker rules) with their kappa;
            # the shares say which distribution they estimate (the lab's defaults truncate).
            said = {c.spec.id: distribution_words(c.params.model_dump()) for c in columns}
            where = (
                [next(iter(said.values()))]
                if len(set(said.values())) == 1
                else [f"{m}: {w}" for m, w in said.items()]
            )
            table = shares_table(shares, "\n".join([*where, labeller_line(name, now=True)]))
            if diffs:
                from rich.console import Group

                table = Group(table, differences_table(diffs))
        if watched:
            from rich.console import Group

            from psmlab.cli.output import projections_table

            extra = projections_table(result.generations, watched)
            table = extra if table is None else Group(table, extra)
        print_result(
            columns,
            n,
            result,
            printed_live=live_view is not None,
            after=table,
            question=tr.last_user,
            labels=autos,
            saved=sf is not None,
        )
    return int(ExitCode.CANCELLED) if result.cancelled else int(result.exit_code())


def _monitor_fits(watch: list[tuple[Path, Any]], specs: list[Any]) -> None:
    """A --monitor vector no model of the run can be read on fails now: it was found out
    after the answers, each row "skipped", and the run exited 0 with nothing measured."""
    from psmlab.core.inside.fit import require_fit

    for path, vec in watch:
        require_fit(vec, specs, path, "model of this run")


def _vectors(paths: list[Path] | None) -> list[tuple[Path, Any]]:
    """The --monitor control vectors, read now (a bad file fails before anything runs)."""
    from psmlab.core.inside.fit import unit_directions
    from psmlab.core.models.cvec import read_cvec

    out = [(p, read_cvec(p)) for p in paths or []]
    for p, vec in out:
        unit_directions(vec, p)  # a vector with nothing to project on fails now, not after the run
    return out
