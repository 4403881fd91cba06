"""One JSONL reader for label files: each non-empty line one object (or one JSON array), every failure one line."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psmlab.core.errors import UsageError


def read_objects(path: Path, what: str = "file") -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-empty line (or, for a file that is one JSON
    array, (position, item) for each item); a missing or unreadable file or a line
    that is not JSON is a one-line UsageError naming the file and line. Callers check the shape."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}", "check the path") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}", "check the path") from None
    refuse_utf16(path, raw)
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not content
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"cannot read {what} {path}: it is not UTF-8 ({exc.reason} at byte {exc.start})",
            "give a UTF-8 JSONL file (from Latin-1 or Windows-1252: iconv -f CP1252 -t UTF-8 "
            f"{shlex.quote(path.name)} > {shlex.quote(path.stem + '-utf8' + path.suffix)})",
        ) from None
    # Line ends as a text read gives them (an old Mac's lone CR too); JSON holds no raw CR
    # inside a string, so none is content.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.lstrip().startswith("["):  # one JSON array of objects, as some label files are
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            whole = None  # a JSONL line that is itself a list: read line by line below
            first = text.lstrip().split("\n", 1)[0]
            if not _is_json(first):  # an array over several lines, broken: say where
                comma = _comma(text, exc.pos)
                raise UsageError(
                    f"{path} is a JSON array with an error at line {exc.lineno} ({exc.msg}{comma})",
                    "fix that line" + (" (JSON allows no comma before ] or })" if comma else ""),
                ) from None
        if isinstance(whole, list):
            yield from enumerate(whole, 1)
            return
    # Lines end at "\n" only: str.splitlines() would also split at U+2028 or U+0085, which JSON
    # allows raw inside a string (and `json.dumps(ensure_ascii=False)` writes them so).
    for i, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            yield i, json.loads(line)
        except json.JSONDecodeError as exc:
            _one_object(path, text)
            # A CSV or TSV file (a spreadsheet's export) is the likeliest other shape: say so.
            tabular = path.suffix.lower() in (".csv", ".tsv") or (
                i == 1
                and not line.lstrip().startswith(("{", "["))
                and ("," in line or "\t" in line)
            )
            # A spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would become part
            # of the first column's name ("\ufeffid"); a TSV needs its tab (a trial's
            # conversions by the comma-only hint made one column of every field).
            tab = path.suffix.lower() == ".tsv" or (i == 1 and "\t" in line and "," not in line)
            fix = (
                "psmlab reads JSONL, one JSON object per line: convert the table, e.g. "
                'python -c "import csv,json,sys; [print(json.dumps(r)) for r in csv.DictReader('
                "open(sys.argv[1], encoding='utf-8-sig', newline='')"
                + (", delimiter='\\t'" if tab else "")
                + f')]" {shlex.quote(str(path))} > {shlex.quote(str(path.with_suffix(".jsonl")))}'
                if tabular
                else "one object per line"
            )
            raise UsageError(
                f"{path} line {i} is not JSON ({exc.msg}{_comma(line, exc.pos)})", fix
            ) from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _comma(text: str, pos: int) -> str:
    """A hint when the error sits at a trailing comma, which JSON does not allow and many
    editors and exporters write: before a closing bracket, or at a line's end."""
    before, after = text[:pos].rstrip(), text[pos:].lstrip()
    if before.endswith(",") and after[:1] in ("]", "}", ""):
        return "; a trailing comma?"
    if after.startswith(",") and not after[1:].strip():
        return "; a trailing comma?"
    return ""


def _one_object(path: Path, text: str) -> None:
    """A whole file that is one JSON object spread over lines (a session, a pretty-printed
    object) is named as that, not as "line 1 is not JSON"."""
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        return
    if not isinstance(whole, dict):
        return
    if "generations" in whole and ("nodes" in whole or "turns" in whole):
        raise UsageError(
            f"{path} is a psmlab session, not JSONL",
            f"`psmlab export {path} -f jsonl -o FILE.jsonl` writes its generations one per line",
        )
    raise UsageError(
        f"{path} is one JSON object over several lines, not JSONL",
        "write one object per line (e.g. jq -c . FILE > FILE.jsonl)",
    )


def refuse_utf16(path: Path, raw: bytes) -> None:
    """A UTF-16 file (PowerShell's `>` writes one) read as UTF-8 fails on every line with no
    word of why: say which encoding it is, and how to convert it, once. JSON in UTF-8 never
    holds a NUL byte, so NULs between the first characters mean UTF-16."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        len(raw) >= 4 and b"\0\0" in (raw[1:4:2], raw[0:3:2])
    ):
        raise UsageError(
            f"{path} is UTF-16 (as Windows PowerShell's > writes it), not UTF-8",
            f"convert it: iconv -f UTF-16 -t UTF-8 {shlex.quote(path.name)} > "
            f"{shlex.quote(path.stem + '-utf8' + path.suffix)}",
        )
