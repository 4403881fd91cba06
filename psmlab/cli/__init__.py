"""The `psmlab` command line: thin Typer commands over `psmlab.core`; errors become one line + exit code."""

from __future__ import annotations

import logging
import sys

import typer

from psmlab.core.errors import ExitCode, PsmlabError

app = typer.Typer(
    name="psmlab",
    help="A terminal lab for the persona selection model: base and chat models side by side.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    model: list[str] | None = typer.Option(
        None, "-m", "--model", help="Open the lab on these models (repeat). Default: the demo pair."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks; log llama.cpp and psmlab to psmlab-debug.log."
    ),
) -> None:
    """With no command, open the lab (the TUI)."""
    if debug:
        # A file, not stderr: the TUI owns the terminal, and llama.cpp is chatty.
        logging.basicConfig(level=logging.DEBUG, filename="psmlab-debug.log")
    if ctx.invoked_subcommand is None:
        from psmlab.cli.tui import run_lab

        run_lab(model)


from psmlab.cli import (  # noqa: E402,F401  (registers the commands)
    ask,
    commands,
    experiment,
    measure,
    sessions,
    tui,
)


def main() -> None:
    """Entry point: expected errors print one line and exit with their code; no tracebacks."""
    debug = "--debug" in sys.argv
    try:
        app()
    except PsmlabError as exc:
        if debug:
            raise
        sys.stderr.write(f"psmlab: error: {exc.one_line()}\n")
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.stderr.write("psmlab: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if debug:
            raise
        sys.stderr.write(
            f"psmlab: internal error: {type(exc).__name__}: {exc}. Rerun with --debug for details\n"
        )
        sys.exit(int(ExitCode.INTERNAL))
