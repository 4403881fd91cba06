"""Reading a session file's bytes: JSON, text checks, the claimed version, migrations and the
schema, each failure one clear error that leaves the file untouched; and whether a file holds a
session (so nothing writes over one)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from psmlab.core.domain.tomlfile import first_error
from psmlab.core.errors import NotASessionError, SessionError
from psmlab.core.session.migrations import detect_version, migrate
from psmlab.core.session.schema import SCHEMA_VERSION, Session


def parse(raw: bytes, where: str) -> Session:
    if raw[:4] == b"GGUF":
        # A vector or model given where a session goes (a trial's `trace VECTOR --vector …`)
        # read as a damaged session, with "restore it from a backup".
        raise NotASessionError(
            f"{where} is a GGUF file (a model or a control vector), not a psmlab session",
            "give a session file first (psmlab sessions lists them)",
        )
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
    if version == 0 and replay_report(doc):
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
    if version == SCHEMA_VERSION and (lack := [k for k in ("id", "created") if k not in doc]):
        # Every saved session has both: without them a cut-down file opened with an invented
        # id and dates (an export printed them as the session's) or read as "another session".
        raise SessionError(
            f"session file {where} has no {' or '.join(repr(k) for k in lack)}: it is not a "
            "whole session",
            _FIX_BROKEN,
        )
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
        and not replay_report(doc)
    )


def replay_report(doc: dict[str, Any]) -> bool:
    """`psmlab replay -o`'s report: it lists generations too, but it is no session."""
    return {"total", "identical"} <= set(doc) and "transcript" not in doc


_FIX_BROKEN = "the file was left untouched; restore it from a backup or open another session"
