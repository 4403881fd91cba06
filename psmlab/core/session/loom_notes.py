"""What a loom import guessed or cannot show, and what a loom export leaves out, in words; and
what a loom node says of its answer (its model, whether a person edited it in loom)."""

from __future__ import annotations

from psmlab.core.session.loom import FIELDS_KEY, GEN_KEY, is_loom
from psmlab.core.session.schema import Session, TurnRecord


def import_notes(session: Session) -> list[str]:
    """What an import guessed or cannot show, in words (it said only how many turns it read):
    roles read without loom's provenance, model text a person edited in loom, a hoisted save's
    hidden branches, loom fields kept for the export but not shown."""
    loomed = [t for t in session.nodes if is_loom(t)]
    out = []
    guessed = [
        t
        for t in loomed
        if not isinstance((t.meta or {}).get("meta"), dict)
        or (t.meta or {})["meta"].get("source") not in ("prompt", "AI", "mixed")
    ]
    guessed = [t for t in guessed if "generation" not in (t.meta or {})]
    if guessed:
        out.append(
            f"{_count(len(guessed), 'loom node')} record{'s' * (len(guessed) == 1)} no source "
            "(loom's meta.source): read as assistant turns, a root as the user's"
        )
    mixed = [t for t in loomed if edited_in_loom(t)]
    if mixed:
        out.append(
            f"{_count(len(mixed), 'turn')} hold{'s' * (len(mixed) == 1)} model text a person "
            "edited in loom "
            "(meta.source mixed): shown as edited by hand, not as a model's words"
        )
    hoisted = sum(1 for t in loomed if "masked_head" in (t.meta or {}))
    if hoisted:
        out.append(
            "the tree was saved hoisted (masked_head): the branches outside the hoisted subtree "
            "are kept for export -f loom but not shown; unhoist it in loom and save again to "
            "see them"
        )
    return out


def loom_answer_model(t: TurnRecord) -> str | None:
    """The model of an answer psmlab wrote to loom without adopting it, read back (its turn
    names no model; the loom node's psmlab block does)."""
    block = (t.meta or {}).get(GEN_KEY)
    model = block.get("model") if isinstance(block, dict) else None
    return model if isinstance(model, str) else None


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def edited_in_loom(t: TurnRecord) -> bool:
    """An assistant turn loom marks as model text a person changed (meta.source "mixed"), or a
    psmlab turn a person edited in loom (psmlab wrote it as "AI")."""
    meta = t.meta or {}
    loom_meta = meta.get("meta")
    if isinstance(loom_meta, dict) and loom_meta.get("source") == "mixed" and not t.edited_from:
        return True
    fields = meta.get(FIELDS_KEY)
    changed = fields.get("meta") if isinstance(fields, dict) else None
    return isinstance(changed, dict) and changed.get("source") == "mixed" and not t.edited_from


def not_in_loom(session: Session) -> list[str]:
    """What a loom export leaves out, in words: loom holds a tree of texts, not the session's
    annotations, the models and how they were asked, or what was measured (empty: nothing)."""
    out = []
    if session.generations:
        # An import of it has no generation to replay (a trial found replay "nothing to replay").
        out.append(
            f"how its {len(session.generations)} answer(s) were made (models, seeds, settings, "
            "token ids: nothing to replay in an import of it)"
        )
    if session.annotations:
        out.append(f"{len(session.annotations)} annotation(s)")
    asked = [m.id for m in session.models if m.system]
    if asked:
        out.append(f"the system prompt of {', '.join(asked)}")
    if session.auto_labels:
        out.append(f"{len(session.auto_labels)} automatic label(s)")
    if session.forced:
        out.append(f"{len(session.forced)} forced-choice result(s)")
    if session.projections:
        out.append(f"{len(session.projections)} projection(s)")
    return out
