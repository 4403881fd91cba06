"""A session's label sources on one field: its automatic labels (recorded, or recomputed with the
marker rules), each annotator's, and the people's label where the annotators agree, blind or not."""

from __future__ import annotations

from dataclasses import dataclass

from psmlab.core.errors import UsageError
from psmlab.core.measure.label_values import ARCHETYPES, NOT_ARCHETYPES, SELF_ID, Labels, Value
from psmlab.core.session.schema import Annotation, GenerationRecord, Session

SESSION_FIELDS = (SELF_ID, ARCHETYPES)


def annotated_blind(a: Annotation) -> bool:
    """Blind: recorded so, in blind mode (Ctrl+B in the lab) or with `psmlab annotate --blind`.
    A session made by `experiment-annotate --blind` is not enough by itself: an annotator may
    have exported it (the export names the models) or revealed the models in the lab."""
    return a.blind


def _human_value(a: Annotation, field_name: str, archetype_ids: frozenset[str]) -> Value | None:
    """What one annotation says on the field, or None when it says nothing on it. On archetypes,
    an annotation with labels counts (free labels are no archetypes and are left out; a note or
    a self-id alone is no archetype label)."""
    if field_name == SELF_ID:
        return a.self_id
    if not a.labels:
        return None
    return frozenset(x for x in a.labels if x in archetype_ids)


def _auto_value(
    session: Session, g: GenerationRecord, field_name: str, archetype_ids: frozenset[str]
) -> tuple[Value, str | None]:
    """The automatic label of a generation and the labeller that recorded it (None: recomputed
    here with the marker rules on the generation's text, as the recorder does)."""
    from psmlab.core.domain.classify import classify
    from psmlab.core.domain.personas import load_personas
    from psmlab.core.domain.selfid import self_identify

    rec = session.auto_label(g.id)
    if field_name == SELF_ID:
        # Records made before the self-identification axis existed have none: recompute it.
        recorded = getattr(rec, "self_id", None) if rec is not None else None
        if recorded:
            return str(recorded), rec.method if rec is not None else None
        last = session.history_of(g).last_user
        return self_identify(g.text, question=last, prefill=g.prefill).label, None
    if rec is not None:
        return frozenset(rec.labels) - NOT_ARCHETYPES, rec.method
    auto = classify(
        g.text, load_personas()[0], question=session.history_of(g).last_user, prefill=g.prefill
    )
    return frozenset(auto.labels) - NOT_ARCHETYPES, None


@dataclass
class SessionLabels:
    """A session's label sources on one field: the automatic labels, each annotator's, and the
    people's label where the annotators agree (`people.disputed`: where they do not)."""

    auto: Labels
    annotators: dict[str, Labels]
    people: Labels
    recorded: int  # automatic labels read from the session
    recomputed: int  # automatic labels computed here (none recorded for that field)
    methods: list[str]


def _archetype_ids() -> frozenset[str]:
    from psmlab.core.domain.personas import load_personas

    return frozenset(p.id for p in load_personas()[0])


def agreed(annotators: dict[str, Labels]) -> Labels:
    """The people's label of each generation, where every annotator who labelled it (their latest
    label) gives the same one; blind when every one of them labelled it blind. A generation they
    label differently is `disputed`: which label came last settles nothing. One labelled by one
    of several annotators is kept, and counted in `single` (the comparison says so)."""
    people = Labels(name="people (where the annotators agree)", human=True)
    for gid in dict.fromkeys(k for a in annotators.values() for k in a.values):
        who = [a for a in annotators.values() if gid in a.values]
        said = {a.values[gid] for a in who}
        if len(said) > 1:
            people.disputed.add(gid)
            continue
        people.values[gid] = said.pop()
        if len(who) == 1 and len(annotators) > 1:
            people.single.add(gid)
        if all(gid in a.blind for a in who):
            people.blind.add(gid)
    if people.single:
        # Named as it is: items one person read are in it, not only agreed ones (a trial read
        # "where the annotators agree" of a row that held such items; only a note said so).
        people.name = "people (where the annotators agree, or one read it)"
    return people


def session_labels(session: Session, field_name: str, name: str = "session") -> SessionLabels:
    """Every label source a session holds on `field_name` (self_id or archetypes)."""
    if field_name not in SESSION_FIELDS:
        raise UsageError(
            f"a session holds no '{field_name}' labels",
            "use --field self_id or --field archetypes with a session",
        )
    ids = _archetype_ids() if field_name == ARCHETYPES else frozenset()
    gens = {g.id: g for g in session.generations}
    auto = Labels(name="automatic")
    recorded = recomputed = 0
    methods: list[str] = []
    for g in session.generations:
        value, method = _auto_value(session, g, field_name, ids)
        auto.values[g.id] = value
        if method is None:
            recomputed += 1
        else:
            recorded += 1
            if method not in methods:
                methods.append(method)
    annotators: dict[str, Labels] = {}
    for a in session.annotations:  # in order: a later annotation replaces an earlier one
        said = _human_value(a, field_name, ids)
        gen = gens.get(a.generation_id)
        if said is None or gen is None:
            continue
        src = annotators.setdefault(a.annotator, Labels(a.annotator, human=True))
        src.values[gen.id] = said
        if annotated_blind(a):
            src.blind.add(gen.id)
        else:
            src.blind.discard(gen.id)
    people = agreed(annotators)
    if recomputed and "markers" not in methods:
        methods.append("markers")  # recomputed with the marker rules (the counts say how many)
    auto.name = "automatic (" + ", ".join(methods) + ")" if methods else "automatic"
    return SessionLabels(auto, annotators, people, recorded, recomputed, methods)
