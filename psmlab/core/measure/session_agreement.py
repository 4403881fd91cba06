"""Agreement within one session: its automatic labels vs each annotator, annotator vs annotator,
and Krippendorff's alpha over all annotators (what `psmlab agreement SESSION.json` reports)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as _field  # the class below has a `field` of its own
from itertools import combinations
from pathlib import Path
from typing import Any

from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.errors import PsmlabError
from psmlab.core.measure.agreement import (
    RESAMPLES,
    compare_labels,
    load_session,
    no_human_labels,
)
from psmlab.core.measure.coefficients import Label, bootstrap_alpha, krippendorff_alpha
from psmlab.core.measure.kappa import ABSENT, PRESENT, Agreement, none_if_nan
from psmlab.core.measure.label_values import ARCHETYPES, SELF_ID, Labels, as_set
from psmlab.core.measure.session_labels import session_labels


@dataclass
class SessionAgreement:
    """One session on one field: automatic labels vs each annotator (and vs everyone's latest
    label when several annotated), annotator vs annotator, and Krippendorff's alpha over all
    annotators (missing labels allowed)."""

    session: str
    field: str
    generations: int
    auto: str
    recorded: int
    recomputed: int
    annotators: dict[str, dict[str, int]]  # name -> {"items": labelled, "blind": of them blind}
    vs_auto: list[Agreement]
    between: list[Agreement]
    alpha: float  # NaN with fewer than two annotators
    alpha_items: int  # items at least two annotators labelled
    # alpha's 95% percentile bootstrap interval over those items (NaN: none, or undefined)
    alpha_ci: tuple[float, float] = (math.nan, math.nan)
    # Of the recorded labels, how many other marker rules had made: read again by today's.
    relabelled: int = 0
    rules: str = ""
    notes: list[str] = _field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "field": self.field,
            "generations": self.generations,
            "automatic": {
                "labeller": self.auto,
                "recorded": self.recorded,
                "recomputed": self.recomputed,
                "relabelled": self.relabelled,
                "rules": self.rules,
            },
            "annotators": self.annotators,
            "blind": sum(x["blind"] for x in self.annotators.values()),
            "automatic_vs_people": [x.to_dict() for x in self.vs_auto],
            "between_annotators": [x.to_dict() for x in self.between],
            "alpha": none_if_nan(self.alpha),
            "alpha_items": self.alpha_items,
            "alpha_ci95": [none_if_nan(x) for x in self.alpha_ci],
            "notes": self.notes,
        }


def _alpha(
    annotators: list[Labels], field_name: str, *, seed: int = 0, resamples: int = RESAMPLES
) -> tuple[float, int, tuple[float, float]]:
    """Krippendorff's alpha over the annotators, how many items two or more of them labelled,
    and alpha's 95% bootstrap interval over those items (an alpha printed alone, a trial)."""
    items = sorted({k for a in annotators for k in a.values})
    groups: list[list[list[Label | None]]] = []
    pairable = 0
    universe = sorted(
        {x for a in annotators for v in a.values.values() for x in as_set(v)}
        if field_name == ARCHETYPES
        else set()
    )
    for k in items:
        got = [a.values.get(k) for a in annotators]
        pairable += sum(v is not None for v in got) >= 2
        if field_name == ARCHETYPES:
            groups.append(
                [
                    [None if v is None else (PRESENT if x in as_set(v) else ABSENT) for v in got]
                    for x in universe
                ]
            )
        else:
            groups.append([list(got)])
    alpha = krippendorff_alpha([u for g in groups for u in g])
    ci = bootstrap_alpha(groups, seed=seed, resamples=resamples)
    return alpha, pairable, ci


def session_agreement(
    path: Path, field_name: str = SELF_ID, *, seed: int = 0, resamples: int = RESAMPLES
) -> SessionAgreement:
    """Everything `psmlab agreement SESSION.json` reports."""
    session = load_session(path)
    labels = session_labels(session, field_name, str(path))
    if not labels.annotators:
        raise no_human_labels(str(path), field_name)
    people = list(labels.annotators.values())
    vs_auto = [
        compare_labels(labels.auto, p, field_name, seed=seed, resamples=resamples) for p in people
    ]
    # The pooled row needs an item two annotators agree on (they may disagree on every one, or
    # each have read other items: then it is no agreement of people, only their readings).
    notes = []
    if len(people) > 1 and any(k not in labels.people.single for k in labels.people.values):
        vs_auto.append(
            compare_labels(labels.auto, labels.people, field_name, seed=seed, resamples=resamples)
        )
    elif len(people) > 1:  # the row is missing: said why, not left out unsaid
        shared = len(labels.people.disputed)
        notes.append(
            f"no row for the people's agreed label: the annotators differ on all {shared} "
            "generation(s) two or more of them labelled"
            if shared
            else "no row for the people's agreed label: no generation was labelled by two "
            "annotators"
        )
    between = []
    for ref, src in combinations(people, 2):
        try:
            between.append(compare_labels(src, ref, field_name, seed=seed, resamples=resamples))
        except PsmlabError:
            continue  # these two labelled no generation in common
    alpha, alpha_items, alpha_ci = (
        _alpha(people, field_name, seed=seed, resamples=resamples)
        if len(people) > 1
        else (math.nan, 0, (math.nan, math.nan))
    )
    return SessionAgreement(
        session=str(path),
        field=field_name,
        generations=len(session.generations),
        auto=labels.auto.name,
        recorded=labels.recorded,
        recomputed=labels.recomputed,
        annotators={
            p.name: {"items": len(p.values), "blind": len(p.blind & set(p.values))} for p in people
        },
        vs_auto=vs_auto,
        between=between,
        alpha=alpha,
        alpha_items=alpha_items,
        alpha_ci=alpha_ci,
        relabelled=session.relabelled,
        notes=notes,
        # Which rules gave the marker labels (none when every label is a judge's).
        rules=rules_fingerprint() if "markers" in labels.methods else "",
    )
