"""`psmlab label FILE.jsonl`: self-identification and archetype labels for any text, by marker rules or a judge model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.options import JsonOpt
from psmlab.core.errors import ExitCode
from psmlab.views import safe

LabellerOpt = Annotated[
    str,
    typer.Option(
        "--labeller",
        help="markers (phrase rules) or judge:MODEL (a model id from `psmlab models`, a .gguf "
        "path or a server URL) that labels self-identification by log-probability.",
    ),
]


def label(
    file: Annotated[
        Path, typer.Argument(help='JSONL, one object per line with "text" (and "id", "question").')
    ],
    labeller: LabellerOpt = "markers",
    json_out: JsonOpt = False,
) -> None:
    """Label each text: self-identification (ai, human, mixed, none) and archetypes, with the
    rule hits (markers) or the option probabilities (a judge) behind them. --json prints one JSON
    object per line, ready for `psmlab agreement`."""
    import json
    import sys

    from psmlab.core.domain.quality import labeller_line
    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.measure.labeling import iter_label_jsonl

    if not file.exists():
        # A session's name, as every session command takes it: said as the session it is
        # (a trial got "file not found: s1" where `sessions/s1.json` was found elsewhere).
        from psmlab.core.errors import UsageError
        from psmlab.core.session.file import resolve_path

        found = resolve_path(file)
        if found != file and found.exists():
            raise UsageError(
                f"{file} is not a file here; the session {found} is, and label reads JSONL",
                f"`psmlab export {found} -f jsonl -o FILE.jsonl` writes its generations one "
                "per line to label (`psmlab agreement` reads the session itself)",
            )
    labelled = iter_label_jsonl(file, labeller)
    _say_dropped_labels(file)
    if json_out:
        # A line as soon as it is labelled: a judge takes seconds a text, and what is done is
        # kept if its server goes away (the error comes after the lines written).
        first = None
        done = 0
        with _stopped_says(lambda: done, file, json_out=True) as whole:
            for r in labelled:
                first = first or r
                with whole():  # a stop waits for the line and its count, then stops
                    sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                    done += 1
        # How far these labels can be trusted (the labeller's measured agreement with people,
        # and "unreliable" when its interval includes 0) goes with them, on stderr.
        if first is not None:
            sys.stderr.write(
                terminal_safe(f"psmlab: {labeller_line(first['labeller'], now=True)}") + "\n"
            )
        return
    with _stopped_says(lambda: 0, file, json_out=False):
        rows = list(labelled)
    measured = labeller_line(rows[0]["labeller"], now=True)

    table = _judge_table(rows) if rows[0].get("judge") else _markers_table(rows)
    from psmlab.cli.output import out_console

    console = out_console(highlight=False)
    console.print(table)
    # Below the table at full width: as its caption it was folded to a narrow table's width.
    console.print(safe(measured), soft_wrap=True)


def _say_dropped_labels(file: Path) -> None:
    """Said on stderr when the input's lines carry labels of their own (a person's self_id,
    an annotator, a method): the output's labels are this labeller's alone, and a trial's
    gold file came out with its people's labels replaced, unsaid."""
    import sys

    from psmlab.core.domain.jsonl import read_objects
    from psmlab.core.domain.textsafe import terminal_safe
    from psmlab.core.errors import PsmlabError

    try:
        objects = [obj for _, obj in read_objects(file) if isinstance(obj, dict)]
    except (PsmlabError, OSError, ValueError):  # said by the labelling itself, as it reads
        return
    # Only labels that hold something: a session's export has "annotations": [] and
    # "auto_labels": null on every line (a review: the note fired on every export).
    # Labels only (an annotator's name or a method is no label), and only where they hold
    # something.
    held = sorted(
        {
            k
            for obj in objects
            for k, v in obj.items()
            if k in _LABEL_FIELDS and v not in (None, "", [], {})
        }
    )
    if held:
        compare = (
            f"; psmlab agreement OUTPUT.jsonl {file} compares them" if "self_id" in held else ""
        )
        sys.stderr.write(
            terminal_safe(
                f"psmlab: note: {file}'s lines carry labels of their own ({', '.join(held)}); "
                f"the output holds this labeller's instead{compare}"
            )
            + "\n"
        )


_LABEL_FIELDS = ("self_id", "archetypes", "label", "labels", "annotations", "auto_labels")


def _markers_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(
        _id_header(rows),
        "self_id",
        "self-id evidence",
        "archetypes",
        "archetype evidence",
        title="labeller: markers (phrase rules)",
    )
    for r in rows:
        # Each archetype's phrases beside it (a trial read the self-id rule alone as why
        # "helpful-assistant, skynet" were given).
        said = [
            f"{a}: " + ", ".join(f"'{m}'" for m in _once(h["marker"] for h in hits))
            for a, hits in _by_archetype(r.get("archetype_hits") or []).items()
        ]
        table.add_row(
            _id_cell(r),
            r["self_id"],
            safe(", ".join(_once(h["marker"] for h in r["self_id_hits"]))),
            safe(", ".join(r["archetypes"])),
            safe("; ".join(said)),
        )
    return table


def _once(markers: Iterable[str]) -> list[str]:
    """Each marker once, with how often it fired: a long text repeated one thousands of times."""
    return [m if k == 1 else f"{m} ×{k}" for m, k in Counter(markers).items()]


def _by_archetype(hits: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for h in hits:
        out.setdefault(str(h["archetype"]), []).append(h)
    return out


def _judge_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    j = rows[0]["judge"]
    options = list(rows[0]["probs"])
    table = Table(
        _id_header(rows),
        "self_id",
        *[f"p({o})" for o in options],
        "archetypes (markers)",
        title=safe(
            f"labeller: {rows[0]['labeller']} (rubric {j['rubric']}, format {j['format']}, "
            "option log-probabilities)"
        ),
    )
    for r in rows:
        cut = " (text cut)" if r["judge"]["truncated"] else ""
        table.add_row(
            _id_cell(r),
            r["self_id"] + cut,
            *[f"{r['probs'][o]:.2f}" for o in options],
            safe(", ".join(r["archetypes"])),
        )
    return table


def _id_cell(row: dict[str, Any]) -> Any:
    """A row's id on one line: an id holding a newline read as two rows of the table."""
    ident = str(row.get("id", row.get("line")))
    return safe(ident.replace("\r", "\\r").replace("\n", "\\n"))


def _id_header(rows: list[dict[str, Any]]) -> str:
    """ "line" when the file had no ids: the numbers are positions, not ids it holds."""
    return "id" if any("id" in r for r in rows) else "line"


@contextmanager
def _stopped_says(
    done: Callable[[], int], file: Path, *, json_out: bool
) -> Iterator[Callable[[], AbstractContextManager[None]]]:
    """Ctrl+C or SIGTERM while labelling: how much was labelled is said, exit 130 (a trial's
    judge run stopped at 6 of 8 lines in silence, the file looking whole). It gives a context in
    which a stop is held back (a line written and counted as one)."""
    import signal
    import sys
    import threading

    held = {"on": False, "pending": False}

    def stop(signum: int, frame: object) -> None:
        if held["on"]:
            held["pending"] = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def whole() -> Iterator[None]:
        held["on"] = True
        try:
            yield
        finally:
            held["on"] = False
        if held["pending"]:
            raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    # A signal set to be ignored stays so (`psmlab label … &` in a script ignores the Ctrl+C
    # meant for the foreground).
    old = (
        {
            sig: signal.signal(sig, stop)
            for sig in (signal.SIGTERM, signal.SIGINT)
            if signal.getsignal(sig) is not signal.SIG_IGN
        }
        if main
        else {}
    )
    try:
        yield whole
    except KeyboardInterrupt:
        from psmlab.core.domain.jsonl import read_objects

        try:  # only the count can be lost, never the message
            total: int | None = sum(1 for _ in read_objects(file))
        except Exception:
            total = None
        of = "" if total is None else f" of {total}"
        rest = (
            "every text was labelled"
            if total is not None and done() >= total
            else "the lines written are labelled, the rest are not"
        )
        sys.stderr.write(
            f"psmlab: stopped after {done()}{of} texts: {rest}\n"
            if json_out
            else "psmlab: stopped: the table prints once every text is labelled, so nothing "
            "was kept; --json writes each line as it is labelled\n"
        )
        raise typer.Exit(int(ExitCode.CANCELLED)) from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
