"""Session files: where they live, reading them (migrations, clear errors), writing and opening one.

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

from pydantic import ValidationError

from psmlab.core import paths
from psmlab.core.domain.tomlfile import first_error
from psmlab.core.errors import NotASessionError, SessionError
from psmlab.core.session.disk import (
    acquire_lock,
    atomic_write,
    clear_stale_temps,
    refuse_read_only,
    release_lock,
)
from psmlab.core.session.migrations import detect_version, migrate
from psmlab.core.session.relabel import relabel_stale
from psmlab.core.session.schema import SCHEMA_VERSION, Session

sessions_dir = paths.sessions_dir


def resolve_path(name: str | Path) -> Path:
    """A path as given, or a bare name looked up in the sessions directory."""
    p = Path(name).expanduser()
    if p.exists() or p.parent != Path("."):
        return p
    cand = sessions_dir() / (p.name if p.suffix == ".json" else p.name + ".json")
    return cand if cand.exists() else p


def save_target(name: str | Path) -> Path:
    """Where a session named to be saved goes: a bare name without `.json` ("marta") is a
    session's name, kept in the sessions directory as NAME.json (where `psmlab sessions` lists
    it and `psmlab open NAME` finds it); a file name or a path is the file itself. An existing
    file of that name (with or without `.json`) is that file, found where every command that
    reads a session finds it: "s1.json" in the sessions directory too (a new ./s1.json began
    beside it, and from then on shadowed it)."""
    p = Path(name).expanduser()
    if p.exists() or p.parent != Path("."):
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


def parse(raw: bytes, where: str) -> Session:
    try:
        # utf-8-sig: an editor may save the file with a byte-order mark (written back without).
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SessionError(
            f"session file {where} is not UTF-8 (byte {exc.start})", _FIX_BROKEN
        ) from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and not _session_like(raw):
            # One JSON value after another, none a session: JSONL, say, not a damaged session
            # (a session with junk after it, as a crash can leave, is reported as damaged).
            raise NotASessionError(
                f"{where} holds several JSON values (JSONL?), not a psmlab session",
                "give a session file (psmlab sessions lists them)",
            ) from None
        # (An empty file or one of NUL bytes, as a crash can leave, is a damaged session.)
        start = raw.decode("utf-8-sig", "replace").strip("\x00 \t\r\n\ufeff")
        keys = (b'"schema_version"', b'"generations"', b'"turns"')
        # ... and a session's own keys anywhere (conflict markers, a zeroed first block) make
        # it a damaged session still.
        if start and not start.startswith(("{", "[")) and not any(k in raw for k in keys):
            # Not JSON from its first character (a TOML, a CSV, a report): another kind of
            # file, not a damaged session; "restore it from a backup" would alarm for nothing.
            raise NotASessionError(
                f"{where} is not a psmlab session (not JSON)",
                "give a session file (psmlab sessions lists them; an experiment's samples "
                "become one with psmlab experiment-annotate)",
            ) from None
        raise SessionError(
            f"session file {where} is not valid JSON (line {exc.lineno}: {exc.msg}); "
            "it may be truncated",
            _FIX_BROKEN,
        ) from None
    if not isinstance(doc, dict):
        raise SessionError(f"session file {where} does not hold a JSON object", _FIX_BROKEN)
    version = detect_version(doc)
    if version < 0 and "root" in doc:
        from psmlab.core.session.loom import detect_loom

        if detect_loom(doc):
            # Another kind of file, not a damaged session: `psmlab sessions` leaves it out.
            raise NotASessionError(
                f"{where} is a loom tree, not a psmlab session",
                f"convert it first: psmlab import {where}",
            )
    if version == 0 and _replay_report(doc):
        # `psmlab replay -o`'s report lists generations too: another kind of file, not a
        # damaged session (`psmlab sessions` leaves it out).
        raise NotASessionError(
            f"{where} is a replay report, not a psmlab session",
            "open the session it replayed (psmlab sessions lists them)",
        )
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"session file {where} has schema version {version}, newer than this psmlab reads "
            f"({SCHEMA_VERSION})",
            "upgrade psmlab to open it",
        )
    if version < 0 and "schema_version" not in doc and "turns" not in doc:
        raise NotASessionError(
            f"{where} holds JSON but not a psmlab session (no schema_version or turns)",
            "give a session file (psmlab sessions lists them)",
        )
    if version < 0:
        raise SessionError(f"session file {where} has no valid schema_version", _FIX_BROKEN)
    _check_claimed_version(doc, version, where)
    if _SURROGATE_ESCAPE.search(raw):  # the walk only where an escape could make one
        _check_text(doc, where)
    try:
        doc = migrate(doc, SCHEMA_VERSION)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A malformed older file: the migration's assumptions fail before validation would.
        raise SessionError(
            f"session file {where} (schema version {version}) could not be upgraded: "
            f"{type(exc).__name__}: {exc}",
            _FIX_BROKEN,
        ) from None
    try:
        return Session.model_validate(doc)
    except ValidationError as exc:
        loc, msg = first_error(exc)
        if exc.errors()[0]["type"] == "extra_forbidden":
            # A field this psmlab does not know: added by hand, or written by a newer psmlab.
            fix = (
                f"the file was left untouched; remove {loc} from it (a newer psmlab may have "
                "written it: then upgrade psmlab)"
            )
        else:
            fix = f"the file was left untouched; correct {loc or 'it'} or open another session"
        if version < SCHEMA_VERSION:
            # The place is in the upgraded document: a version-1 file has `turns`, not `nodes`.
            fix = (
                f"the file was left untouched; correct the field of this version-{version} file "
                f"that {loc or 'it'} is made from"
                + (" (a turn is under turns)" if version == 1 else " (turns are its transcript)")
                + ", or open another session"
            )
            loc = f"{loc or '(top level)'} (as upgraded from version {version})"
        raise SessionError(f"session file {where}: {loc or '(top level)'}: {msg}", fix) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise SessionError(
            f"session file {where} could not be migrated: {exc!r}", _FIX_BROKEN
        ) from None


def _check_claimed_version(doc: dict[str, Any], version: int, where: str) -> None:
    """A document whose keys are another version's than the one it claims (a schema_version
    deleted or changed by hand): refused. Upgraded as the version it claims, a version-2 tree
    read as an `ask --json` report (0) lost its turns, and read as version 1 they were gone."""
    has = "a version-2 tree (nodes)" if "nodes" in doc else None
    if has is None and version == 0 and "turns" in doc and "transcript" not in doc:
        has, want = "version-1 turns", 1
    else:
        want = 2
    if has and version < want:
        claim = (
            "no schema_version"
            if "schema_version" not in doc
            else f"schema_version {json.dumps(doc['schema_version'])}"
        )
        raise SessionError(
            f"session file {where} holds {has} but says {claim}",
            f'the file was left untouched; set "schema_version": {want} in it',
        )


def _loc(path: tuple[Any, ...]) -> str:
    # Printable even when a key holds the surrogate (the message itself crashed the printer).
    text = ".".join(map(str, path)) or "(top level)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _lone_surrogate(value: Any, path: tuple[Any, ...] = ()) -> str | None:
    """Where the document holds a string with an unpaired surrogate (JSON's "\\ud800"
    escape allows one; no UTF-8 file can hold it, so every save would fail)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _loc(path)
        return None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for k, v in items:
        if isinstance(k, str) and _lone_surrogate(k, path) is not None:
            return _loc((*path, k))
        found = _lone_surrogate(v, (*path, k))
        if found is not None:
            return found
    return None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_text(doc: dict[str, Any], where: str) -> None:
    """A string no UTF-8 file can hold is refused when read, not at the first save (where an
    answer just made was lost with an internal error)."""
    loc = _lone_surrogate(doc)
    if loc is not None:
        raise SessionError(
            f"session file {where}: {loc} holds an unpaired surrogate (a \\ud800-\\udfff "
            "escape), which is not text",
            f"the file was left untouched; remove that escape from {loc} (or write \\ufffd)",
        )


def _session_like(raw: bytes) -> bool:
    """Whether the file's first JSON value looks like a session (its own keys)."""
    try:
        first, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8-sig").lstrip())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(first, dict) and bool({"schema_version", "turns", "generations"} & set(first))


def holds_session(path: Path) -> bool:
    """Whether `path` is an existing file that holds a session, whole or damaged (writing over
    it would lose one): a JSON object with `schema_version`, or text that opens like one (a
    session cut off mid-write is still one to restore). Other JSON (a replay report, which has
    `generations` too) is not."""
    try:
        if not path.is_file():
            return False
        raw = path.read_bytes()
    except OSError:
        return False
    head = raw[:4096].decode("utf-8-sig", errors="replace").lstrip()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return head.startswith("{") and '"schema_version"' in head
    if not isinstance(doc, dict):
        return False
    if "schema_version" in doc:
        return True
    # `ask --json` output opens as a session (version 0), so it is one to keep too; a replay
    # report, which lists generations as well, is not.
    return (
        detect_version(doc) == 0
        and isinstance(doc.get("generations"), list)
        and ("transcript" in doc or "models" in doc)
        and not _replay_report(doc)
    )


def _replay_report(doc: dict[str, Any]) -> bool:
    """`psmlab replay -o`'s report: it lists generations too, but it is no session."""
    return {"total", "identical"} <= set(doc) and "transcript" not in doc


_FIX_BROKEN = "the file was left untouched; restore it from a backup or open another session"


def load(path: str | Path) -> Session:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise SessionError(
            f"session file not found: {p}", "check the path (psmlab sessions lists them)"
        ) from None
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
            raise SessionError(
                f"session file not found: {p}", "check the path (psmlab sessions lists them)"
            )
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
