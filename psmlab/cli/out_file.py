"""Where `export` and `replay` write (-o): what they refuse to write over, and how they write."""

from __future__ import annotations

from pathlib import Path

from psmlab.core.errors import UsageError


def check_out(out: Path, doing: str, suffix: str) -> None:
    """Refuse an `-o` that would lose something (a session, the one read or another, replaced
    by an export or a report), name a folder, or lie under a file."""
    from psmlab.core.session.parse import holds_session

    if out.is_dir():
        raise UsageError(
            f"-o {out} is a folder", f"name a file in it, e.g. -o {out / ('out' + suffix)}"
        )
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UsageError(
            f"-o {out}: {parent} is a file, not a folder", "give -o a path in a folder"
        )
    from psmlab.core.session.file import missing_folder

    try:
        missing_folder(out, "give -o a path in")
    except UsageError as exc:
        raise UsageError(f"-o {out}: {exc.problem}", exc.fix) from None
    if holds_session(out):
        raise UsageError(
            f"-o {out} is a psmlab session: {doing} over it would replace the session",
            f"give -o a new file name, e.g. -o {out.with_suffix(suffix)}"
            if out.suffix != suffix
            else "give -o a new file name",
        )
    if _foreign(out, suffix):
        # An eval file replaced by markdown, exit 0 (a trial's): what this command wrote
        # before (the same kind of file) is written over; anything else is not.
        raise UsageError(
            f"-o {out} exists and is not {_KINDS.get(suffix, 'a ' + suffix + ' file')} psmlab "
            f"wrote: {doing} over it would replace it",
            "give -o a new file name, or remove the file first",
        )


_KINDS = {
    ".md": "a markdown export",
    ".csv": "a csv export",
    ".jsonl": "a jsonl export",
    ".loom": "a loom tree",
    ".json": "a replay report",
}


def _foreign(out: Path, suffix: str) -> bool:
    """An existing, non-empty regular file that is not of the kind about to be written: another
    suffix (a loom tree may be .json), or a file of that suffix psmlab did not write (told by
    what it holds: an eval file is a .jsonl too, and a trial's was replaced by an export)."""
    import json

    from psmlab.core.session.loom import detect_loom
    from psmlab.core.session.parse import replay_report

    if out.is_symlink() or not out.is_file() or out.stat().st_size == 0:
        return False
    ok = (".json", ".loom") if suffix == ".loom" else (suffix,)
    # A name with no suffix (-o report) is told by what it holds, where that can be read.
    if out.suffix and out.suffix.lower() not in ok:
        return True
    if suffix not in (".json", ".loom"):
        return not _an_export(out, suffix)
    try:
        doc = json.loads(out.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True
    if not isinstance(doc, dict):
        return True
    return not (detect_loom(doc) if suffix == ".loom" else replay_report(doc))


def _an_export(out: Path, suffix: str) -> bool:
    """`out` holds an export of the kind `suffix` names (markdown, csv or jsonl), as the
    export module tells its own files."""
    from psmlab.core.session.export import is_export

    try:
        with out.open("rb") as f:
            # The first line whole: one generation's row (a long answer with its token
            # probabilities) runs past any fixed read, and a cut one is no JSON.
            first = f.readline(1 << 26) if suffix == ".jsonl" else f.read(1 << 16)
    except OSError:
        return False
    return is_export(first.decode("utf-8-sig", errors="replace"), suffix.lstrip("."))


def write_out(out: Path, data: bytes) -> None:
    """A regular file (or a new one) is replaced atomically; a symlink (/dev/stdout, also when
    it leads to a redirected file), a device or a pipe someone named is written through, never
    replaced by a file of its own."""
    from psmlab.core.session.disk import atomic_write

    if out.is_symlink() or (out.exists() and not out.is_file()):
        try:
            with out.open("wb") as f:
                f.write(data)
        except OSError as exc:
            raise UsageError(
                f"cannot write -o {out}: {exc.strerror}", "give -o another file"
            ) from None
    else:
        atomic_write(out, data)


def check_folder(folder: Path, named: Path | None = None) -> None:
    """Make the folder a long run writes into, and write a file there, before the run: a folder
    that cannot be made or written (a trial's /proc/v9) failed as an internal error after
    every generation ran."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        there = "there" if named is None else f"in {folder}"
        raise UsageError(
            f"-o {named or folder}: cannot write {there} ({e.strerror or e})",
            "pass -o a folder you can write to",
        ) from None
