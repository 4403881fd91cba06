"""Who wrote an adopted turn's start: the text a model was given to continue is not its own."""

from __future__ import annotations

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
