"""What "matching" means for a model-written-evaluation file (its polarity): the first entry of
the user's table, then the shipped one, that matches the file's name, form and first question."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

from psmlab.core import paths
from psmlab.core.errors import UsageError
from psmlab.core.measure.evals_io import file_form, load_jsonl

POLARITY_UNKNOWN = (
    "polarity unknown: read the file, then say it in evals-polarity.toml beside the config"
)


def _shipped_polarity() -> Path:
    return Path(str(resources.files("psmlab.resources").joinpath("evals", "polarity.toml")))


def user_polarity_file() -> Path:
    """The user's additions to the polarity table, next to the config file (read first)."""
    return paths.config_dir() / "evals-polarity.toml"


def _entries(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    fix = f'write entries as [[file]] pattern = "NAME*" matching = "..." in {path}'
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark too
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"polarity table {path} is not valid TOML ({exc})", fix) from None
    out = []
    for e in data.get("file", []):
        if not (
            isinstance(e, dict)
            and isinstance(e.get("pattern"), str)
            and (isinstance(e.get("matching"), str) or isinstance(e.get("unknown"), str))
            and isinstance(e.get("unknown", ""), str)
            and e.get("form", "any") in ("any", "jsonl", "array")
            and isinstance(e.get("first", ""), str)
            and isinstance(e.get("first_matching", ""), str)
        ):
            raise UsageError(f"polarity table {path}: bad entry {e!r}", fix)
        out.append(e)
    return out


def _first_item(path: Path, raw: bytes | None = None) -> tuple[str, str]:
    """The file's first item's question and matching answer ("" when it has none): published
    files that share a name are told apart by the question, and a copy whose answers were
    swapped by the answer."""
    try:
        items, _ = load_jsonl(path, limit=1, raw=raw)
    except UsageError:
        return "", ""
    return (items[0].question, items[0].matching) if items else ("", "")


def polarity(path: Path, raw: bytes | None = None) -> str:
    """What "matching" means for this file, e.g. "matching = resists shutdown": the first entry
    of the user's table, then the shipped one, whose pattern matches the file's name or path
    (and whose `form`, `first`, the start of the first item's question, and `first_matching`,
    its matching answer, if given, match the file's: a copy with that item's answers swapped
    kept the table's polarity, unsaid). An entry with `unknown` instead of `matching` says why the file cannot be told.
    `raw`: the file's bytes, read already (a pipe cannot be read twice)."""
    form = file_form(path, raw)
    first: tuple[str, str] | None = None  # read only when an entry asks
    name, full = path.name, path.as_posix()
    stem = name.split(".")[0]
    for e in _entries(user_polarity_file()) + _entries(_shipped_polarity()):
        pat = e["pattern"]
        if not (fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(full, pat)):
            continue
        if e.get("form", "any") not in ("any", form):
            continue
        if e.get("first") or e.get("first_matching"):
            first = _first_item(path, raw) if first is None else first
            if not first[0].lstrip().startswith(e.get("first", "")):
                continue
            # " (A)", "(A)" and "A" are one answer (as the items are read).
            want = e.get("first_matching", "").strip(" ()")
            if want and first[1].strip(" ()") != want:
                continue
        if "unknown" in e:
            return "polarity unknown: " + e["unknown"]
        return "matching = " + e["matching"].replace("{name}", stem.replace("-", " "))
    # No name fits: a copy renamed (a trial's surv5.jsonl, the first five lines of
    # survival-instinct.jsonl) is known by its first item where an entry gives one, the
    # matching answer included (a copy with it swapped is not guessed).
    first = _first_item(path, raw) if first is None else first
    for e in _entries(user_polarity_file()) + _entries(_shipped_polarity()):
        # The entries for a file on its own (no folder in the pattern): a folder's entries
        # speak of a copy found in the wrong folder.
        if not e.get("first") or not e.get("first_matching") or "unknown" in e:
            continue
        if "/" in e["pattern"]:
            continue
        if not first[0].lstrip().startswith(e["first"]):
            continue
        if first[1].strip(" ()") != e["first_matching"].strip(" ()"):
            continue
        return (
            "matching = "
            + e["matching"].replace("{name}", stem.replace("-", " "))
            + f"; no entry names {name}: known by its first item"
        )
    return POLARITY_UNKNOWN


def polarity_hint(path: Path) -> str:
    """Where and what to write for a file of unknown polarity (a user must find both). Said
    beside the output, never recorded: the polarity is part of each unit's settings, and a
    path of this machine's config would make every row "changed" on another one."""
    return (
        f"say what matching means for {path.name} in {user_polarity_file()}: [[file]] "
        f'pattern = "{path.name}", matching = "..."'
    )
