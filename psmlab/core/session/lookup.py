"""Finding a session's generation by its id or a unique prefix of it (as git finds commits)."""

from __future__ import annotations

from collections.abc import Sequence

from psmlab.core.errors import SessionError, UsageError
from psmlab.core.session.records import GenerationRecord

_LIST = "list ids with psmlab export SESSION --format jsonl"


def hits(generations: Sequence[GenerationRecord], gen_id: str) -> list[GenerationRecord]:
    """The generation with this id, else those it is a prefix of."""
    exact = [g for g in generations if g.id == gen_id]
    return exact or [g for g in generations if g.id.startswith(gen_id)]


def stored(generations: Sequence[GenerationRecord], gen_id: str, title: str) -> GenerationRecord:
    """The generation an id the session itself holds names (an adoption, an annotation): one
    that names nothing makes the file inconsistent (exit 10)."""
    found = hits(generations, gen_id)
    if len(found) == 1:
        return found[0]
    raise SessionError(
        f"no generation '{gen_id}' in session '{title}'"
        + (" (the prefix is ambiguous)" if found else ""),
        _LIST,
    )


def named(generations: Sequence[GenerationRecord], gen_id: str, title: str) -> GenerationRecord:
    """The generation a person named: an unknown or ambiguous id is their mistake, a usage
    error (exit 2), not a broken session file (exit 10)."""
    found = hits(generations, gen_id)
    if len(found) == 1:
        return found[0]
    if not found:
        none = "" if generations else " (it holds none: its turns were written or imported)"
        raise UsageError(f"no generation '{gen_id}' in session '{title}'{none}", _LIST)
    shown = ", ".join(g.id for g in found[:4]) + (", ..." if len(found) > 4 else "")
    raise UsageError(
        f"generation id '{gen_id}' is ambiguous in session '{title}': "
        f"{len(found)} generations start with it ({shown})",
        "give more of the id",
    )
