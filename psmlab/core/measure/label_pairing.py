"""How two label sources' items are paired, and what a comparison of them leaves out or notes."""

from __future__ import annotations

import shlex
from pathlib import Path

from psmlab.core.errors import UsageError
from psmlab.core.measure.label_values import ARCHETYPES, Labels, Value, as_set


def left_out(source: Labels, reference: Labels, split: str | None = None) -> list[str]:
    """What a comparison of the two sources leaves out, in words (empty when nothing is)."""
    splits = {**source.splits, **reference.splits}

    def kept(k: str) -> bool:
        # An item whose split neither source says is counted too: left out all the same.
        want = (split or "").strip().casefold()
        return split is None or k not in splits or str(splits[k]).strip().casefold() == want

    notes = []
    for a, b in ((source, reference), (reference, source)):
        # Not an item the other side's annotators disputed: that has a note of its own below
        # (it read "labelled only in automatic" though both annotators had labelled it).
        only = [
            k
            for k in a.values
            if kept(k)
            and k not in b.values
            and k not in b.missing
            and k not in b.disputed
            and k not in b.rejected
        ]
        if only:
            notes.append(f"{len(only)} item(s) labelled only in {a.name} were left out")
        if a.missing and (gone := [k for k in a.missing if kept(k) and k in b.values]):
            notes.append(
                f"{len(gone)} item(s) with no label (null, blank or NaN) in {a.name} were left out"
            )
        if a.rejected and (no := [k for k in a.rejected if kept(k) and k in b.values]):
            notes.append(
                f"{len(no)} item(s) of {a.name} whose label a person rejected or skipped "
                '("answer": "reject" or "ignore") were left out'
            )
        if a.disputed and (split_ := [k for k in a.disputed if kept(k) and k in b.values]):
            notes.append(
                f"{len(split_)} item(s) the annotators labelled differently were left out of "
                f"{a.name} (compare with each annotator to include them)"
            )
        if a.single and (lone := [k for k in a.single if kept(k) and k in b.values]):
            notes.append(
                f"{len(lone)} item(s) of {a.name} were labelled by one annotator only (one "
                "reading, not an agreement)"
            )
    if source.by_position or reference.by_position:
        bare = [s for s in (source, reference) if s.by_position]
        which = " and ".join(s.name for s in bare)
        both = len(bare) == 2
        how = {s.by_line for s in bare}
        if how == {True}:
            matched = 'their "line" numbers'
        elif how == {False}:
            matched = f"their position in the {'files' if both else 'file'}"
        else:  # one file's own numbers against the other's positions: say which is which
            numbered = next(s for s in bare if s.by_line)
            other = next(s for s in bare if not s.by_line)
            matched = (
                f"{numbered.name}'s \"line\" numbers against {other.name}'s positions (check "
                "that both list the same items, or give them ids)"
            )
        notes.append(f"{which} {'have' if both else 'has'} no ids: items were matched by {matched}")
        if both and how == {False} and source.rows != reference.rows:
            # Fine for a reference that labels the first lines only; a line missing anywhere
            # else shifts every pair after it, which reads as plain disagreement (a trial's
            # 3 lines against 2 read as kappa -0.33, said only as one item "left out").
            (short, k), (long_, m) = sorted(
                ((source.name, source.rows), (reference.name, reference.rows)), key=lambda x: x[1]
            )
            notes.append(
                f"{long_} has {m} lines and {short} {k}: the first {k} were paired line by "
                f"line; if a line is missing before the end, every pair after it is shifted "
                "(give both files ids to pair them by item)"
            )
    return notes


def same_kind_of_ids(source: Labels, reference: Labels) -> None:
    """Items are paired by id, or (two files without ids) by line order; a file without ids
    beside one with ids would pair line 1 with whatever item has id "1", a shifted comparison
    that reads as plain disagreement. Refused, with the two ways to pair them."""
    if source.own_lines and reference.own_lines:
        _not_shifted(source, reference)
    if source.by_position and reference.by_position and source.by_line != reference.by_line:
        # One file's own "line" numbers against the other's positions: fine for `psmlab
        # label`'s numbering of a file since filtered (in order), a shifted pairing otherwise.
        numbered, other = (source, reference) if source.by_line else (reference, source)
        if other.own_lines:
            # Its numbers are its positions (an unfiltered label output): its items are keyed
            # by them all the same, so the two pair by number, in any order (a trial's hand
            # file, sorted otherwise, was refused as having "none").
            other.by_line = True
            return
        # `psmlab label`'s numbers, filtered since, are positions of the other file's lines:
        # rising, from 1 to its length. Numbers outside that (a spreadsheet's rows from 2, a
        # count from 0) or out of order (the file's own, or a label output sorted since) cannot
        # be told from a shifted pairing, which reads as plain disagreement: refused.
        ks = (*numbered.values, *numbered.missing, *numbered.rejected)
        outside = [k for k in ks if not 1 <= int(k) <= other.rows]
        if outside or not numbered.lines_in_order:
            why = (
                f"not positions in {other.name} (e.g. {outside[0]}; it has {other.rows} lines)"
                if outside
                else "out of order"
            )
            raise UsageError(
                f'{numbered.name} has "line" numbers that are {why} and {other.name} has none: their '
                "items cannot be paired",
                f'give both files ids, or the same "line" numbers (a label output sorted '
                f"since: jq -s -c 'sort_by(.line)[]' {Path(numbered.name).name})",
            )
    if source.by_position == reference.by_position:
        return
    bare, keyed = (source, reference) if source.by_position else (reference, source)
    some = ", ".join(repr(k) for k in list(keyed.values)[:2])
    if bare.id_hint is not None and bare.id_hint.startswith("meta."):
        # Prodigy keeps an item's own id in "meta": --key reads top-level fields only.
        name = shlex.quote(Path(bare.name).name)
        raise UsageError(
            f'{bare.name} has no "id" field but {keyed.name} has ids (e.g. {some}); its ids '
            f"look to be in {bare.id_hint}",
            f"lift them to the top: jq -c '. + {{id: .{bare.id_hint}}}' {name} > with-ids.jsonl",
        )
    if bare.id_hint is not None:
        # A spreadsheet's "ID" column: the ids are there, under a name not looked for.
        field = shlex.quote(bare.id_hint)
        # --key names the reference's key too unless --reference-key does: said with it.
        opt = (
            f"--key {field}" + (f" --reference-key {shlex.quote(keyed.key)}" if keyed.key else "")
            if bare is source
            else f"--reference-key {field}"
        )
        raise UsageError(
            f'{bare.name} has no "id" field but {keyed.name} has ids (e.g. {some}); its ids '
            f"look to be in '{bare.id_hint}'",
            f"name that field: {opt}",
        )
    raise UsageError(
        f"{bare.name} has no ids but {keyed.name} has (e.g. {some}): its lines cannot be paired "
        "with those items",
        "keep the items' ids in both (psmlab label keeps a line's \"id\"), or remove them from "
        "both to pair by line order",
    )


def _clip(text: str, n: int = 40) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= n else flat[:n] + "…")


def same_texts(source: Labels, reference: Labels, common: list[str]) -> list[str]:
    """Paired items whose texts the two files both give must be the same text (spacing aside).
    Paired without ids, texts that are shifted (a line's text is its neighbour's in the other
    file: a dropped or sorted line moves every later one onto another item, which reads as plain
    disagreement) or differ on most lines are refused; a few that differ are said, as they are
    for files paired by id (another file's ids may name other items). A pairing without ids
    that only one side's texts could check is said too."""
    both = [k for k in common if k in source.texts and k in reference.texts]

    def flat(x: str) -> str:
        return " ".join(x.split())

    differ = [k for k in both if flat(source.texts[k]) != flat(reference.texts[k])]
    bare = source.by_position
    if bare and not both and (source.texts or reference.texts):
        has = source if source.texts else reference
        return [
            f"only {has.name} gives the items' texts: the lines paired without ids could not "
            "be checked against each other"
        ]
    if not differ:
        return []
    k = differ[0]
    example = f"{_clip(source.texts[k])} against {_clip(reference.texts[k])}"
    how = 'their "line" numbers' if source.by_line else "position"
    if bare:
        ref = {flat(v): key for key, v in reference.texts.items()}
        shifted = [
            x
            for x in differ
            if (at := ref.get(flat(source.texts[x]))) is not None
            and x.isdigit()
            and at.isdigit()
            and abs(int(at) - int(x)) == 1
        ]
        if shifted or len(differ) > len(both) / 2:
            why = f", {len(shifted)} of them shifted by a line" if shifted else ""
            raise UsageError(
                f"{source.name} and {reference.name} have no ids, and {len(differ)} of "
                f"{len(both)} lines paired by {how} hold different texts{why} (item {k}: "
                f"{example})",
                "give both files ids, or list the same items in the same order in both",
            )
    return [
        f"{len(differ)} of {len(both)} paired items have different texts in the two files "
        f"({'line' if bare else 'id'} {k!r}: {example}): check that they are the same items"
    ]


def label_notes(a: list[Value], b: list[Value], field_name: str) -> list[str]:
    """What makes the numbers mean less than they seem: two sources whose labels never meet
    (another codebook, or the wrong field), archetype names the lab has no persona for (a typo
    is a class of its own)."""
    notes = []
    if field_name == ARCHETYPES:
        mine_a = {x for v in a for x in as_set(v)}
        theirs_a = {x for v in b for x in as_set(v)}
        if mine_a and theirs_a and not mine_a & theirs_a:
            notes.append(
                f"the two sources share no archetype (source: {', '.join(sorted(mine_a)[:6])}; "
                f"reference: {', '.join(sorted(theirs_a)[:6])}): they cannot agree on any"
            )
        from psmlab.core.domain.personas import load_personas

        known = {p.id for p in load_personas()[0]}
        if odd := sorted((mine_a | theirs_a) - known):
            notes.append(
                f"archetype name(s) {', '.join(repr(x) for x in odd[:5])}"
                f"{' …' if len(odd) > 5 else ''} are not among the lab's personas "
                "(personas/*.toml): each is compared as an archetype of its own"
            )
        return notes
    mine, theirs = {str(x) for x in a}, {str(x) for x in b}
    if not mine & theirs:
        notes.append(
            f"the two sources share no label (source: {', '.join(sorted(mine)[:6])}; reference: "
            f"{', '.join(sorted(theirs)[:6])}): they cannot agree; check --field and "
            "--reference-field, or the codebooks"
        )
    return notes


def select_split(
    source: Labels, reference: Labels, common: list[str], split: str | None
) -> tuple[list[str], str | None]:
    """The shared items in `split` (any case and spacing), and a note of how many it kept and
    why the rest were left out; all of them and no note without a split. Items the two files
    put in different splits, or no item in it, are a UsageError."""
    if split is None:
        return common, None
    splits = {**source.splits, **reference.splits}
    if not splits:
        raise UsageError(
            f"--split {split}: neither {source.name} nor {reference.name} has a 'split' field",
            "drop --split, or give a label file whose lines carry one",
        )

    def fold(x: object) -> str:
        # "TEST", "Test " and "test" name one split: a typed flag never silently selects nothing
        return str(x).strip().casefold()

    want = fold(split)

    # The two files may put an item in different splits: the reference's won in silence.
    both = [
        k
        for k in common
        if k in source.splits
        and k in reference.splits
        and fold(source.splits[k]) != fold(reference.splits[k])
    ]
    if both:
        k = both[0]
        raise UsageError(
            f"--split {split}: {len(both)} shared item(s) are in different splits in the two "
            f"files (e.g. {k!r}: {source.splits[k]} in {source.name}, "
            f"{reference.splits[k]} in {reference.name})",
            "make the files agree on each item's split, or drop --split",
        )
    shared = common
    common = [k for k in common if fold(splits.get(k, "")) == want]
    other = sum(1 for k in shared if k not in common and k in splits)
    bare = sum(1 for k in shared if k not in splits)
    split_note = (
        f"--split {split}: {len(common)} of {len(shared)} shared items compared"
        + (f"; {other} in other splits left out" if other else "")
        + (f"; {bare} with no 'split' field left out" if bare else "")
    )
    if not common:
        have = ", ".join(sorted(set(splits.values())))
        raise UsageError(
            f"no shared item is in split '{split}'", f"choose one of the splits: {have}"
        )
    return common, split_note


def _not_shifted(source: Labels, reference: Labels) -> None:
    """Two files paired by their "line" numbers, whose numbers are the same run shifted (rows
    2-11 of a spreadsheet, counted from its header, against a label output's 1-10): paired as
    they stand, each item met its neighbour's label and the result read as plain disagreement
    (a trial: kappa -0.22 where it was 0.86). Refused, unless their texts agree as numbered."""

    def numbers(x: Labels) -> set[int]:
        return {int(k) for k in (*x.values, *x.missing, *x.rejected)}

    a, b = numbers(source), numbers(reference)
    if not a or not b or a == b or len(a) != len(b):
        return
    shift = min(a) - min(b)
    # A sheet's rows (from 2, or 3 under two header rows) or a count from 0, set against a
    # label output's 1..n: two annotators' blocks of one file (1-60 and 41-100) are no shift.
    whole = set(range(1, len(a) + 1))
    if abs(shift) > 2 or {n + shift for n in b} != a or whole not in (a, b):
        return
    same = [k for k in source.texts if k in reference.texts]
    if same and all(source.texts[k] == reference.texts[k] for k in same):
        return  # their texts say the numbers are right
    raise UsageError(
        f"{source.name}'s \"line\" numbers run {min(a)}-{max(a)} and {reference.name}'s "
        f"{min(b)}-{max(b)}: the same {len(a)} lines numbered {abs(shift)} apart (a "
        "spreadsheet's rows counted from its header?), so each item would meet its "
        "neighbour's label",
        "number both files' lines alike, e.g. jq -c '.line |= (tonumber - "
        f"{abs(shift)})' {Path((source if shift > 0 else reference).name).name}, or give both ids",
    )
