"""Headless commands: models, formats, render, and the options they share with ask."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from psmlab.cli import app
from psmlab.core.backends.base import SamplingParams
from psmlab.core.errors import ExitCode, UsageError
from psmlab.core.models import ModelSpec, Registry
from psmlab.core.transcript import Transcript

ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-m",
        "--model",
        help="Model id (see `psmlab models`), path to a .gguf, or a server as "
        "http://HOST:PORT/v1#MODEL; add @base/@chat to override its kind. "
        "Repeat for columns. Default: the demo pair.",
    ),
]
FormatOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--format",
        help="Format for every model (NAME), or for one (MODEL=NAME). See `psmlab formats`.",
    ),
]
SystemOpt = Annotated[str | None, typer.Option("--system", help='System prompt ("" removes one).')]
PrefillOpt = Annotated[
    str | None, typer.Option("--prefill", help="Text the assistant turn starts with.")
]
TranscriptOpt = Annotated[
    Path | None,
    typer.Option("--transcript", help="JSON messages list [{role, content}, ...] to continue."),
]
NCtxOpt = Annotated[int | None, typer.Option("--n-ctx", min=16, help="Context size in tokens.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads per model.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _stdout_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _specs(
    registry: Registry, refs: list[str] | None, n_ctx: int | None, threads: int | None
) -> list[ModelSpec]:
    specs = [registry.resolve(r) for r in refs] if refs else registry.default_pair()
    out = []
    for s in specs:
        if n_ctx:
            s = replace(s, n_ctx=n_ctx)
        if threads:
            s = replace(s, n_threads=threads)
        out.append(s)
    return out


def _formats(values: list[str] | None, specs: list[ModelSpec]) -> dict[str, str | None]:
    """`--format NAME` applies to all models; `--format MODEL=NAME` to one."""
    chosen: dict[str, str | None] = {s.id: None for s in specs}
    for v in values or []:
        model, sep, name = v.partition("=")
        if sep and model in chosen:
            chosen[model] = name
        elif sep:
            raise UsageError(f"--format {v}: no model '{model}' in this run", "check the -m ids")
        else:
            chosen = {k: v for k in chosen}
    return chosen


def _transcript(message: str | None, path: Path | None) -> Transcript:
    tr = Transcript.load(path) if path else Transcript()
    if message is not None:
        if not message.strip():
            raise UsageError(
                "the message is empty", 'give some text, e.g. psmlab ask "What are you?"'
            )
        tr = tr.with_turn("user", message)
    if not tr.turns:
        raise UsageError("nothing to ask", 'give a message, e.g. psmlab ask "What are you?"')
    return tr


def _params(**kw: float | int) -> SamplingParams:
    try:
        return SamplingParams(**kw)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "--" + str(err["loc"][0]).replace("_", "-")
        raise UsageError(f"{name}: {err['msg']}", "see psmlab ask --help") from None


@app.command()
def models(json_out: JsonOpt = False) -> None:
    """List the models psmlab knows: the demo pair and the ones in your config file."""
    from rich.console import Console

    from psmlab.cli.output import err_console, models_table

    registry = Registry()
    specs = registry.all()
    if registry.demo_error is not None:
        err_console().print(f"note: {registry.demo_error.one_line()}", markup=False)
    for e in registry.entry_errors.values():
        err_console().print(f"warning: {e.one_line()}", markup=False, soft_wrap=True)
    if json_out:
        _stdout_json({"models": [s.to_dict(with_sha=True) for s in specs]})
    elif specs:
        Console().print(models_table(specs))
    if not specs:
        raise typer.Exit(int(ExitCode.DEMO_MISSING))


@app.command()
def formats(json_out: JsonOpt = False) -> None:
    """List the formats: chat templates and base-model frames."""
    from psmlab.core.formats import list_formats

    rows = list_formats()
    if json_out:
        _stdout_json({"formats": [{"name": n, "kind": k, "description": d} for n, k, d in rows]})
        return
    for name, kind, desc in rows:
        typer.echo(f"{name:12} {kind:9} {desc}")


@app.command()
def render(
    message: Annotated[str | None, typer.Argument(help="The user message.")] = None,
    model: ModelOpt = None,
    fmt: FormatOpt = None,
    system: SystemOpt = None,
    prefill: PrefillOpt = None,
    transcript: TranscriptOpt = None,
    n_ctx: NCtxOpt = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=0, help="Room kept for the answer.")
    ] = 0,
    tokens: Annotated[bool, typer.Option("--tokens", help="Also print the token ids.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the exact prompt each model would receive: text, token count and warnings."""
    from psmlab.core.backends.llama import VocabOnly
    from psmlab.core.backends.remote_vocab import vocab_for
    from psmlab.core.prompt import render as render_prompt

    tr = _transcript(message, transcript)
    specs = _specs(Registry(), model, n_ctx, None)
    chosen = _formats(fmt, specs)
    prompts = []
    for s in specs:
        if s.is_remote:
            tok, vocab = vocab_for(s)
        else:
            vocab = VocabOnly(s)
            tok = vocab.vocab
        f = s.get_format(chosen[s.id] or s.default_format)
        prompts.append(
            render_prompt(
                tr,
                f,
                tok,
                model_id=s.id,
                n_ctx=s.n_ctx,
                system=system,
                prefill=prefill,
                reserve=max_tokens,
            )
        )
        if vocab is not None:
            vocab.close()
    if json_out:
        _stdout_json({"prompts": [p.to_dict() for p in prompts]})
        return
    from rich.console import Console

    from psmlab.cli.output import prompt_view

    console = Console(highlight=False)
    for p in prompts:
        console.print(prompt_view(p, show_tokens=tokens))
        console.print()
