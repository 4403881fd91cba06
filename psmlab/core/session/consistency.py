"""What a session must hold to be loaded: ids unique, every reference points at something."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psmlab.core.session.hand_edits import check_params

if TYPE_CHECKING:
    from psmlab.core.session.schema import Session


def check_consistent(session: Session) -> None:
    """Raise ValueError (pydantic shows it as the file's problem) at the first broken reference."""
    ids = [g.id for g in session.generations]
    if len(set(ids)) != len(ids):
        raise ValueError("two generations share an id")
    known = set(ids)
    texts = {g.id: g.full_text for g in session.generations}
    seen: set[str] = set()
    for a in session.annotations:
        if a.generation_id not in known:
            raise ValueError(f"annotation {a.id} points at unknown generation {a.generation_id}")
        if a.id in seen:  # one id, two annotations: edits and agreement would mix them
            raise ValueError(f"two annotations share the id {a.id}")
        seen.add(a.id)
        if a.evidence is not None and a.evidence.end > len(texts[a.generation_id]):
            raise ValueError(
                f"annotation {a.id}'s evidence {a.evidence.start}:{a.evidence.end} runs past "
                f"the end of its generation's text ({len(texts[a.generation_id])} characters)"
            )
    by_id = {n.id: n for n in session.nodes}
    if len(by_id) != len(session.nodes):
        raise ValueError("two turns share an id")
    for n in session.nodes:
        if n.parent is not None and n.parent not in by_id:
            raise ValueError(f"turn {n.id} points at unknown parent {n.parent}")
    for n in session.nodes:  # every chain of parents ends at a root
        seen, at = set(), n
        while at.parent is not None:
            if at.id in seen:
                raise ValueError(f"turns form a cycle at {at.id}")
            seen.add(at.id)
            at = by_id[at.parent]
    if session.head is not None and session.head not in by_id:
        raise ValueError(f"head points at unknown turn {session.head}")
    for g in session.generations:
        if g.node is not None and g.node not in by_id:
            raise ValueError(f"generation {g.id} continued unknown turn {g.node}")
        check_params(g.id, g.params)
