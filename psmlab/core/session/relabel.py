"""A session's automatic labels read again when the marker rules changed since they were made."""

from __future__ import annotations

from psmlab.core.domain.classify import LABELLER, classify
from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.session.schema import Session


def relabel_stale(session: Session) -> int:
    """Label again, in place, every marker-rule label that other rules (or rules from before
    the fingerprint was kept) gave, as a run would label the same text today: the stored label
    is derived from the text, and showing an older rules' reading beside today's numbers would
    mislead. A judge's labels are the judge's and stay. Returns how many were read again."""
    now = rules_fingerprint()
    stale = [a for a in session.auto_labels if a.method == LABELLER and a.rules != now]
    if not stale:
        return 0
    gens = {g.id: g for g in session.generations}
    personas = load_personas()[0]
    questions: dict[str | None, str | None] = {}
    done = 0
    for rec in stale:
        g = gens.get(rec.generation_id)
        if g is None:
            continue  # a label without its answer: nothing to read
        if g.node not in questions:  # what the answer answers: the last user turn before it
            path = session.path(g.node)
            questions[g.node] = next((t.content for t in reversed(path) if t.role == "user"), None)
        auto = classify(g.text, personas, question=questions[g.node], prefill=g.prefill)
        rec.labels, rec.hits = list(auto.labels), list(auto.hits)
        rec.self_id, rec.self_id_hits, rec.rules = auto.self_id, auto.self_id_hits, auto.rules
        done += 1
    session.mark_relabelled(done)
    return done


def relabel_note(session: Session, *, saved: bool | None) -> str | None:
    """What loading did to the session's labels, in one line, or None when nothing. `saved`:
    whether the command wrote the session (and the new labels with it), left the file as it
    was (False), or will write it with its next change (None: the lab)."""
    n = session.relabelled
    if not n:
        return None
    return (
        f"{n} automatic label{'s' if n != 1 else ''} made by other (or unrecorded) marker rules "
        f"{'were' if n != 1 else 'was'} read again by today's (rules {rules_fingerprint()}); "
        + (
            "the session keeps the new ones"
            if saved
            else "the file is unchanged"
            if saved is False
            else "kept when the session is next saved"
        )
    )
