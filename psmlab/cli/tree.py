"""`psmlab tree` (a session's branches; moving to another turn) and `psmlab import` (loom trees)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.common import say_relabelled, stdout_json
from psmlab.cli.options import JsonOpt, SessionArg
from psmlab.core.domain.stats import answer_count
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.session.schema import Session


def outline(s: Session) -> list[dict[str, Any]]:
    """Every turn in tree order, with its depth, branch number (at branch ends) and whether it
    lies on the current branch."""
    from psmlab.core.session.loom_notes import loom_answer_model

    leaves = s.leaves()
    current = {t.id for t in s.turns}
    return [
        {
            "id": t.id,
            "parent": t.parent,
            "depth": depth,
            "role": t.role,
            "content": t.content,
            "adopted_from": t.adopted_from,
            # A person changed its text (the turn it is an edited copy of): said, as the lab's
            # tree says "✎ edited", or a hand-edited answer reads as the model's.
            "edited_from": t.edited_from,
            # Who wrote it: the adopted model, or a loom answer's model read back.
            "model": t.adopted_model or loom_answer_model(t),
            "branch": leaves.index(t.id) + 1 if t.id in leaves else None,
            "current": t.id in current,
            "head": t.id == s.head,
            "generations": len(s.generations_at(t.id)),
            # Of them, cancelled or cut off by an error: fragments, not answers (as F8 says).
            "cancelled": sum(g.finish_reason == "cancelled" for g in s.generations_at(t.id)),
            "failed": sum(g.finish_reason == "error" for g in s.generations_at(t.id)),
        }
        for t, depth in s.walk()
    ]


def tree(
    session: SessionArg,
    go: Annotated[
        str | None,
        typer.Option("--go", help="Move the session to this turn (an id or unique prefix)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a session's tree of turns (* marks the current branch); --go continues from another turn."""
    from psmlab.core.session.file import load, open_session, resolve_path

    path = resolve_path(Path(session))
    if go is None:  # only reading: no lock, as export reads a session another psmlab has open
        s = load(path)
    else:
        with open_session(path) as sf:
            sf.session.go(sf.session.find_node(go).id)  # a wrong id: a usage error
            sf.save()
            s = sf.session
        say_relabelled(s, saved=True)
    rows = outline(s)
    if json_out:
        stdout_json({"head": s.head, "branches": len(s.leaves()), "turns": rows})
        return
    if not rows:  # printed nothing, as if the command had failed to read it
        typer.echo(terminal_safe(f"{path}: no turns yet ({s.title})"))
    for r in rows:
        text = " ".join(r["content"].split())
        mark = ">" if r["head"] else "*" if r["current"] else " "
        line = f"{mark} {'  ' * r['depth']}{r['role']}: {text[:60]}{'…' if len(text) > 60 else ''}"
        extra = [r["id"]]
        if r["edited_from"]:
            extra.append(f"edited by hand from {r['edited_from']}")
        if r["model"] and not r["adopted_from"]:  # a loom answer psmlab had not adopted
            extra.append(f"by {r['model']}")
        if r["generations"]:  # as the lab's tree (F8) counts them
            extra.append(answer_count(g.finish_reason for g in s.generations_at(r["id"])))
        if r["branch"]:
            extra.append(f"branch {r['branch']}")
        typer.echo(terminal_safe(f"{line}  ({', '.join(extra)})"))


def import_tree(
    file: Annotated[Path, typer.Argument(help="A loom tree (socketteer/loom's JSON save file).")],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--out",
            help="Session file to write (a bare name: sessions/NAME.json; default: sessions/<title>.json).",
        ),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", help="The session's title.")] = None,
) -> None:
    """Import a loom tree as a psmlab session (every branch kept; `export -f loom` writes it back)."""
    import json

    from psmlab.core.errors import SessionError, UsageError
    from psmlab.core.session.disk import atomic_write
    from psmlab.core.session.file import dumps, new_path, save_target
    from psmlab.core.session.loom import detect_loom, from_loom
    from psmlab.core.session.loom_notes import import_notes

    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{file} does not exist", "give the path of a loom JSON file") from None
    except IsADirectoryError:
        raise UsageError(f"{file} is a folder", "give the path of a loom JSON file") from None
    except RecursionError:
        raise SessionError(
            f"{file} nests its nodes deeper than psmlab's JSON reader can read",
            "save a shallower tree (loom itself cannot save one this deep)",
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionError(
            f"{file} is not a JSON file ({exc})", "give a loom JSON save file"
        ) from None
    if isinstance(doc, dict) and "schema_version" in doc:
        raise UsageError(
            f"{file} is a psmlab session, not a loom tree", f"open it: psmlab open {file}"
        )
    if not isinstance(doc, dict) or not detect_loom(doc):
        raise SessionError(
            f"{file} is not a loom tree (no root node with text and children)",
            "give a JSON file saved by socketteer/loom (other looms' files are not read)",
        )
    # The title a psmlab export wrote into the doc wins over the file's name (its own words).
    own = doc.get("psmlab")
    named = isinstance(own, dict) and isinstance(own.get("title"), str)
    session = from_loom(doc, title=title or (None if named else file.stem))
    # A bare name is a session's name, kept in the sessions directory, as `ask --save` keeps
    # one (it wrote ./NAME with no .json, which `psmlab sessions` does not list).
    target = save_target(out) if out is not None else new_path(session.title)
    if target.exists():
        raise UsageError(f"{target} already exists", "choose another file with -o")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, dumps(session))
    branches = len(session.leaves())
    typer.echo(
        terminal_safe(
            f"imported {len(session.nodes)} turn{'s' * (len(session.nodes) != 1)} in {branches} "
            f"branch{'es' if branches != 1 else ''} into {target}"
        )
    )
    for note in import_notes(session):  # what it guessed or cannot show, not left unsaid
        sys.stderr.write(terminal_safe(f"psmlab: note: {note}") + "\n")
