"""`psmlab models`, `formats` and `render`: what psmlab knows, and the exact prompt each model gets."""

from __future__ import annotations

from typing import Annotated

import typer

from psmlab.cli.common import build_transcript, choose_formats, resolve_specs, stdout_json
from psmlab.cli.options import (
    FormatOpt,
    JsonOpt,
    ModelOpt,
    NCtxOpt,
    PrefillOpt,
    SystemOpt,
    TranscriptOpt,
)
from psmlab.core.errors import ExitCode
from psmlab.core.models.registry import Registry


def models(json_out: JsonOpt = False) -> None:
    """List the models psmlab knows: the demo pair and the ones in your config file."""

    from psmlab.cli.output import err_console, models_table, out_console

    registry = Registry()
    specs = registry.all()
    if registry.demo_error is not None:
        err_console().print(f"note: {registry.demo_error.one_line()}", markup=False, soft_wrap=True)
    for e in registry.entry_errors.values():
        err_console().print(f"warning: {e.one_line()}", markup=False, soft_wrap=True)
    if not registry.config_path.exists():
        # Said, not silent: a PSMLAB_CONFIG with a typo read as an empty config, and the
        # models listed there went missing with no word.
        err_console().print(
            f"note: no config file at {registry.config_path}: only the demo models "
            "(add yours there, see README 'Models')",
            markup=False,
            soft_wrap=True,
        )
    if json_out:
        stdout_json({"models": [s.to_dict(with_sha=True) for s in specs]})
    elif specs:
        # In a pipe, rich would assume 80 columns and fold every cell: print it whole.
        out_console().print(models_table(specs))
    if not specs:
        raise typer.Exit(int(ExitCode.DEMO_MISSING))


def formats(json_out: JsonOpt = False) -> None:
    """List the formats: chat templates and base-model frames."""
    from psmlab.core.domain.formats import list_formats

    rows = list_formats()
    if json_out:
        stdout_json({"formats": [{"name": n, "kind": k, "description": d} for n, k, d in rows]})
        return
    width = max(len(n) for n, _, _ in rows)
    for name, kind, desc in rows:
        typer.echo(f"{name:{width}} {kind:9} {desc}")


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
    from psmlab.core.run.runner import Column, render_prompts

    tr = build_transcript(message, transcript, command="render")
    specs = resolve_specs(Registry(), model, n_ctx, None)
    chosen = choose_formats(fmt, specs)
    columns = [Column(s, format=chosen[s.id], system=system, prefill=prefill) for s in specs]
    prompts = render_prompts(tr, columns, reserve=max_tokens)
    if json_out:
        stdout_json({"prompts": [p.to_dict() for p in prompts]})
        return
    from rich.console import Console

    from psmlab.views import prompt_view

    console = Console(highlight=False)
    for p in prompts:
        console.print(prompt_view(p, show_tokens=tokens))
        console.print()
