"""People's self-identification labels of an experiment's samples, read from annotated sessions.

`psmlab experiment-annotate` turns a question's samples into a session; people label them in the
lab (or with `psmlab annotate`); `psmlab experiment FILE --people SESSION` then sets the
forced-choice designs beside the samples *as people read them*, not only as the marker rules
do (the opening design reads its walk with the same rules as the samples, so a mistake of the
rules can be shared by both instruments; people's labels break that tie).

Labels made elsewhere come as JSONL, one reading per line (`key`, `sample`, `self_id`,
`annotator`, optionally `text`). A sample is matched by its experiment provenance (unit key and
sample number) and its text must be the row's text: a session made from another run of the same
file is not matched by accident.
Several annotators (in one session or several) give one label where all who labelled a sample
agree, as `psmlab agreement` pools them; a sample they label differently is disputed, left out
and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.domain.jsonl import read_objects
from psmlab.core.errors import UsageError
from psmlab.core.measure.label_values import SELF_ID, Labels, normalize
from psmlab.core.measure.session_labels import agreed, session_labels
from psmlab.core.session.schema import Session

SampleKey = tuple[str, int]  # (unit key, sample number)


@dataclass
class PeopleLabels:
    """Per sample, the label people agree on; what was matched, disputed or not found."""

    values: dict[SampleKey, str] = field(default_factory=dict)
    annotators: list[str] = field(default_factory=list)
    # Readers: one name in two sources is two ("anonymous" in two sessions can disagree).
    readers: int = 0
    disputed: int = 0
    single: int = 0  # labelled by one of several annotators: one reading, not an agreement
    blind: int = 0
    # Readings of samples that are not rows of these results, or whose text differs.
    not_found: int = 0


def sample_key(row: Mapping[str, Any]) -> SampleKey:
    """A sample row's place in its run: (unit key, sample number)."""
    return (str(row["key"]), int(row.get("sample") or 0))


@dataclass(frozen=True)
class Reading:
    """One person's self-id label of one experiment sample; `text` None: not checked."""

    annotator: str
    sample: SampleKey
    text: str | None
    self_id: str
    blind: bool = False
    # Where the reading came from (a file): two files' "anonymous" are two people, not one.
    source: str = ""


def session_readings(session: Session, source: str = "") -> Iterator[Reading | None]:
    """Each annotator's latest self-id label of each sample of an experiment-annotate session
    (None for an annotated generation that is no experiment sample)."""
    gens = {g.id: g for g in session.generations}
    for name, src in session_labels(session, SELF_ID).annotators.items():
        for gid, value in src.values.items():
            exp = (gens[gid].provenance or {}).get("experiment")
            if not isinstance(exp, dict) or "key" not in exp:
                yield None
                continue
            key = (str(exp["key"]), int(exp.get("sample") or 0))
            yield Reading(name, key, gens[gid].text, str(value), gid in src.blind, source)


def file_readings(path: Path) -> Iterator[Reading]:
    """Readings from a JSONL file, one per line: `key` (the unit key of results.jsonl),
    `sample`, `self_id`, `annotator` (default "people"), optionally `text` (then it must be the
    sample's) and `blind`. A line without them is a one-line error naming it."""
    # Who read which sample (and its text): the line and label of their first reading.
    seen: dict[tuple[str, str, int, str | None], tuple[int, str]] = {}
    for line, obj in read_objects(path, "people's label file"):
        where = f"{path}:{line}"
        if not isinstance(obj, dict) or "key" not in obj or "self_id" not in obj:
            raise UsageError(
                f"{where} is not a reading of an experiment sample (it needs key, sample, self_id)",
                'write one object per line: {"key": "sample|...", "sample": 0, "self_id": '
                '"human", "annotator": "ann"}, or give a session made by experiment-annotate',
            )
        if obj["self_id"] is None:
            continue  # nobody labelled it
        number, blind = obj.get("sample", 0), obj.get("blind", False)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise UsageError(
                f"{where}: sample {number!r} is not a sample number",
                "give the sample's number as results.jsonl has it (0, 1, ...)",
            )
        if not isinstance(blind, bool):
            raise UsageError(
                f"{where}: blind {blind!r} is not true or false",
                "write blind as a JSON boolean (true, false), or leave it out",
            )
        text = obj.get("text")
        who, label = (
            str(obj.get("annotator") or "people"),
            normalize(obj["self_id"], SELF_ID, where),
        )
        # A file's lines are no record of time: a second, different reading by the same person
        # is not taken as a correction (the later line won, unsaid).
        # Two texts are two runs' samples (only this run's is matched later): not one reread.
        said = (who, str(obj["key"]), number, None if text is None else str(text))
        first = seen.setdefault(said, (line, str(label)))
        if first[1] != str(label):
            raise UsageError(
                f"{where}: annotator '{who}' reads sample {number} of {obj['key']!r} as {label}, "
                f"and as {first[1]} on line {first[0]}",
                "keep one reading per annotator and sample (or name the two readers apart)",
            )
        yield Reading(
            who, (str(obj["key"]), number), None if text is None else str(text), label, blind,
            str(path),
        )  # fmt: skip


def load_readings(path: Path) -> list[Reading | None]:
    """A session (experiment-annotate's, labelled) or a JSONL file of readings."""
    from psmlab.core.session import file as store

    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return list(file_readings(path))
    return list(session_readings(store.load(path), str(path)))


def people_labels(
    readings: Iterable[Reading | None], rows: Iterable[Mapping[str, Any]]
) -> PeopleLabels:
    """People's self-id labels of the sample rows, pooled over every annotator: a sample's
    label where all who read it agree (a later reading by one annotator in one source replaces
    theirs; one name in two sources is two readers, so "anonymous" twice can disagree)."""
    texts = {
        sample_key(r): r["text"]
        for r in rows
        if r.get("kind") == "sample" and "error" not in r and r.get("text") is not None
    }
    merged: dict[tuple[str, str], Labels] = {}
    out = PeopleLabels()
    for r in readings:
        if r is None or r.sample not in texts or (r.text is not None and texts[r.sample] != r.text):
            out.not_found += 1
            continue
        mine = merged.setdefault((r.source, r.annotator), Labels(r.annotator, human=True))
        ident = f"{r.sample[0]}#{r.sample[1]}"
        mine.values[ident] = r.self_id
        if r.blind:
            mine.blind.add(ident)
        else:
            mine.blind.discard(ident)
    pooled = agreed({f"{src}\x00{name}": lab for (src, name), lab in merged.items()})
    for ident, value in pooled.values.items():
        unit, _, n = ident.rpartition("#")
        out.values[(unit, int(n))] = str(value)
    out.annotators = sorted({name for _, name in merged})
    out.readers = len(merged)
    out.disputed, out.single, out.blind = (
        len(pooled.disputed),
        len(pooled.single),
        len(pooled.blind),
    )
    return out


def relabelled(rows: Iterable[Mapping[str, Any]], people: PeopleLabels) -> list[dict[str, Any]]:
    """The sample rows people labelled, each with their label as its `self_id`."""
    out = []
    for r in rows:
        label = people.values.get(sample_key(r))
        if label is not None:
            out.append({**r, "self_id": label})
    return out
