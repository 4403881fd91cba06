"""Session files: where they live, loading them (the bytes are read by `parse`), writing and opening one.

Saves are atomic and one process writes a session at a time (see `disk`). A file that cannot be
read is reported and never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psmlab.core import paths
from psmlab.core.errors import NotASessionError, SessionError, UsageError
from psmlab.core.session.disk import (
    acquire_lock,
    atomic_write,
    clear_stale_temps,
    refuse_read_only,
    release_lock,
)
from psmlab.core.session.parse import parse
from psmlab.core.session.relabel import relabel_stale
from psmlab.core.session.schema import Session

sessions_dir = paths.sessions_dir


def resolve_path(name: str | Path) -> Path:
    """A path as given, or a bare name looked up in the sessions directory."""
    p = Path(name).expanduser()
    if p.exists() or p.parent != Path("."):
        return p
    cand = sessions_dir() / (p.name if p.suffix == ".json" else p.name + ".json")
    return cand if cand.exists() else p


def not_found(p: Path) -> SessionError:
    """The error for a session that is not there, naming the saved ones its name may mean:
    the lab saves "who-made-you" as sessions/20261207-143821-who-made-you.json, and a trial's
    `psmlab open who-made-you` was told only "not found"."""
    fix = "check the path (psmlab sessions lists them)"
    if p.parent == Path("."):
        stem = p.stem.lower() if p.suffix == ".json" else p.name.lower()
        d = sessions_dir()
        near = sorted(d.glob("*.json"), reverse=True) if stem and d.is_dir() else []
        near = [x for x in near if stem in x.stem.lower()][:3]
        if near:
            fix = "did you mean " + " or ".join(str(_short(x)) for x in near) + "?"
    return SessionError(f"session file not found: {p}", fix)


def _short(p: Path) -> Path:
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def save_target(name: str | Path) -> Path:
    """Where a session named to be saved goes: a bare name without `.json` ("marta") is a
    session's name, kept in the sessions directory as NAME.json (where `psmlab sessions` lists
    it and `psmlab open NAME` finds it); a file name or a path is the file itself. An existing
    file of that name (with or without `.json`) is that file, found where every command that
    reads a session finds it: "s1.json" in the sessions directory too (a new ./s1.json began
    beside it, and from then on shadowed it)."""
    p = Path(name).expanduser()
    if p.is_dir():
        # "adir" beside a folder of that name was written as ./adir.json, where no command
        # that takes a session's name looks (a trial); "adir/" said "adir.json exists".
        raise UsageError(
            f"{p} is a folder, not a session file",
            f"name a file in it ({p / 'my-run.json'}) or a session ({sessions_dir() / p.name}.json)",
        )
    if p.exists():
        return p
    if p.parent != Path("."):
        missing_folder(p, "save in")
        return p
    found = resolve_path(p)  # an existing session of that name
    if found.exists():
        return found
    return p if p.suffix.lower() == ".json" else sessions_dir() / (p.name + ".json")


def new_path(title: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "session"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return sessions_dir() / f"{stamp}-{slug}.json"


# --- reading ------------------------------------------------------------------------------------


def load(path: str | Path) -> Session:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise not_found(p) from None
    except IsADirectoryError:
        raise SessionError(f"{p} is a directory, not a session file", "pass a .json file") from None
    except OSError as exc:
        raise SessionError(
            f"cannot read session file {p}: {exc.strerror}", "check its permissions"
        ) from None
    session = parse(raw, str(p))
    # Labels are read from the text: ones made by other rules are read again as a run today
    # would (`session.relabelled` says how many; saving keeps them).
    relabel_stale(session)
    return session


# --- writing ------------------------------------------------------------------------------------


def dumps(session: Session) -> bytes:
    data = session.model_dump(mode="json")
    if not data.get("blind"):
        # Written only when on: a session that was never blind still opens in a psmlab from
        # before the field (schema 2 refuses keys it does not know).
        data.pop("blind", None)
    if data.get("seed") is None:  # likewise: only a seed fixed in the lab (F3)
        data.pop("seed", None)
    if data.get("imported") is None:  # likewise: only sessions opened from `ask --json` output
        data.pop("imported", None)
    for node in data.get("nodes", ()):
        # Likewise: only turns a person edited, only continuations given text to continue.
        for key in ("edited_from", "given", "continued"):
            if node.get(key) is None:
                node.pop(key, None)
    for m in data.get("models", ()):
        if m.get("params") is None:  # likewise: only settings changed since the last run
            m.pop("params", None)
    for rec in data.get("auto_labels", ()):
        if rec.get("judge") is None:  # likewise: written only for a judge's labels
            rec.pop("judge", None)
        if rec.get("rules") is None:  # likewise: only labels of recorded rules
            rec.pop("rules", None)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A command-line argument that was not UTF-8 (`--note $'\\xff'`) reaches here as a lone
        # surrogate, which no file can hold: written as U+FFFD, not an internal error after
        # the work was done.
        return _SURROGATE.sub("\ufffd", text).encode()


_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, only ever unpaired


@dataclass
class SessionFile:
    """A session opened for writing: holds the lock until closed."""

    path: Path
    session: Session
    _lock_fd: int

    def save(self) -> None:
        self.session.touch()
        atomic_write(self.path, dumps(self.session), session=True)

    def close(self) -> None:
        if self._lock_fd >= 0:
            release_lock(self.path, self._lock_fd)
            self._lock_fd = -1


@contextlib.contextmanager
def open_session(
    path: str | Path, *, create: Session | None = None, wait_s: float = 10.0
) -> Iterator[SessionFile]:
    """Lock, then load (or start `create` if the file does not exist); unlock on exit."""
    p = Path(path)
    refuse_read_only(p)  # before anything runs: an answer made for it would be lost
    fd = acquire_lock(p, wait_s)
    sf = SessionFile(p, Session(), fd)
    clear_stale_temps(p)  # holding the lock, any is a killed writer's leftover
    try:
        if p.exists():
            sf.session = load(p)
        elif create is not None:
            sf.session = create
        else:
            raise not_found(p)
        yield sf
    finally:
        sf.close()


def save_new(session: Session, path: str | Path) -> Path:
    """Write a session to a path that must not hold anything else."""
    p = Path(path)
    with open_session(p, create=session) as sf:
        if sf.session is not session:
            raise SessionError(f"{p} already holds a session", "choose another path")
        sf.save()
    return p


def list_sessions(directory: Path | None = None) -> list[tuple[Path, Session | None, str | None]]:
    """Every session among the directory's `*.json`: (path, session, None), or (path, None,
    error) for one that cannot be read. Other JSON files (a probe's output) are not listed."""
    d = directory or sessions_dir()
    out: list[tuple[Path, Session | None, str | None]] = []
    if not d.is_dir():
        return out
    for p in sorted(d.glob("*.json")):
        try:
            out.append((p, load(p), None))
        except NotASessionError:
            continue
        except SessionError as exc:
            out.append((p, None, exc.one_line()))
    return out


def summary(session: Session) -> dict[str, Any]:
    return {
        "title": session.title,
        "created": session.created,
        "updated": session.updated,
        "models": [m.id for m in session.models],
        "turns": len(session.turns),  # on the current branch
        "tree_turns": len(session.nodes),
        "branches": len(session.leaves()),
        "generations": len(session.generations),
        "annotations": len(session.annotations),
    }


def missing_folder(path: Path, doing: str) -> None:
    """Refuse a file in a folder that does not exist (the sessions directory excepted, made on
    first use): a mistyped /nonexistent/dir/x.md was made, folders and all, and written
    with exit 0 (a trial's)."""
    folder = path.expanduser().parent
    if folder.exists() or folder.resolve() == sessions_dir().resolve():
        return
    raise UsageError(
        f"the folder {folder} does not exist",
        f"create it first (mkdir -p {folder}) or {doing} a folder that exists",
    )
