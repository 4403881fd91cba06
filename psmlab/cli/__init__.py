"""The `psmlab` command line: thin Typer commands over `psmlab.core`; errors become one line + exit code."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

import typer

import psmlab
from psmlab.cli import (
    agreement,
    annotate,
    ask,
    commands,
    evals,
    experiment,
    label,
    measure,
    sessions,
    trace,
    tree,
    tui,
    vectors,
)
from psmlab.core.domain import personas
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import ExitCode, PsmlabError, UsageError

app = typer.Typer(
    name="psmlab",
    help="A terminal lab for the persona selection model: base and chat models side by side.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from psmlab.core.domain.code_version import code_fingerprint

        # The code's fingerprint too: results record it, and "0.1.0" is every commit's version.
        typer.echo(f"psmlab {psmlab.__version__} (code {code_fingerprint()})")
        raise typer.Exit()


def _warn_broken(exc: PsmlabError) -> None:
    """A persona file that cannot be read, said once by every command that reads personas."""
    sys.stderr.write(terminal_safe(f"psmlab: warning: {exc.one_line()}") + "\n")


@app.callback()
def _root(
    ctx: typer.Context,
    model: list[str] | None = typer.Option(
        None,
        "-m",
        "--model",
        metavar="MODEL",
        help="Open the lab on these models (repeat). Default: the demo pair.",
    ),
    monitor: list[Path] | None = typer.Option(
        None, "--monitor", metavar="FILE", help=tui.MONITOR_HELP, dir_okay=False
    ),
    blind: bool = typer.Option(False, "--blind", help=tui.BLIND_HELP),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks; log llama.cpp and psmlab to psmlab-debug.log."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        expose_value=False,
        callback=_print_version,
        help="Print the version and exit.",
    ),
) -> None:
    """With no command, open the lab (the TUI)."""
    if debug:
        # A file, not stderr: the TUI owns the terminal, and llama.cpp is chatty.
        logging.basicConfig(level=logging.DEBUG, filename="psmlab-debug.log")
    if ctx.invoked_subcommand not in (None, "open"):  # the lab owns the terminal
        personas.on_broken = _warn_broken
    if ctx.invoked_subcommand is None:
        tui.run_lab(model, monitor, blind=blind)
    elif blind:
        raise UsageError(
            "--blind before a command only applies to the lab",
            "psmlab --blind opens the lab blind; psmlab open SESSION --blind a session",
        )
    elif monitor:
        raise UsageError(
            "--monitor before a command only applies to the lab",
            "monitor in the lab (psmlab --monitor FILE, psmlab open SESSION --monitor FILE) "
            "or with psmlab ask … --monitor FILE",
        )


# Every command, in the order `psmlab --help` lists them.
app.command()(commands.models)
app.command()(commands.formats)
app.command()(commands.render)
app.command()(ask.ask)
app.command()(experiment.experiment)
app.command("experiment-annotate")(experiment.experiment_annotate)
app.command()(measure.probe)
app.command()(evals.evals)
app.command()(label.label)
app.command()(agreement.agreement)
app.command()(sessions.sessions)
app.command()(annotate.annotate)
app.command()(sessions.adopt)
app.command()(sessions.replay)
app.command()(sessions.export)
app.command()(tree.tree)
app.command("import")(tree.import_tree)
app.command()(trace.trace)
app.command("open")(tui.open_session)
app.add_typer(vectors.app, name="vectors")


def _fix_for(problem: str, where: str, ctx: object) -> str:
    """The fix for click's usage error: a session file given where a command goes (`psmlab
    X.json`, as `vim X` opens X) is opened with `psmlab open`; else the command's help."""
    import re
    import shlex

    named = re.fullmatch(r"No such command '(.*)'", problem)
    top = ctx is None or getattr(ctx, "parent", None) is None  # no command was chosen yet
    if (
        top
        and named
        and (named.group(1).lower().endswith(".json") or Path(named.group(1)).is_file())
    ):
        return f"to open a session in the lab: psmlab open {shlex.quote(named.group(1))}"
    return f"see '{where} --help'"


def _command_in_argv() -> str | None:
    """The command the user typed (the first word of argv naming one), or None."""
    import typer.main

    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    first = next((a for a in sys.argv[1:] if a != "--debug"), "")
    return first if first in names else None


def main() -> None:
    """Entry point: expected errors print one line and exit with their code; no tracebacks."""
    debug = "--debug" in sys.argv
    global _STDOUT_IS_PIPE
    _STDOUT_IS_PIPE = _is_pipe()
    try:
        try:
            # Not standalone: click's usage errors come here and get psmlab's one line.
            rv = app(standalone_mode=False)
            if isinstance(rv, int) and rv:  # typer.Exit(code) or ctx.exit(code)
                sys.exit(rv)
        except _CLICK_USAGE_ERROR as exc:
            from psmlab.cli.common import end_progress_line

            end_progress_line()
            # Click prints three lines (usage, hint, error); the fix is the command's help.
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "psmlab"
            if where == "psmlab" and (named := _command_in_argv()):
                # An option missing its value is raised before the command's context exists:
                # "see 'psmlab --help'" for `psmlab export s1 --format` (a trial).
                where = f"psmlab {named}"
            msg = exc.format_message()  # type: ignore[attr-defined]
            if "\n" in msg:  # a group called without a command: its help is the answer
                sys.stderr.write(msg + "\n")
            else:
                problem = msg.rstrip(".")
                if problem == "No such option: --debug":
                    problem += " here (it goes before the command: psmlab --debug COMMAND …)"
                sys.stderr.write(
                    terminal_safe(f"psmlab: error: {problem}; {_fix_for(problem, where, ctx)}")
                    + "\n"
                )
            sys.exit(int(ExitCode.USAGE))
        except typer.Abort:  # Ctrl+C at a prompt
            raise KeyboardInterrupt from None
        except BaseException:
            from psmlab.cli.common import end_progress_line

            end_progress_line()  # whatever is printed next starts on a line of its own
            raise
    except SystemExit as exc:
        # Rich and click answer a closed pipe (`psmlab label … --json | head -1`) with exit 1,
        # the code of an internal error: a reader that stopped reading is the shell's SIGPIPE.
        if exc.code == 1 and _pipe_closed():
            _exit_pipe_closed()
        raise
    except BrokenPipeError:
        _exit_pipe_closed()
    except PsmlabError as exc:
        if debug:  # the traceback, then the same exit code (scripts read it): not 1
            import traceback

            traceback.print_exc()
            sys.exit(int(exc.exit_code))
        # A message may quote a file name or model text: control characters are made visible.
        sys.stderr.write(f"psmlab: error: {terminal_safe(exc.one_line())}\n")
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.stderr.write("psmlab: interrupted\n")
        sys.exit(int(ExitCode.CANCELLED))
    except Exception as exc:  # an unexpected bug: still one line unless --debug
        if debug:
            raise
        sys.stderr.write(
            terminal_safe(f"psmlab: internal error: {type(exc).__name__}: {exc}")
            + ". Rerun with --debug for details\n"
        )
        sys.exit(int(ExitCode.INTERNAL))


# Click's usage errors (bad values, unknown options, missing arguments): typer vendors click and
# exports only BadParameter, whose base is the class they all share.
_CLICK_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)

_STDOUT_IS_PIPE = False  # set at start: only a pipe can be closed by its reader


def _is_pipe() -> bool:
    import os
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def _pipe_closed() -> bool:
    """True once rich or click met a closed stdout pipe: rich points stdout at os.devnull, click
    swaps in its (_)PacifyFlushWrapper. A stdout that was not a pipe at start never counts, so
    `psmlab … > /dev/null` exiting 1 for a real failure stays 1."""
    import os

    if not _STDOUT_IS_PIPE:
        return False
    if "PacifyFlushWrapper" in type(sys.stdout).__name__:
        return True
    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError):
        return False
    return (out.st_dev, out.st_ino) == (null.st_dev, null.st_ino)


def _exit_pipe_closed() -> None:
    """Quietly, and without flushing into the closed pipe again (which would raise once more)."""
    import os

    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()  # stderr may be the same closed pipe (2>&1 | head)
    os._exit(int(ExitCode.PIPE_CLOSED))
