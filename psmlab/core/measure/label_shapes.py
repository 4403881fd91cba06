"""What a label file that cannot be read is, said so its maker can fix it: the field it lacks,
the fields that likely hold its ids and labels, or the labelling tool whose export it is (Label
Studio, doccano, Prodigy, a whole-file {id: label} map) with the jq that flattens it to one
object per item."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psmlab.core.errors import UsageError
from psmlab.core.measure.label_values import ARCHETYPES, SELF_ID, normalize, one_choice

# Field names people give item ids; only used to suggest a --key in an error's fix.
ID_NAMES = ("id", "key", "uid", "item", "item_id", "generation_id", "gid", "_id")


def id_field(rows: list[tuple[int, Any]]) -> str | None:
    """A field on every line whose name reads as an id in any case or spelling ("ID",
    "Item ID", "itemId"), e.g. a spreadsheet's column: likely the ids the file was meant to
    be paired by. Else one in every line's "meta" (Prodigy's), as "meta.NAME"."""
    objs = [obj for _, obj in rows if isinstance(obj, dict)]
    if not objs or len(objs) != len(rows):
        return None
    names = {re.sub(r"[\s_-]+", "", x) for x in ID_NAMES}
    top = next(
        (k for k in objs[0] if re.sub(r"[\s_-]+", "", k.casefold()) in names
         and all(k in o for o in objs)),
        None,
    )  # fmt: skip
    if top is not None or not all(isinstance(o.get("meta"), dict) for o in objs):
        return top
    inner = next((k for k in ID_NAMES if all(k in o["meta"] for o in objs)), None)
    return None if inner is None else f"meta.{inner}"


def label_like(value: object, kind: str) -> bool:
    """Whether a value could be a `kind` label: a fix suggests only fields that could be."""
    if kind == ARCHETYPES:
        return isinstance(value, list)  # any text could be a comma-separated list: no guess
    if kind != SELF_ID:
        return value is not None and not isinstance(value, dict)
    try:
        normalize(one_choice(value), SELF_ID, "")  # a list or object never reads as a self-id class
    except UsageError:
        return False
    return True


# Fields that name who labelled a line: a file with one line per item and person (long format).
ANNOTATOR_FIELDS = (
    "annotator",
    "coder",
    "rater",
    "labeler",
    "labeller",
    "worker_id",
    # as labelling tools write them: Prodigy, Label Studio, and spreadsheets of their exports
    "_annotator_id",
    "annotator_id",
    "annotator_name",
    "completed_by",
)


@dataclass(frozen=True)
class FileReading:
    """How a label file is being read, and what its lines share: what an error about one line
    weighs (are ids or labels on other lines?) and the options its fix names."""

    path: Path
    kind: str  # the label question: self_id, archetypes or another field
    field_name: str  # the field the labels are read from
    key: str
    positions: bool  # items are paired by their position, not an id
    options: tuple[str, str]  # this file's own options: --key/--field or --reference-…
    keyed: int = 0  # lines that have the key
    labelled: int = 0  # lines that have the label field
    lines: int = 0


def lacks(reading: FileReading, line: int, obj: dict[str, object]) -> UsageError:
    """The error for a line without its label field or id: exactly what it lacks, the fields it
    has, and the options (this file's own: --key/--field or --reference-key/--reference-field)
    that would read them, with the likeliest fields as an example."""
    path, kind, field_name, key = reading.path, reading.kind, reading.field_name, reading.key
    positions, keyed, labelled = reading.positions, reading.keyed, reading.labelled
    key_opt, field_opt = reading.options
    if {"key", "kind", "model", "format"} <= set(obj):
        # An experiment's own rows: labelled by opening its samples as a session, not by
        # editing the file the experiment resumes from.
        return UsageError(
            f"{path} is an experiment's results file, not a label file",
            f"open its samples as a session: psmlab experiment-annotate {path.parent}, "
            "annotate it, then psmlab agreement SESSION.json",
        )
    # A file matched by position needs no key: only what is really absent is named.
    missing = [
        x for x, needed in ((key, not positions), (field_name, True)) if needed and x not in obj
    ]
    has = ", ".join(repr(x) for x in obj) or "none"
    problem = (
        f"{path} line {line} lacks {' and '.join(repr(x) for x in missing)} (its fields: {has})"
    )
    if missing == [key] and keyed:
        # Some lines have the key, this one not: ids cannot be half there.
        return UsageError(
            problem, f"give every line the field '{key}', or none (then lines match by position)"
        )
    if missing == [field_name] and labelled:
        # Other lines carry the field: this item is unlabelled, not a file of another shape.
        return UsageError(
            problem, f'write "{field_name}": null on a line whose item has no label (left out)'
        )
    # Not flat: a labelling tool's export (checked after the above, which say a line differs
    # from the file's others: a tool's file is one shape throughout).
    tool = _tool_export(reading, line, obj)
    if tool is not None:
        return tool
    ids = [x for x in ID_NAMES if x in obj and x != key]
    labels = [x for x, v in obj.items() if x not in (key, "split", *ids) and label_like(v, kind)]
    if not labels:
        # No field reads as this kind's label ("severity": "high"): a lone field that is not
        # the item's id, text or context is still the likely one to name.
        plain = ("split", "text", "question", "question_text", "model", "prefill", *ids)
        labels = [
            x
            for x, v in obj.items()
            if x not in (key, *plain, *ANNOTATOR_FIELDS)
            # a label is a word or two ("high", "very low") or a number, not a sentence
            and (isinstance(v, int | float) or (isinstance(v, str) and len(v.split()) <= 2))
        ]
    if kind == ARCHETYPES and field_name in missing:
        # Self-identification labels are no archetypes: named as the archetype field, a file of
        # "self_id": "ai" was compared as archetype "ai" (κ -0.14, "they share no archetype").
        # "none" is an archetype label too (no archetype): only ai, human or mixed tell.
        selfid = [
            x
            for x in labels
            if x == SELF_ID
            or (
                label_like(obj[x], SELF_ID) and normalize(one_choice(obj[x]), SELF_ID, "") != "none"
            )
        ]
        labels = [x for x in labels if x not in selfid]
        if selfid and not labels:
            return UsageError(
                f"{path} holds no archetype labels ('{selfid[0]}' holds self-identification "
                f"labels: ai, human, mixed, none)",
                'give a file whose lines list archetypes (e.g. "archetypes": ["hal-9000"]), or '
                "compare self-identification instead (--field self_id"
                + (
                    ""
                    if selfid[0] == SELF_ID
                    else f" {field_opt} {shlex.quote(selfid[0])}"
                    if field_opt != "--field"  # --field names the question and both files' field
                    else f", with the field '{selfid[0]}' renamed self_id"
                )
                + ")",
            )
    # A file without the expected key may hold its ids under another name: naming only the label
    # field would then match its lines by position and could pair the wrong items.
    name_key = key in missing or bool(positions and ids)
    what, example = [], []
    if name_key:
        what.append("its ids")
        example.append(f"{key_opt} {shlex.quote(ids[0]) if ids else 'ID_FIELD'}")
    if field_name in missing:
        what.append("its labels")
        # Quoted: a spreadsheet's "Self ID" pasted as written was two arguments.
        example.append(
            f"{field_opt} {shlex.quote(labels[0]) if len(labels) == 1 else 'LABEL_FIELD'}"
        )
    fix = f"name the fields holding {' and '.join(what)}: {' '.join(example)}"
    if name_key and key_opt != "--key":
        # The other file may name its ids the same way (a label output keeps the field): then
        # --key names both, and this file's key alone would leave the other without ids.
        both = example[0].replace(key_opt, "--key", 1)
        fix += f" (or {both} when the other file's ids are in that field too)"
    return UsageError(problem, fix)


def _tool_export(reading: FileReading, line: int, obj: dict[str, Any]) -> UsageError | None:
    """A labelling tool's export that is not one flat object per item, with the jq that makes
    it one (the generic error named --field, which cannot reach a nested or keyed label). The
    jq writes the ids under the key and the labels under the field this command reads, to a
    new file beside the export, so the same command then reads that file with no other option."""
    path, kind, field_name, key = reading.path, reading.kind, reading.field_name, reading.key
    lines, field_opt = reading.lines, reading.options[1]
    out, ident = json.dumps(field_name), json.dumps(key)  # jq object keys: quoted, may hold spaces
    flat = path.with_name(f"{path.stem}.flat.jsonl")  # never the export itself (`>` empties it)

    def jq(program: str) -> str:
        return f"jq -c {shlex.quote(program)} {shlex.quote(str(path))} > {shlex.quote(str(flat))}"

    then = f", then give {shlex.quote(str(flat))} in its place"
    anns = obj.get("annotations")
    if isinstance(anns, list) and isinstance(obj.get("data"), dict):
        # Label Studio's full export: each task's labels nest in annotations[].result[].
        # One line per annotation, the item's own id (data.id, not the task's): a trial's
        # flattening kept the task ids and the first annotator only. Archetypes: every choice
        # of every result ([] is none, not a missing label).
        label = (
            "[.result[]?.value.choices[]?]" if kind == ARCHETYPES else ".result[0].value.choices[0]"
        )
        return UsageError(
            f"{path} line {line} is a Label Studio task (its labels are nested in "
            "annotations[].result[]), not one flat object per item",
            "export JSON-MIN from Label Studio, or flatten it, one line per annotation: "
            + jq(
                'if type == "array" then .[] else . end | (.data.id // .id) as $id | .data.text '
                f"as $t | .annotations[] | {{{ident}: $id, text: $t, annotator: .completed_by, "
                f"{out}: {label}}}"
            )
            + then,
        )
    if isinstance(anns, list) and anns and all(isinstance(a, dict) and "label" in a for a in anns):
        # doccano before 1.2: one line per item, each person's labels nested with their user.
        # One line per item of one user's labels, as a list: one label is that label, none is
        # unlabelled (no archetype, for archetypes), several are archetypes.
        user = next((a["user"] for a in anns if "user" in a), None)
        one = "" if user is None else f" | select(.user == {json.dumps(user)})"
        numbers = any(isinstance(a["label"], int) for a in anns)
        return UsageError(
            f"{path} line {line} is a doccano item (its labels are nested in "
            "annotations[].label), not one flat object per item",
            ("flatten one user's labels (one file per user): " if one else "flatten it: ")
            + jq(f"{{{ident}: .id, text: .text, {out}: [.annotations[]{one} | .label]}}")
            + then
            + (" (its labels are doccano's label ids: map them to the labels' names)" if numbers else ""),
        )  # fmt: skip
    meta = obj.get("meta")
    choices = isinstance(obj.get("accept"), list)
    if (
        isinstance(meta, dict)
        and obj.get("answer") in ("accept", "reject", "ignore")
        and (choices or "label" in obj)
    ):
        # Prodigy: the item's own id, if any, is in meta; a choice's labels in "accept", a
        # binary task's in "label" (its answer says whether it applies: kept, and read).
        inner = next((k for k in (key, *ID_NAMES) if k in meta), None)
        lift = f"{ident}: .meta.{json.dumps(inner)}, " if inner and key not in obj else ""
        label = "accept" if choices else "label"
        return UsageError(
            f"{path} line {line} is a Prodigy task (its labels are in '{label}'"
            + (f", its ids in meta.{inner})" if lift else ")"),
            jq(f". + {{{lift}{out}: .{label}}}") + then,
        )
    if (
        lines == 1
        and len(obj) > 2
        and kind == SELF_ID
        and key not in obj
        and not set(obj) & {"text", "line", *ID_NAMES, *ANNOTATOR_FIELDS}
        and all(label_like(v, kind) and not isinstance(v, list) for v in obj.values())
    ):
        # The whole file, one line, as a map from item to label: a line is one item, not one
        # field. One item's several label fields (readers'), on one line, look the same: both
        # readings are offered.
        first = next(iter(obj))
        return UsageError(
            f"{path} is one line that reads as a map of {len(obj)} items to their labels "
            f"(e.g. {first!r}), not one object per item",
            jq(f"to_entries[] | {{{ident}: .key, {out}: .value}}")
            + then
            + f" (or, if it is one item's labels, name one field: {field_opt} {shlex.quote(first)})",
        )
    return None
