"""Agreement between label sources: gold files, `psmlab label` output and sessions, compared.

A labeller (marker rules, a judge model) is only as good as its agreement with people. A source is
a JSONL label file (`psmlab label` output, a gold set) or a session: its human annotations (each
annotator apart, or the latest per generation) or its automatic labels. Two fields are compared:
`self_id` (one label per item) and `archetypes`, compared per archetype as present/absent (every
item x archetype pair is one decision; the archetypes are those either source uses). The
statistics themselves are in `kappa`.
"""

from __future__ import annotations

import json
from pathlib import Path

from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.kappa import (
    Agreement,
    compare,
    compare_sets,
)
from psmlab.core.measure.label_files import read_jsonl
from psmlab.core.measure.label_pairing import (
    label_notes,
    left_out,
    same_kind_of_ids,
    same_texts,
    select_split,
)
from psmlab.core.measure.label_values import ARCHETYPES, SELF_ID, Labels, as_set, read_as_self_id
from psmlab.core.measure.session_labels import session_labels
from psmlab.core.session.schema import Session


def no_human_labels(where: str, field_name: str) -> UsageError:
    what = "a self-identification choice" if field_name == SELF_ID else "archetype labels"
    return UsageError(
        f"{where} has no human annotations with {what}",
        "annotate it in the lab (psmlab open SESSION, then l or F4 on a column) and run this again",
    )


RESAMPLES = 2000  # the bootstrap's resamples behind every interval `psmlab agreement` prints


def compare_labels(
    source: Labels,
    reference: Labels,
    field_name: str,
    *,
    split: str | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Agreement:
    """Agreement of two sources over the items both label (the reference is taken as right)."""
    read_notes = (
        read_as_self_id(source, reference) if field_name not in (SELF_ID, ARCHETYPES) else []
    )
    same_kind_of_ids(source, reference)
    common = [k for k in reference.values if k in source.values]
    common, split_note = select_split(source, reference, common, split)
    if not common:
        ids = [
            f"{x.name} has e.g. {', '.join(repr(k) for k in list(x.values)[:2])}"
            for x in (source, reference)
        ]
        raise UsageError(
            f"{source.name} and {reference.name} share no item ({'; '.join(ids)})",
            "label the same items in both (same ids; a session's ids are its generation ids)",
        )
    text_notes = same_texts(source, reference, common)
    a = [source.values[k] for k in common]
    b = [reference.values[k] for k in common]
    if field_name == ARCHETYPES:
        result = compare_sets(
            [as_set(x) for x in a],
            [as_set(x) for x in b],
            source_name=source.name,
            reference_name=reference.name,
            resamples=resamples,
            seed=seed,
        )
    else:
        result = compare(
            [str(x) for x in a],
            [str(x) for x in b],
            source_name=source.name,
            reference_name=reference.name,
            resamples=resamples,
            seed=seed,
        )
    for src in (source, reference):
        if src.human:
            result.blind[src.name] = sum(1 for k in common if k in src.blind)
    # What was left out comes first; the statistics' own notes (kappa undefined, few items) after.
    result.notes = (
        left_out(source, reference, split)
        + read_notes
        + text_notes
        + label_notes(a, b, field_name)
        + result.notes
    )
    if split_note:
        result.notes.insert(0, split_note)
    result.notes[:0] = [
        f"{x.name}: labels by {x.made_by}" for x in (source, reference) if x.made_by
    ]
    return result


def compare_files(
    source: Path,
    reference: Path,
    *,
    field_name: str = SELF_ID,
    key: str = "id",
    seed: int = 0,
    split: str | None = None,
) -> Agreement:
    """Agreement of two JSONL label files over the items both label (the reference is gold)."""
    return compare_labels(
        read_jsonl(source, field_name, key),
        read_jsonl(reference, field_name, key),
        field_name,
        split=split,
        seed=seed,
    )


# --- sessions -----------------------------------------------------------------------------------


def _text(path: Path) -> str | None:
    """The file's text (label files may start with a BOM); None when it cannot be read as text."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


class _Unread:
    """ "Not read yet", apart from None ("read, and not text"): a caller that found the file
    undecodable passes None, and it is not read again."""


_UNREAD = _Unread()


def is_session_file(path: Path, text: str | _Unread | None = _UNREAD) -> bool:
    """A session (one JSON object with generations) rather than JSONL labels, judged by content:
    a session named `.json` that is broken is still a session (its loader says what is wrong).
    `text`: the file's text when the caller has read it already (None: it is not text)."""
    if not path.is_file():
        return path.suffix == ".json"
    text = _text(path) if isinstance(text, _Unread) else text
    if text is None:
        return path.suffix == ".json"
    try:
        doc = json.loads(text)
    except ValueError:
        lines = [x for x in text.split("\n") if x.strip()]  # as jsonl.read_objects splits
        if text.lstrip().startswith("["):
            return False  # a label array with an error (the label reader names its line)
        first = lines[0].strip() if lines else ""
        if first == "{" or '"generations"' in first or '"schema_version"' in first:
            return path.suffix == ".json"  # a session (psmlab writes "{" alone on line 1)
        # An object on the first line: labels, one bad line somewhere (the reader names it).
        return not first.startswith("{") and path.suffix == ".json"
    return isinstance(doc, dict) and ("generations" in doc or "schema_version" in doc)


def is_jsonl(path: Path, text: str | None = None) -> bool:
    """Every non-blank line of the file is JSON (what a label file is)."""
    text = _text(path) if text is None else text
    if text is None:
        return False
    lines = [x for x in text.split("\n") if x.strip()]
    try:
        for x in lines:
            json.loads(x)
    except ValueError:
        return False
    return bool(lines)


def source_kind(path: Path) -> str:
    """What a file given as a label source holds: "session", "labels" (JSONL or a JSON array),
    "json" (one JSON object with nothing of a label line: a session was meant, but it is not
    one), or "neither" (a report, a CSV, a TOML). The file is read once."""
    text = _text(path) if path.is_file() else None
    if is_session_file(path, text):
        return "session"
    if text is None or not is_jsonl(path, text):
        return "neither"
    if path.suffix.lower() == ".json":
        # "{}" named .json read as a one-line label file: a label line has its text, an id or
        # a label.
        try:
            doc = json.loads(text)
        except ValueError:  # several label lines: JSONL named .json, not one document
            return "labels"
        fields = {"id", "text", "self_id", "label", "labels", "archetypes", "key"}
        if isinstance(doc, dict) and not fields & set(doc):
            return "json"
    return "labels"


def load_session(path: Path) -> Session:
    from psmlab.core.session.file import load

    return load(path)


def split_selector(arg: str) -> tuple[Path, str | None]:
    """The file a source names and its label selector: `SESSION.json:NAME` is the file
    `SESSION.json` and `NAME` when no file is called `SESSION.json:NAME` (it may not exist)."""
    from psmlab.core.session.file import resolve_path

    path = resolve_path(arg)
    if not path.exists():
        # The longest part before a ':' that is a file: an annotator's name may hold a ':'
        # ("lab:alice"), which annotate records, so the selector is all that follows the file.
        cuts = [i for i, ch in enumerate(arg) if ch == ":"]
        for i in reversed(cuts):
            if resolve_path(arg[:i]).exists():
                return resolve_path(arg[:i]), arg[i + 1 :]
    return path, None


def lone_selector_error(path: Path, selector: str) -> UsageError:
    """`psmlab agreement SESSION.json:NAME` alone: one label source, and nothing to compare it
    with. The fix names two of the session's own sources, as the user can type them."""
    try:
        names = sorted({a.annotator for a in load_session(path).annotations})
    except PsmlabError:
        names = []  # a broken session says what is wrong once it is compared
    others = [x for x in (*names, "auto") if x != selector]
    # A second annotator when there is one (annotator vs annotator), else the automatic labels.
    other = others[0] if others else "auto"
    return UsageError(
        f"{path}:{selector} is one label source, and one alone has nothing to agree with",
        f"give a second source after it, e.g. {path}:{selector} {path}:{other}, or a reference "
        f"JSONL file; or {path} alone (its automatic labels vs each annotator)",
    )


def open_source(
    arg: str,
    field_name: str,
    key: str = "id",
    column: str | None = None,
    *,
    own_key: bool = False,
    options: tuple[str, str] = ("--key", "--field"),
) -> Labels:
    """A label source named on the command line: a JSONL file, or a session, whose human labels
    (the latest per generation) are taken unless a suffix chooses: `SESSION.json:auto` (its
    automatic labels), `SESSION.json:human`, `SESSION.json:NAME` (one annotator's). A JSONL
    file's ids are in `key` and its labels in `column` (default: `field_name`); `column` or a
    key given for this source alone (`own_key`) is an error for a session, which has its own.
    `options` are the command-line options that name this source's key and label field, for the
    fix an error on its lines gives."""
    path, selector = split_selector(arg)
    if not path.exists():
        raise UsageError(f"label source not found: {arg}", "check the path")
    if not is_session_file(path):
        if selector is not None:
            raise UsageError(
                f"{path} is a JSONL label file, so ':{selector}' means nothing",
                "a suffix (:auto, :human, :NAME) chooses labels in a session only",
            )
        return read_jsonl(path, field_name, key, column=column, options=options)
    if column is not None or own_key:  # silently ignoring them would compare other labels
        what = "--reference-field" if column is not None else "--reference-key"
        raise UsageError(
            f"{what} names a field of a JSONL file, but {path} is a session",
            f"drop {what}: a session's labels and item ids are its own",
        )
    labels = session_labels(load_session(path), field_name, str(path))
    if selector == "auto":
        labels.auto.name = f"{path}:{labels.auto.name}"
        return labels.auto
    if selector in (None, "human"):
        if not labels.people.values and labels.people.disputed:
            raise UsageError(
                f"the annotators of {path} label each of their {len(labels.people.disputed)} "
                f"shared item(s) differently, so there is no agreed '{field_name}' label",
                "compare with one annotator (SESSION.json:NAME)",
            )
        if not labels.people.values:
            raise no_human_labels(str(path), field_name)
        labels.people.name = f"{path}:people"
        return labels.people
    if selector not in labels.annotators:
        have = ", ".join(sorted(labels.annotators)) or "nobody"
        raise UsageError(
            f"{path} has no {field_name} labels by '{selector}' (annotators: {have})",
            "give :auto, :human or one of the annotators after the file name",
        )
    chosen = labels.annotators[selector]
    chosen.name = f"{path}:{selector}"
    return chosen
