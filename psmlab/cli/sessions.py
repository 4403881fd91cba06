"""Session commands: sessions, adopt, replay, export (annotate has its own module)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from psmlab.cli.common import choose_formats, resolve_specs, say_relabelled, stdout_json
from psmlab.cli.options import FormatOpt, JsonOpt, SessionArg
from psmlab.cli.out_file import check_out, write_out
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import ExitCode, UsageError
from psmlab.core.models.registry import Registry
from psmlab.core.session.export import EXPORT_FORMATS
from psmlab.core.session.tree import answer_place

_EXPORT_CHOICE = f"{', '.join(EXPORT_FORMATS[:-1])} or {EXPORT_FORMATS[-1]}"  # md, jsonl or csv


def _path(p: Path) -> Path:
    from psmlab.core.session.file import resolve_path

    return resolve_path(p)


def sessions(
    directory: Annotated[Path | None, typer.Option("--dir", help="Sessions directory.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List saved sessions: title, date, models, generations, annotations."""
    from psmlab.core.session.file import list_sessions, sessions_dir, summary

    if directory is not None and not directory.is_dir():
        # A mistyped folder read as "no sessions", exit 0.
        raise UsageError(
            f"{directory} "
            + ("is a file, not a folder" if directory.exists() else "does not exist"),
            "pass the folder sessions are saved in (default: psmlab sessions with no --dir)",
        )
    rows = list_sessions(directory)
    if json_out:
        stdout_json(
            {
                "sessions": [
                    {"path": str(p), **(summary(s) if s else {}), **({"error": e} if e else {})}
                    for p, s, e in rows
                ]
            }
        )
        return
    if not rows:
        where = directory or sessions_dir()
        # The default folder (or PSMLAB_SESSIONS_DIR) is made at the first save.
        yet = "" if where.is_dir() else " (the folder does not exist yet)"
        typer.echo(terminal_safe(f"no sessions in {where}{yet}"))
        return
    from rich.table import Table

    from psmlab.views import safe

    table = Table()
    for col in ("file", "title", "updated", "models", "turns", "gens", "annotations"):
        table.add_column(col, overflow="fold")
    for p, s, e in rows:
        if s is None:
            table.add_row(safe(p.name), safe(f"unreadable: {e}", "red"), "", "", "", "", "")
            continue
        d = summary(s)
        table.add_row(
            safe(p.name),
            safe(d["title"]),
            d["updated"][:16],
            safe(", ".join(d["models"])),
            # The current branch's turns, and the whole tree's when it has more (a loom import
            # of 17 turns in 12 branches showed "3").
            str(d["turns"])
            + (
                f" ({d['tree_turns']} in {d['branches']} branch{'es' if d['branches'] != 1 else ''})"
                if d["tree_turns"] != d["turns"]
                else ""
            ),
            str(d["generations"]),
            str(d["annotations"]),
        )
    from psmlab.cli.output import out_console

    out_console().print(table)


def adopt(
    session: SessionArg,
    generation_id: Annotated[
        str, typer.Argument(help="Generation id (a unique prefix is enough).")
    ],
) -> None:
    """Make one continuation the assistant's turn; the next `ask --save` goes on from it."""
    from psmlab.core.session.file import open_session

    with open_session(_path(session)) as sf:
        # An id typed wrong is a usage error, not a broken session file.
        turn = sf.session.adopt(sf.session.find_generation(generation_id).id, "cli")
        sf.save()
    say_relabelled(sf.session, saved=True)
    from psmlab.core.session.authorship import given_by

    given = given_by(sf.session, turn)
    typer.echo(
        terminal_safe(
            f"adopted {turn.adopted_from} from {turn.adopted_model or ''} as turn "
            f"{len(sf.session.turns)}"
            + (f" ({given}: the model wrote only what follows it)" if given else "")
        )
    )


# replay's -m: without it the session's own models are checked, not the demo pair (a trial
# read the shared option's "Default: the demo pair").
ReplayModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-m",
        "--model",
        metavar="MODEL",
        help="Run the session's transcript on these models instead (ids, .gguf paths or "
        "servers, as for ask) into a new session. Default: replay the session's own models "
        "and compare token for token.",
    ),
]


def replay(
    session: SessionArg,
    model: ReplayModelOpt = None,
    fmt: FormatOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="With -m: the new session (a bare name: sessions/NAME.json). Without: write "
            "the JSON report here.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Re-run every recorded generation and compare token for token (or run the transcript on -m models)."""
    from psmlab.core.run import replay as rp
    from psmlab.core.session.file import load, new_path, save_new, save_target

    src = _path(session)
    sess = load(src)
    # As read now, before the replay runs (the lab may save the file meanwhile).
    read = replay_provenance(src)
    if out is not None and model:
        # A new session: named as `ask --save` and `import -o` name one (a bare name is
        # sessions/NAME.json, where `psmlab sessions` lists it; it was written as ./NAME).
        out = save_target(out)
    if out is not None and out.suffix and out.suffix.lower() != ".json":
        # Both writes are JSON (a report, or a session with -m): x.md would hold JSON.
        raise UsageError(
            f"-o {out}: replay writes JSON ({'a session' if model else 'its report'}), "
            f"not {out.suffix}",
            # Not NAME.json for a report: a bare NAME.json names the session (a trial followed
            # the hint, and `export s7.json` then read the report, not sessions/s7.json).
            f"give -o a .json name, e.g. -o "
            f"{out.with_suffix('.json') if model else out.with_name(out.stem + '-replay.json')}"
            + ("" if model else "; psmlab export SESSION -o FILE.md writes markdown"),
        )
    if out is not None and model and out.exists():  # found now, not after every generation ran
        raise UsageError(f"-o {out} already exists", "give -o a new file name for the new session")
    if out is not None and not model:
        check_out(out, "writing the replay report", ".json")
    tty = sys.stderr.isatty()
    by_id = {g.id: g for g in sess.generations}

    def progress(done: int, total: int, item: rp.ReplayItem) -> None:
        state = (
            "failed"
            if item.error
            else "nothing to compare (it ended before its first token)"
            if item.empty
            else {True: "identical", False: "changed", None: "done"}[item.identical]
        )
        end = "\r" if tty and done < total else "\n"
        what = item.id
        if model and (src := by_id.get(item.id)) is not None:
            # The id is the original's whose seed and settings are used (a trial read a SmolLM2
            # answer's id beside gemma-3-270m as if it were Gemma's).
            place = answer_place(sess.nodes, src.node, src.turn)
            what = f"turn {place} sample {src.sample + 1} (seed and settings of {item.id})"
        line = f"replay {done}/{total} {terminal_safe(item.model)} {what}: {state}"
        sys.stderr.write(f"{line}\x1b[K{end}" if tty else f"{line}\n")

    if model:
        specs = resolve_specs(Registry(), model, None, None)
        report = rp.replay_on(sess, specs, formats=choose_formats(fmt, specs), on_progress=progress)
        assert report.new_session is not None
        target = out or new_path(report.new_session.title)
        save_new(report.new_session, target)
        sys.stderr.write(f"psmlab: new session saved to {target}\n")
    else:
        report = rp.replay(sess, on_progress=progress)
    if tty and report.total < report.expected:
        sys.stderr.write("\n")  # end the in-place progress line before the summary
    for w in report.warnings:
        sys.stderr.write(terminal_safe(f"psmlab: warning: {w}") + "\n")
    data = report.to_dict()
    # What was replayed and by which code: "identical" cited without them says nothing.
    data["provenance"] = read
    if out and not model:
        import json

        write_out(out, (json.dumps(data, indent=2) + "\n").encode())
    if json_out:
        stdout_json(data)
    else:
        if report.cancelled and model:
            verdict = (
                f"cancelled after {report.total} of {report.expected} generations on "
                f"{', '.join(s.id for s in specs)} (a new session: not compared)"
            )
        elif report.cancelled:
            verdict = (
                f"cancelled after {report.total} of {report.expected}: {report.identical} "
                f"identical, {report.changed} changed, {report.failed} failed"
                + (f", {report.empty} with nothing to compare" if report.empty else "")
            )
        elif report.expected == 0:  # a loom import, or a session of hand-written turns
            verdict = (
                "nothing to replay: the session holds no generation (its turns were written or "
                "imported, not generated here)"
            )
        elif model:  # a new session on other models: there is nothing to compare with
            verdict = (
                f"{report.total - report.failed} of {report.expected} generations made on "
                f"{', '.join(s.id for s in specs)}, one per turn and sample of the session's "
                f"{len(sess.generations)}, with the seeds and settings of the first recorded "
                "at each"
                + (f", {report.failed} failed" if report.failed else "")
                + " (not compared: replay without -m checks that the originals reproduce; "
                "samples decoded together are decoded one by one here, so even the same model "
                "may write other text)"
            )
        elif report.identical == report.total:
            verdict = (
                "the one generation identical"
                if report.total == 1
                else f"all {report.total} generations identical"
            )
        elif report.empty == report.total:
            verdict = (
                f"nothing to compare: every generation ({report.total}) ended before its first "
                "token (cancelled or failed)"
            )
        elif report.identical + report.empty == report.total:
            verdict = (
                (
                    "the one generation"
                    if report.identical == 1
                    else f"all {report.identical} generations"
                )
                + f" with text identical; {report.empty} ended before their first token "
                "(cancelled or failed): nothing to compare"
            )
        else:
            verdict = (
                f"{report.identical} identical, {report.changed} changed, "
                f"{report.failed} failed of {report.total}"
                + (
                    f"; {report.empty} ended before their first token: nothing to compare"
                    if report.empty
                    else ""
                )
            )
        typer.echo("replayed: " + verdict)
        for item in report.items:
            if item.identical is False and not item.error:
                where = (
                    "same text in other tokens"
                    if item.first_divergence is None
                    else f"at character {item.first_divergence}"
                )
                why = (
                    # Edited turns, or another template or tokenizer (a server model's local
                    # GGUF swapped): the warnings above say when a file changed.
                    " (its prompt is not the one recorded: the turns before it, or its own "
                    "format, system prompt or prefill, were edited, or another template or "
                    "tokenizer rendered it)"
                    if item.prompt_changed
                    else ""
                )
                typer.echo(f"  changed {item.id} ({terminal_safe(item.model)}) {where}{why}")
            elif item.error:
                typer.echo(terminal_safe(f"  failed {item.id} ({item.model}): {item.error}"))
    if report.cancelled:
        raise typer.Exit(int(ExitCode.CANCELLED))
    if not report.changed and report.failed:
        # Nothing reproduced differently, something could not run: the exit code is the
        # error's (a server down is 14, not 13 "did not reproduce").
        codes = {i.error_code for i in report.items if i.error is not None}
        one = codes.pop() if len(codes) == 1 else None
        raise typer.Exit(one if one is not None else int(ExitCode.CHANGED))
    if report.failed or (not model and report.changed):
        raise typer.Exit(int(ExitCode.CHANGED))


def export(
    session: SessionArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"{_EXPORT_CHOICE}.")] = "md",
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="Output file (default: stdout).")
    ] = None,
    tree: Annotated[
        bool,
        typer.Option("--tree", help="Markdown: every branch, not only the current one."),
    ] = False,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            help="Markdown: the branch with this number (from psmlab tree) or ending at this turn id.",
        ),
    ] = None,
) -> None:
    """Export a session as markdown (for people), jsonl (one generation per line), csv (one row per annotation) or loom (the tree as loom's JSON)."""
    from psmlab.core.session.export import export as do_export
    from psmlab.core.session.file import load

    fmt = fmt.lower()  # -f MD is md
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown export format '{fmt}'", f"use {_EXPORT_CHOICE}")
    if fmt != "md" and (tree or branch is not None):
        # jsonl, csv and loom always hold every generation of every branch.
        raise UsageError(
            f"--{'tree' if tree else 'branch'} chooses what markdown shows; -f {fmt} always "
            "holds every branch",
            f"drop --{'tree' if tree else 'branch'}, or export markdown (-f md)",
        )
    if tree and branch is not None:
        raise UsageError(
            "--tree writes every branch and --branch one of them",
            "give one of --tree or --branch",
        )
    if out is not None:
        check_out(out, "exporting", "." + fmt)
    s = load(_path(session))
    say_relabelled(s, saved=False)  # the export shows today's labels: said
    end = None
    if branch is not None:
        leaves = s.leaves()
        if branch.isdigit():
            if not 1 <= int(branch) <= len(leaves):
                raise UsageError(
                    f"there is no branch {branch}", f"branches run from 1 to {len(leaves)}"
                )
            end = leaves[int(branch) - 1]
        else:
            end = s.find_node(branch).id
    text = do_export(s, fmt, tree=tree, branch=end)
    if fmt == "loom":
        from psmlab.core.session.loom_notes import not_in_loom

        if lost := not_in_loom(s):  # said, not dropped without a word
            sys.stderr.write(
                terminal_safe(
                    f"psmlab: note: a loom tree holds the turns and answers, not {'; '.join(lost)}"
                    " (the session file keeps them)"
                )
                + "\n"
            )
    if fmt == "csv" and not s.annotations:
        # A header alone read as the generations lost: said, with the format that holds them.
        sys.stderr.write(
            "psmlab: note: this session has no annotations, and the csv holds one row per "
            "annotation (a header only); -f jsonl holds every generation\n"
        )
    if out is None:
        sys.stdout.write(text)
    else:
        write_out(out, text.encode("utf-8"))
        sys.stderr.write(f"psmlab: wrote {out}\n")


def replay_provenance(path: Path) -> dict[str, str | None]:
    """The session file replayed (its path and sha256 as read) and the versions that replayed it."""
    import hashlib

    import psmlab
    from psmlab.core.domain.code_version import code_fingerprint
    from psmlab.core.models.cvec import llama_cpp_version

    return {
        "session": str(path.resolve()),
        "session_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "psmlab": psmlab.__version__,
        "psmlab_code": code_fingerprint(),
        "llama_cpp_python": llama_cpp_version(),
    }
