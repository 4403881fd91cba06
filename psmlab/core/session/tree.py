"""Reading a session's turn tree (turns point at their parents): a branch's path, tree order, the
branches in the order they were made."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from psmlab.core.session.records import TurnRecord


def path_to(nodes: Sequence[TurnRecord], node_id: str | None) -> list[TurnRecord]:
    """The turns from the first one down to `node_id` (empty for None)."""
    by_id = {n.id: n for n in nodes}
    out: list[TurnRecord] = []
    at = by_id.get(node_id) if node_id is not None else None
    while at is not None:
        out.append(at)
        at = by_id.get(at.parent) if at.parent is not None else None
    return out[::-1]


def walk(nodes: Sequence[TurnRecord]) -> Iterator[tuple[TurnRecord, int]]:
    """Every turn in tree order (depth first, children in the order they were made), with its
    depth."""
    kids: dict[str | None, list[TurnRecord]] = {}
    for n in nodes:
        kids.setdefault(n.parent, []).append(n)
    stack = [(t, 0) for t in reversed(kids.get(None, []))]
    while stack:  # not recursion: an imported tree may be deeper than Python's stack
        t, depth = stack.pop()
        yield t, depth
        stack.extend((k, depth + 1) for k in reversed(kids.get(t.id, [])))


def leaves(nodes: Sequence[TurnRecord]) -> list[str]:
    """Every branch, named by its last turn, in the order the branches were made: a turn added
    to a turn's first child's line goes on that branch, any other starts a new one. (Ordered by
    their last turns, branches were renumbered whenever an older one grew.)"""
    started: dict[str, int] = {}  # turn id -> the number of the branch it lies on
    first_child: dict[str, str] = {}
    count = 0
    for n in nodes:  # in the order the turns were made
        if n.parent in started and first_child.setdefault(n.parent, n.id) == n.id:
            started[n.id] = started[n.parent]
        else:
            started[n.id], count = count, count + 1
    parents = {n.parent for n in nodes}
    return sorted((n.id for n in nodes if n.id not in parents), key=started.__getitem__)


ADOPTED = "adopted"
ADOPTED_AFTER = "adopted on a branch that goes on from here"
ADOPTED_ELSEWHERE = "adopted on another branch"


def adoptions(
    nodes: Sequence[TurnRecord], on_path: set[str], after: set[str] | frozenset[str]
) -> dict[str, str]:
    """Where each adopted answer (by generation id) was adopted, seen from one branch (the
    turns `on_path`): on it, on a branch that goes on from its end (`after`: the turns right
    after it; gone back to a message, its answers are adopted there), or elsewhere. The lab
    and the export say it alike (a trial read "another branch" on screen and "a branch that
    goes on from here" in the export)."""
    out: dict[str, str] = {}
    for t in nodes:
        if t.adopted_from and out.get(t.adopted_from) != ADOPTED:
            out[t.adopted_from] = (
                ADOPTED
                if t.id in on_path
                else ADOPTED_AFTER
                if t.id in after
                else ADOPTED_ELSEWHERE
            )
    return out


def answer_place(nodes: Sequence[TurnRecord], node: str | None, turn: int) -> int:
    """An answer's place in the transcript, numbered as adopt and the export number turns: after
    the `turn` turns its prompt held, or, for a run that continued an assistant turn (`node`),
    that turn's own. A node a hand-edited file lost: the turns the prompt held, + 1."""
    at = next((n for n in nodes if n.id == node), None) if node is not None else None
    return turn if at is not None and at.role == "assistant" else turn + 1
