"""`psmlab ask`: every model continues the same conversation; optionally saved as a session."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli import app
from psmlab.cli.commands import (
    FormatOpt,
    JsonOpt,
    ModelOpt,
    NCtxOpt,
    PrefillOpt,
    SystemOpt,
    ThreadsOpt,
    TranscriptOpt,
    _formats,
    _params,
    _specs,
    _stdout_json,
    _transcript,
)
from psmlab.core.backends.base import SamplingParams
from psmlab.core.errors import UsageError
from psmlab.core.models import Registry
from psmlab.core.runner import MAX_SEED, Column
from psmlab.core.transcript import Transcript


@app.command()
def ask(
    message: Annotated[str | None, typer.Argument(help="The user message.")] = None,
    model: ModelOpt = None,
    n: Annotated[
        int, typer.Option("-n", "--samples", min=1, max=10_000, help="Samples per model.")
    ] = 1,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            max=MAX_SEED,
            help="Seed of sample 0; sample i uses seed+i. Default: random, recorded.",
        ),
    ] = None,
    temperature: Annotated[float, typer.Option("--temperature", "-t", min=0.0)] = 0.8,
    top_p: Annotated[float, typer.Option("--top-p")] = 0.95,
    top_k: Annotated[int, typer.Option("--top-k", min=0)] = 40,
    min_p: Annotated[float, typer.Option("--min-p")] = 0.05,
    repeat_penalty: Annotated[float, typer.Option("--repeat-penalty")] = 1.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 128,
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
    title: Annotated[str | None, typer.Option("--title", help="Title of a new session.")] = None,
    logprobs: Annotated[
        bool,
        typer.Option(
            "--logprobs", help="Record every token's probability and its top 5 alternatives."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Ask every model the same thing and show their answers side by side."""
    params = _params(
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        min_p=min_p,
        repeat_penalty=repeat_penalty,
        max_tokens=max_tokens,
    )
    specs = _specs(Registry(), model, n_ctx, threads)
    chosen = _formats(fmt, specs)
    columns = [Column(s, format=chosen[s.id], system=system, prefill=prefill) for s in specs]
    if save is None:
        code = _ask(
            _transcript(message, transcript),
            columns,
            params,
            n,
            seed,
            json_out,
            None,
            5 if logprobs else 0,
        )
    else:
        code = _ask_saved(
            save,
            title,
            message,
            transcript,
            columns,
            params,
            n,
            seed,
            json_out,
            5 if logprobs else 0,
        )
    if code:
        raise typer.Exit(code)


def _ask_saved(
    save: Path,
    title: str | None,
    message: str | None,
    transcript: Path | None,
    columns: list[Column],
    params: SamplingParams,
    n: int,
    seed: int | None,
    json_out: bool,
    lp: int = 0,
) -> int:
    from psmlab.core.session import Session, TurnRecord
    from psmlab.core.store import open_session

    new = Session(title=title or (message or "untitled")[:60])
    with open_session(save, create=new) as sf:
        sess = sf.session
        if sess is new:
            tr = _transcript(message, transcript)
            sess.turns = [TurnRecord(role=t.role, content=t.content) for t in tr.turns]
        else:
            if transcript is not None or message is None:
                raise UsageError(
                    f"{save} already holds a session",
                    "give only the next message to add a turn to it",
                )
            if sess.turns and sess.turns[-1].role == "user":
                raise UsageError(
                    f"the last turn of {save} is a user message with no adopted answer",
                    f"adopt one first: psmlab adopt {save} GENERATION_ID",
                )
            tr = sess.transcript().with_turn("user", message)
            sess.turns.append(TurnRecord(role="user", content=message))
        code = _ask(tr, columns, params, n, seed, json_out, sf, lp)
        sf.save()
    sys.stderr.write(f"psmlab: saved session to {save}\n")
    return code


def _ask(
    tr: Transcript,
    columns: list[Column],
    params: SamplingParams,
    n: int,
    seed: int | None,
    json_out: bool,
    sf: Any,
    lp: int = 0,
) -> int:
    from psmlab.core.runner import run

    sinks = []
    live_view = None
    if not json_out and sys.stdout.isatty():
        from psmlab.cli.live import LiveColumns

        live_view = LiveColumns(columns, n)
        sinks.append(live_view.on_event)
    if sf is not None:
        from psmlab.core.record import SessionRecorder

        # Save after every finished generation: a crash loses at most the one in flight.
        sinks.append(
            SessionRecorder(sf.session, columns, turn=len(tr.turns), on_change=sf.save).on_event
        )

    def on_event(ev: Any) -> None:
        for sink in sinks:
            sink(ev)

    t0 = time.perf_counter()
    if live_view is not None:
        with live_view:
            result = run(tr, columns, params, n=n, seed=seed, on_event=on_event, logprobs=lp)
    else:
        result = run(tr, columns, params, n=n, seed=seed, on_event=on_event, logprobs=lp)
    elapsed = time.perf_counter() - t0
    from psmlab.core.classify import classify
    from psmlab.core.personas import load_personas
    from psmlab.core.stats import label_shares

    personas = load_personas()[0]
    autos = {g.id: classify(g.text, personas, role_leak=g.role_leak) for g in result.generations}
    shares = {
        c.spec.id: label_shares(
            autos[g.id].labels for g in result.generations if g.model == c.spec.id
        )
        for c in columns
    }
    if json_out:
        _stdout_json(
            {
                "generations": [
                    {**g.to_dict(), "auto_labels": autos[g.id].to_dict()}
                    for g in result.generations
                ],
                "labels": {m: {x.label: x.to_dict() for x in v} for m, v in shares.items()},
                "errors": [
                    {"model": m, "error": e.one_line(), "exit_code": int(e.exit_code)}
                    for m, e in result.errors.items()
                ],
                "prompts": [
                    {
                        "model": m,
                        "format": p.format,
                        "n_tokens": p.n_tokens,
                        "warnings": list(p.warnings),
                    }
                    for m, p in result.prompts.items()
                ],
                "transcript": tr.to_messages(),
                "models": [_model_json(c) for c in columns],
                "seed": result.base_seed,
                "cancelled": result.cancelled,
                "elapsed_s": round(elapsed, 3),
            }
        )
    else:
        from psmlab.cli.live import print_result

        table = None
        if n > 1:
            from psmlab.cli.output import shares_table

            table = shares_table(shares)
        print_result(columns, n, result, printed_live=live_view is not None, after=table)
    return 130 if result.cancelled else int(result.exit_code())


def _model_json(c: Column) -> dict[str, object]:
    """The column as a session model record, so saved `ask --json` output opens as a session."""
    s = c.spec
    return {
        "id": s.id,
        "kind": s.kind,
        "path": s.path,
        "sha256": s.to_dict()["sha256"],
        "size": s.size,
        "source": s.source,
        "format": c.format_name,
        "system": c.system,
        "prefill": c.prefill,
        "n_ctx": s.n_ctx,
        "n_threads": s.n_threads,
    }
