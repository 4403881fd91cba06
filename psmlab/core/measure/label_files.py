"""Label sources read from JSONL files (a gold set, `psmlab label` output, anyone's own labels).

People bring labels written their own way, so reading is forgiving where the meaning is certain
and strict where it is not: case and surrounding spaces never matter; a self-identification label
takes the codebook's few synonyms ("both" is mixed, "neither" is none) and anything else is a
one-line error, never a new class that would lower kappa without a word. A file without ids is
matched by the order of its lines, and the comparison says so. Lines that are blank, items found
in one source only and null labels are counted, so a comparison can say what it left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from psmlab.core.domain.jsonl import read_objects
from psmlab.core.errors import UsageError
from psmlab.core.measure.label_shapes import ANNOTATOR_FIELDS, FileReading, id_field, lacks
from psmlab.core.measure.label_values import (
    ARCHETYPES,
    SELF_ID,
    Labels,
    archetype_set,
    item_id,
    normalize,
    one_choice,
    persona_names,
)

# The fields of an input row that every labeller's output row carries over, so a label file
# pairs with its input (and with a gold set) by the same keys.
KEPT_FIELDS = ("id", "line", "question", "model")


# Text that says no label: a CSV's empty cell, and pandas' missing values as `astype(str)`
# writes them (never "None": that is a self-id class).
# "null" as text: a converter's JSON null written out (the error asked for null, which the
# person had written). Not "None": in a self-id column that is the class none.
_BLANKS = frozenset({"", "nan", "NaN", "<NA>", "NaT", "null", "NULL"})


def kept_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The input row's identifying fields, to copy onto its output row."""
    return {k: row[k] for k in KEPT_FIELDS if k in row}


def carried_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An input line's own fields that its output row carries as they were (its ids whatever
    their name, e.g. "item"; its split; its provenance), so the output pairs with any other file
    by the user's own key. The text, and labels someone gave it (a person's, another labeller's),
    are not carried: the output's labels are this labeller's alone."""
    return {k: v for k, v in obj.items() if k not in NOT_CARRIED}


def _first_name(rows: list[tuple[int, Any]], person: str) -> str:
    """The first annotator's name as jq reads it: Label Studio's annotators are numbers, and a
    hint that quoted one ("1") selected nothing."""
    names = (
        obj[person] for _, obj in rows if isinstance(obj, dict) and obj.get(person) is not None
    )
    return json.dumps(next(names, "NAME"))


def _a_name(value: object) -> bool:
    """A value that could name a person: a number, or one word (not a message)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and len(value.split()) == 1)


# Prodigy's answers that say the line's label is not the person's reading of the item.
REJECTED = ("reject", "ignore")
# Fields of a `psmlab label` input line that say what the text is or who labelled it: the output
# row is a labeller's reading, so a person's labels (or their name) must not ride along on it.
NOT_CARRIED = frozenset(
    {
        "text",
        "self_id",
        "archetypes",
        "label",
        "labels",
        "method",
        "blind",
        *ANNOTATOR_FIELDS,
        # an exported session's people's and automatic labels
        "annotations",
        "auto_labels",
        # what a labeller wrote (a file labelled before, labelled again by another labeller,
        # would keep a judge's probabilities beside the rules' label)
        "self_id_hits",
        "archetype_hits",
        "archetypes_labeller",
        "labeller",
        "rules",
        "personas",
        "probs",
        "logprobs",
        "judge",
    }
)


def own_line_numbers(objects: list[tuple[int, Any]]) -> bool:
    """Whether every object of a file carries a distinct whole number "line": `psmlab label`'s
    numbering of a file without ids (kept when the file was filtered since), or the file's own.
    A file without ids is paired by these, else by its objects' positions; `label` keeps them
    as they are, so its output pairs with the file it read either way."""
    return _distinct_whole(line_numbers(objects))


def line_numbers(objects: list[tuple[int, Any]]) -> list[int | None]:
    """Each object's "line" as a whole number (None where it has none), worked out once."""
    return [line_number(obj.get("line")) if isinstance(obj, dict) else None for _, obj in objects]


def _distinct_whole(lines: list[int | None]) -> bool:
    whole = all(x is not None for x in lines)
    return bool(lines) and whole and len(set(lines)) == len(lines)


def line_number(value: object) -> int | None:
    """A "line" field as a whole number: 3, 3.0 and "3" are line 3, as they are one id (a
    spreadsheet saved as JSONL writes its numbers as text; read as none, the file was paired
    by position, each row with another item); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    return None


def read_jsonl(
    path: Path,
    field_name: str,
    key: str = "id",
    *,
    column: str | None = None,
    positions: bool | None = None,
    options: tuple[str, str] = ("--key", "--field"),
) -> Labels:
    """Labels from a JSONL file, one object per line: `{key: ..., field_name: ...}`. `archetypes` is
    a list (or a comma-separated string); another list field compares as its sorted, comma-joined
    set. A null label is a missing one. When no line has `key`, an item's id is its position
    among the file's objects (1, 2, …), as `psmlab label` numbers lines without an id (a file
    where only some lines have one is an error; a key other than "id" must be on every line).
    `column` reads the labels from another field
    (e.g. a person's "label"), read as `field_name` labels. Bad lines are one-line errors, whose
    fix names `options`: the command-line options choosing this file's key and label field."""
    kind, field_name = field_name, column or field_name
    rows = list(read_objects(path, "label file"))
    keyed = sum(1 for _, obj in rows if isinstance(obj, dict) and key in obj)
    labelled = sum(1 for _, obj in rows if isinstance(obj, dict) and field_name in obj)
    if positions is None:
        # Only a file without the default "id": a key the user named must be in every line.
        positions = keyed == 0 and key == "id"
    out = Labels(name=str(path), by_position=positions, key=key)
    out.made_by = _made_by(rows, kind)
    if positions:
        out.id_hint = id_field(rows)
    # `psmlab label` numbers a file without ids by position ("line"): kept when the file was
    # filtered since (grep), so its lines still pair with the items they were (a dropped line
    # shifted every later one onto its neighbour's item).
    numbers = line_numbers(rows)
    numbered = positions and _distinct_whole(numbers)
    if numbered:
        out.own_lines = True
        lines = [x or 0 for x in numbers]  # each is one (numbered)
        # Numbers that are the positions (an unfiltered label output) pair as positions do.
        out.by_line = lines != list(range(1, len(lines) + 1))
        out.lines_in_order = lines == sorted(lines)
    if positions:
        # Several people's rows with no ids to tell the items apart: paired by position, each
        # person's rows met the other file's items in turn (agreement 1.00 read as 0.33).
        for person in (*ANNOTATOR_FIELDS, "user"):
            said = [
                obj[person]
                for _, obj in rows
                if isinstance(obj, dict) and obj.get(person) is not None
            ]
            names = {str(x) for x in said}
            # doccano's "user" is a person's number or name; elsewhere "user" may be the user's
            # message (a sentence), which names nobody.
            if person == "user" and not all(_a_name(x) for x in said):
                continue
            if len(names) > 1:
                raise UsageError(
                    f"{path} holds several people's labels (field '{person}': {len(names)} names) "
                    "and no ids to pair them by",
                    f"give one file per {person}, e.g. "
                    f"jq -c 'select(.{person} == {_first_name(rows, person)})' {path.name}",
                )
    reading = FileReading(
        path, kind, field_name, key, positions, options, keyed, labelled, len(rows)
    )
    # Persona display names are read once per file (not once per row: a file of thousands of
    # archetype labels listed and stat'ed every persona file for each).
    display: dict[str, str] | None = None
    for n, (i, obj) in enumerate(rows, 1):
        if not isinstance(obj, dict):
            raise UsageError(
                f"{path} line {i} is {type(obj).__name__}, not a JSON object",
                f'write one object per line, e.g. {{"{key}": "x1", "{field_name}": ...}}',
            )
        # A rejected or skipped line (below) often has no label field at all: not an error.
        rejected = obj.get("answer") in REJECTED
        if (field_name not in obj and not rejected) or (key not in obj and not positions):
            raise lacks(reading, i, obj)
        ident = (str(numbers[n - 1]) if numbered else str(n)) if positions else item_id(obj[key])
        if ident is None:
            raise UsageError(
                f"{path} line {i}: its '{key}' is not a string or number ({json.dumps(obj[key])})",
                f"give every line a '{key}' of its own",
            )
        if ident in out.values or ident in out.missing or ident in out.rejected:
            who = next((f for f in ANNOTATOR_FIELDS if f in obj), None)
            fix = (
                f"the file holds several people's labels (field '{who}'): give one file per "
                f"{who}, e.g. jq -c 'select(.{who} == {_first_name(rows, who)})' {path.name}"
                if who
                else "give each item one line"
            )
            raise UsageError(f"{path} line {i} repeats {key} '{ident}'", fix)
        if rejected:
            # Prodigy's "reject" says the label shown does *not* apply, "ignore" that the person
            # skipped the item: neither is the label on the line.
            out.rejected.add(ident)
            continue
        value = obj[field_name]
        # A blank is no label, as a null is (a CSV's empty cell converts to ""), in an archetypes
        # column too (a reader who stopped, or labelled archetypes only where clear): "none" or
        # [] says no archetype. NaN is what pandas writes for an empty cell.
        # So is pandas' missing value written out as text (`df.astype(str)`: "nan", "<NA>"):
        # compared as a label it became a class of its own in the confusion matrix.
        blank = isinstance(value, str) and value.strip() in _BLANKS
        # An empty list of choices (doccano, Label Studio) is no label, but for archetypes,
        # where [] says the item has none.
        no_choice = value == [] and kind != ARCHETYPES
        if value is None or blank or no_choice or (isinstance(value, float) and math.isnan(value)):
            out.missing.add(ident)
            continue
        if kind == ARCHETYPES:
            try:
                display = persona_names() if display is None else display
                out.values[ident] = archetype_set(value, display)
            except TypeError:
                raise UsageError(
                    f"{path} line {i}: '{field_name}' is neither a list nor a string",
                    'write it as a list, e.g. "archetypes": ["hal-9000"]',
                ) from None
        elif kind == SELF_ID and (one := one_choice(value)) is not value:
            out.values[ident] = normalize(one, kind, f"{path} line {i}", field_name)
        elif isinstance(value, list) and kind == SELF_ID:
            raise UsageError(
                f"{path} line {i}: '{field_name}' is a list; a self-identification label is one "
                "of ai, human, mixed, none",
                "write one label per item (mixed: it claims both)",
            )
        elif isinstance(value, list):
            where = f"{path} line {i}"
            out.values[ident] = ",".join(sorted(normalize(x, "", where) for x in value))
        else:
            out.values[ident] = normalize(value, kind, f"{path} line {i}", field_name)
        if isinstance(obj.get("split"), str):
            out.splits[ident] = obj["split"]
        if isinstance(obj.get("text"), str):
            out.texts[ident] = obj["text"]
    if not rows:
        raise UsageError(f"{path} is empty", "give a file of labels, one JSON object per line")
    if not out.values:
        raise UsageError(f"{path} holds no '{field_name}' labels", "one JSON object per line")
    out.rows = len(rows)
    return out


def _made_by(rows: list[tuple[int, Any]], kind: str) -> str | None:
    """Which labeller (and rules) made the file's labels of `kind`, from the fields `psmlab
    label` writes on every line (a judge's archetypes are the rules': `archetypes_labeller`);
    None for a file that names none (a person's)."""
    field = "archetypes_labeller" if kind == ARCHETYPES else "labeller"
    seen = {
        (str(obj.get(field) or obj["labeller"]), str(obj.get("rules") or ""))
        for _, obj in rows
        if isinstance(obj, dict) and obj.get("labeller")
    }
    if not seen:
        return None
    said = sorted(f"{who}, rules {rules}" if rules else who for who, rules in seen)
    return said[0] if len(said) == 1 else "several labellers: " + "; ".join(said[:3])
