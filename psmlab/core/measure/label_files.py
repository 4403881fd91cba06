"""Label sources read from JSONL files (a gold set, `psmlab label` output, anyone's own labels).

People bring labels written their own way, so reading is forgiving where the meaning is certain
and strict where it is not: case and surrounding spaces never matter; a self-identification label
takes the codebook's few synonyms ("both" is mixed, "neither" is none) and anything else is a
one-line error, never a new class that would lower kappa without a word. A file without ids is
matched by the order of its lines, and the comparison says so. Lines that are blank, items found
in one source only and null labels are counted, so a comparison can say what it left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from psmlab.core.domain.jsonl import read_objects
from psmlab.core.domain.selfid import SELF_IDS
from psmlab.core.errors import UsageError

SELF_ID = "self_id"
ARCHETYPES = "archetypes"
# Automatic labels that are not archetypes: no marker fired, how the turn ended, no label.
NOT_ARCHETYPES = frozenset({"unclear", "role_leak", "none", ""})
# Words people write for the codebook's classes (after case-folding); nothing else is guessed.
SELF_ID_SYNONYMS = {
    "both": "mixed",
    "ai and human": "mixed",
    "neither": "none",
    "no claim": "none",
    "no-claim": "none",
    "nothing": "none",
}

Value = str | frozenset[str]


@dataclass
class Labels:
    """One label source: item id -> label (a frozenset for archetypes); which items a person
    labelled blind; and, for a JSONL file, each item's `split` (gold sets: dev, test), the items
    it left unlabelled (null) and whether its ids are line positions (a file without ids)."""

    name: str
    values: dict[str, Value] = field(default_factory=dict)
    blind: set[str] = field(default_factory=set)
    human: bool = False
    splits: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    by_position: bool = False


def archetype_set(value: object) -> frozenset[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise TypeError
    return frozenset(str(x).strip().casefold() for x in items) - NOT_ARCHETYPES


def normalize(value: object, field_name: str, where: str) -> str:
    """One scalar label as compared: case-folded, trimmed; a self-id label checked and mapped."""
    # JSON true and "True" are one label; numbers keep their JSON spelling.
    text = (str(value).lower() if isinstance(value, bool) else str(value)).strip().casefold()
    if field_name != SELF_ID:
        return text
    text = SELF_ID_SYNONYMS.get(" ".join(text.split()), text)
    if text not in SELF_IDS:
        raise UsageError(
            f"{where}: self_id {str(value)!r} is not one of {', '.join(SELF_IDS)} "
            f"(also read: both = mixed, neither = none)",
            "write one of them, or null for an item nobody labelled",
        )
    return text


def read_jsonl(
    path: Path,
    field_name: str,
    key: str = "id",
    *,
    column: str | None = None,
    positions: bool | None = None,
) -> Labels:
    """Labels from a JSONL file, one object per line: `{key: ..., field_name: ...}`. `archetypes` is
    a list (or a comma-separated string); another list field compares as its sorted, comma-joined
    set. A null label is a missing one. When no line has `key`, an item's id is its position
    among the file's objects (1, 2, …), as `psmlab label` numbers lines without an id (a file
    where only some lines have one is an error; a key other than "id" must be on every line).
    `column` reads the labels from another field
    (e.g. a person's "label"), read as `field_name` labels. Bad lines are one-line errors."""
    kind, field_name = field_name, column or field_name
    rows = list(read_objects(path, "label file"))
    keyed = sum(1 for _, obj in rows if isinstance(obj, dict) and key in obj)
    if positions is None:
        # Only a file without the default "id": a key the user named must be in every line.
        positions = keyed == 0 and key == "id"
    out = Labels(name=str(path), by_position=positions)
    for n, (i, obj) in enumerate(rows, 1):
        if not isinstance(obj, dict) or field_name not in obj or (key not in obj and not positions):
            what = f"'{field_name}'" if positions else f"'{key}' or '{field_name}'"
            raise UsageError(
                f"{path} line {i} lacks {what}",
                f"give each line a '{field_name}' and either every line an '{key}' or none "
                "(then lines match by position); choose the fields with --key/--field",
            )
        ident = str(n) if positions else str(obj[key])
        if ident in out.values or ident in out.missing:
            raise UsageError(f"{path} line {i} repeats {key} '{ident}'", "give each item one line")
        value = obj[field_name]
        if value is None:
            out.missing.add(ident)
            continue
        if kind == ARCHETYPES:
            try:
                out.values[ident] = archetype_set(value)
            except TypeError:
                raise UsageError(
                    f"{path} line {i}: '{field_name}' is neither a list nor a string",
                    'write it as a list, e.g. "archetypes": ["hal-9000"]',
                ) from None
        elif isinstance(value, list):
            where = f"{path} line {i}"
            out.values[ident] = ",".join(sorted(normalize(x, "", where) for x in value))
        else:
            out.values[ident] = normalize(value, kind, f"{path} line {i}")
        if isinstance(obj.get("split"), str):
            out.splits[ident] = obj["split"]
    if not out.values:
        raise UsageError(f"{path} holds no '{field_name}' labels", "one JSON object per line")
    return out


def left_out(source: Labels, reference: Labels, split: str | None = None) -> list[str]:
    """What a comparison of the two sources leaves out, in words (empty when nothing is)."""
    splits = {**source.splits, **reference.splits}

    def kept(k: str) -> bool:
        return split is None or splits.get(k) == split

    notes = []
    for a, b in ((source, reference), (reference, source)):
        only = [k for k in a.values if kept(k) and k not in b.values and k not in b.missing]
        if only:
            notes.append(f"{len(only)} item(s) labelled only in {a.name} were left out")
        if a.missing and (gone := [k for k in a.missing if kept(k) and k in b.values]):
            notes.append(f"{len(gone)} item(s) with no label (null) in {a.name} were left out")
    if source.by_position or reference.by_position:
        which = " and ".join(s.name for s in (source, reference) if s.by_position)
        notes.append(f"{which} has no ids: items were matched by their position in the file")
    return notes
