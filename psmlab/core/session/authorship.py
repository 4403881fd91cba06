"""Who wrote an adopted turn's start: the text a model was given to continue is not its own."""

from __future__ import annotations

from psmlab.core.session.loom_notes import edited_in_loom
from psmlab.core.session.records import TurnRecord
from psmlab.core.session.schema import Session


def given_by(s: Session, t: TurnRecord, *, blind: bool = False) -> str | None:
    """What wrote the start of an adopted turn that the model only continued, in a few words
    ("continues edited text"), or None when the model wrote all of it. Blind: no model named."""
    if not t.given:
        return None
    if t.continued is None:
        return "continues a prefill"
    before = next((n for n in s.nodes if n.id == t.continued), None)
    if before is not None and before.edited_from is not None:
        return "continues edited text"
    if before is not None and before.adopted_model is not None:
        if before.adopted_model == t.adopted_model or blind:
            return "continues an earlier answer"
        return f"continues {before.adopted_model}'s answer"
    # Typed into a transcript, imported from another tool, or a turn no longer in the file.
    return "continues given text"


def edited_note(s: Session, t: TurnRecord, *, blind: bool = False) -> str | None:
    """How a turn a person changed says so ("✎ edited from gemma's answer"), or None when no
    one did: the adopted model's name went with the edit, and a trial could not tell whose
    words had been changed. Blind: no model named. A loom edit says where it was made."""
    if t.edited_from is None:
        return "✎ edited in loom" if edited_in_loom(t) else None
    seen: set[str] = set()
    was = next((n for n in s.nodes if n.id == t.edited_from), None)
    while was is not None and was.edited_from is not None and was.id not in seen:
        seen.add(was.id)  # an edit of an edit: the answer it began as
        was = next((n for n in s.nodes if n.id == was.edited_from), None)
    if was is None or was.role != "assistant" or was.adopted_model is None:
        return "✎ edited"
    return (
        "✎ edited from an adopted answer"
        if blind
        else f"✎ edited from {was.adopted_model}'s answer"
    )
