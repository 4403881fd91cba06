"""People's self-identification labels of an experiment's samples, read from annotated sessions.

`psmlab experiment-annotate` turns a question's samples into a session; people label them in the
lab (or with `psmlab annotate`); `psmlab experiment FILE --people SESSION` then sets the
forced-choice designs beside the samples *as people read them*, not only as the marker rules
do (the opening design reads its walk with the same rules as the samples, so a mistake of the
rules can be shared by both instruments; people's labels break that tie).

A sample is matched by its experiment provenance (unit key and sample number) and its text must
be the row's text: a session made from another run of the same file is not matched by accident.
Several annotators (in one session or several) give one label where all who labelled a sample
agree, as `psmlab agreement` pools them; a sample they label differently is disputed, left out
and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psmlab.core.measure.label_files import SELF_ID, Labels
from psmlab.core.measure.session_labels import agreed, session_labels
from psmlab.core.session.schema import Session

SampleKey = tuple[str, int]  # (unit key, sample number)


@dataclass
class PeopleLabels:
    """Per sample, the label people agree on; what was matched, disputed or not found."""

    values: dict[SampleKey, str] = field(default_factory=dict)
    annotators: list[str] = field(default_factory=list)
    disputed: int = 0
    single: int = 0  # labelled by one of several annotators: one reading, not an agreement
    blind: int = 0
    not_found: int = (
        0  # annotated samples that are not rows of these results (or whose text differs)
    )
    sessions: int = 0


def sample_key(row: Mapping[str, Any]) -> SampleKey:
    return (str(row["key"]), int(row.get("sample") or 0))


def people_labels(sessions: Iterable[Session], rows: Iterable[Mapping[str, Any]]) -> PeopleLabels:
    """People's self-id labels of the sample rows, pooled over every annotator of `sessions`."""
    texts = {sample_key(r): r.get("text") for r in rows if r.get("kind") == "sample"}
    merged: dict[str, Labels] = {}
    out = PeopleLabels()
    for s in sessions:
        out.sessions += 1
        where: dict[str, SampleKey | None] = {}
        for g in s.generations:
            exp = (g.provenance or {}).get("experiment")
            if not isinstance(exp, dict) or "key" not in exp:
                where[g.id] = None
                continue
            found = (str(exp["key"]), int(exp.get("sample") or 0))
            where[g.id] = found if texts.get(found) == g.text else None
        for name, src in session_labels(s, SELF_ID).annotators.items():
            mine = merged.setdefault(name, Labels(name, human=True))
            for gid, value in src.values.items():
                key = where.get(gid)
                if key is None:
                    out.not_found += 1
                    continue
                ident = f"{key[0]}#{key[1]}"
                mine.values[ident] = value
                if gid in src.blind:
                    mine.blind.add(ident)
                else:
                    mine.blind.discard(ident)
    pooled = agreed(merged)
    for ident, value in pooled.values.items():
        unit, _, n = ident.rpartition("#")
        out.values[(unit, int(n))] = str(value)
    out.annotators = sorted(merged)
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
