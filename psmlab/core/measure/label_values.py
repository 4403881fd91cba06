"""Labels as compared: the two levels (self-id, archetypes), how a value is read (case, the
codebook's synonyms, archetype names), item ids, and a source of labels (`Labels`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
    by_line: bool = False  # without ids, paired by its own "line" numbers (not its positions)
    rows: int = 0  # how many items the file lists (labelled or not)
    lines_in_order: bool = True  # its "line" numbers rise down the file (a filtered label output)
    own_lines: bool = False  # every line has a distinct "line" number (those numbers are its ids)
    # A file without "id" whose ids seem to be in another field ("ID", "item_id"): named in
    # the error that refuses to pair it by position against a file with ids.
    id_hint: str | None = None
    key: str | None = None  # the field a JSONL file's ids were read from (None: a session)
    # Items people labelled differently, left out of a pooled human source (no label settles it).
    disputed: set[str] = field(default_factory=set)
    # Items of a pooled human source only one of several annotators labelled: one reading, not
    # an agreement, so a comparison says how many it holds.
    single: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)  # a person rejected or skipped (Prodigy)
    # Each item's text, where the file gives one: two files paired by position must hold the
    # same texts line by line.
    texts: dict[str, str] = field(default_factory=dict)
    # Who made a file's labels, as `psmlab label` records it on each line ("markers, rules
    # 25e1ff45798e"): said beside the numbers, as a session's automatic labels are.
    made_by: str | None = None


def archetype_name(value: object) -> str:
    """An archetype as compared: "Helpful Assistant", "helpful_assistant" and "helpful-assistant"
    are one archetype (a persona's name spelled out is its id), never two classes."""
    return "-".join(re.split(r"[\s_-]+", str(value).strip().casefold())).strip("-")


def archetype_set(value: object, names: Mapping[str, str] | None = None) -> frozenset[str]:
    """An archetypes label as a set of ids; `names` maps display names to ids (the persona
    folders' as they are now when not given: a caller reading many labels passes it once)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise TypeError
    names = persona_names() if names is None else names
    return frozenset(names.get(n, n) for n in map(archetype_name, items)) - NOT_ARCHETYPES


def persona_names() -> dict[str, str]:
    """Each persona's display name, as compared, to its id: a labelling tool's choices are often
    the names people read ("Helpful AI assistant", "HAL-9000-like"), not the ids. Read again
    when the persona folders or their files change (a config pointed elsewhere in a process)."""
    from psmlab.core.domain.personas import persona_dirs

    stamp = []
    for d in persona_dirs():
        try:
            stamp.append(
                (str(d), tuple((f.name, f.stat().st_mtime_ns) for f in sorted(d.glob("*.toml"))))
            )
        except OSError:
            stamp.append((str(d), ()))
    return _names_of(tuple(stamp))


@functools.lru_cache(maxsize=4)
def _names_of(stamp: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]) -> dict[str, str]:
    from psmlab.core.domain.personas import load_personas

    personas = load_personas([Path(d) for d, _ in stamp])[0]
    ids = {p.id for p in personas}
    # A name that is another persona's id stays that persona's.
    return {k: p.id for p in personas if (k := archetype_name(p.name)) not in ids}


def normalize(value: object, field_name: str, where: str, written: str | None = None) -> str:
    """One scalar label as compared: case-folded, trimmed; a self-id label checked and mapped."""
    # JSON true and "True" are one label; 3 and 3.0 are one (a spreadsheet writes a column of
    # whole numbers with a blank in it as floats), as they are one id.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = (str(value).lower() if isinstance(value, bool) else str(value)).strip().casefold()
    if field_name != SELF_ID:
        return text
    text = SELF_ID_SYNONYMS.get(" ".join(text.split()), text)
    if text not in SELF_IDS:
        raise UsageError(
            # Named as the file names it: a trial's "label" field was called self_id.
            f"{where}: {written or SELF_ID} {str(value)!r} is not one of {', '.join(SELF_IDS)} "
            f"(also read: both = mixed, neither = none)",
            "write one of them, or null for an item nobody labelled",
        )
    return text


def one_choice(value: object) -> object:
    """A one-item list as its item: labelling tools export a single choice as a list (Prodigy's
    "accept", Label Studio's "choices"), and one chosen label is that label; else the value."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def item_id(value: object) -> str | None:
    """An id as text, the way every label file is matched: 3, 3.0 and "3" are one item (a
    spreadsheet writes whole numbers as 3.0); None for what is no id (null, true, a list)."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_as_self_id(*sources: Labels) -> list[str]:
    """Labels under another field name that are all self-identification classes, written the
    codebook's way or as its synonyms ("both", "neither"), are read as self-id: the synonyms
    mapped, so another lab's file compares as the same file named `self_id` would. Decided over
    every source together: one source mapped and the other not would part labels written alike.
    A source whose labels are mostly such classes but not all, among them "ai" or "human", is a
    UsageError naming the others (without them it is another codebook: a severity scale with
    "none" is compared as written). Returns a note when synonyms were mapped without an "ai" or
    "human" label in sight (another codebook's "neither" and "nothing" would become one)."""
    mapped = [
        {
            k: SELF_ID_SYNONYMS.get(" ".join(v.split()), v)
            for k, v in labels.values.items()
            if isinstance(v, str)
        }
        for labels in sources
    ]
    speaks = any({"ai", "human"} & set(m.values()) for m in mapped)
    if all(len(m) == len(x.values) for m, x in zip(mapped, sources, strict=True)) and all(
        set(m.values()) <= set(SELF_IDS) for m in mapped
    ):
        renamed = sorted(
            {
                str(labels.values[k])
                for m, labels in zip(mapped, sources, strict=True)
                for k, v in m.items()
                if labels.values[k] != v
            }
        )
        for m, labels in zip(mapped, sources, strict=True):
            labels.values.update(m)
        if renamed and not speaks:
            return [
                f"labels read as self-identification classes ({', '.join(renamed)} mapped to "
                "mixed or none) though none says ai or human: if they are another codebook's, "
                "they were merged"
            ]
        return []
    if not speaks:
        return []
    # Mostly self-id classes with a few other values ("N/A" among 327 AI/Human/Both/Neither):
    # read as free labels, "both" and "neither" became classes of their own and kappa fell from
    # 1.00 to 0.44 without a word. The odd values are named instead.
    for m, labels in zip(mapped, sources, strict=True):
        odd = [v for v in m.values() if v not in SELF_IDS]
        if odd and len(odd) < len(labels.values) / 2:
            counts = {v: odd.count(v) for v in dict.fromkeys(odd)}
            shown = ", ".join(f"'{v}' ({n})" for v, n in list(counts.items())[:4])
            raise UsageError(
                f"{labels.name} reads as self-identification ({len(m) - len(odd)} of "
                f"{len(labels.values)} labels are ai, human, mixed, none or their synonyms) "
                f"but not {shown}",
                "write null for an unlabelled item, or one of ai, human, mixed, none",
            )
    return []


def as_set(value: Value) -> frozenset[str]:
    """An archetypes label as a set (a stored string is its comma-separated names)."""
    return value if isinstance(value, frozenset) else archetype_set(value)
