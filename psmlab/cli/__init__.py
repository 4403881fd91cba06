"""The `psmlab` command line: thin Typer commands over `psmlab.core`; errors become one line + exit code."""

from __future__ import annotations

import logging
import sys

import typer

from psmlab.core.errors import ExitCode, PsmlabError

app = typer.Typer(
    name="psmlab",
    help="A terminal lab for the persona selection model: base and chat models side by side.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks and llama.cpp logs on stderr."
    ),
) -> None:
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


from psmlab.cli import ask, commands, sessions  # noqa: E402,F401  (registers the commands)


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
