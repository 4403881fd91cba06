"""`psmlab annotate`: a person's label, note or rating on one generation (never changing it)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from psmlab.cli.options import SessionArg
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import UsageError


def _note(text: str) -> None:
    sys.stderr.write(terminal_safe(f"psmlab: note: {text}") + "\n")


def annotate(
    session: SessionArg,
    generation_id: Annotated[
        str, typer.Argument(help="Generation id (a unique prefix is enough).")
    ],
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label", "-l", metavar="ARCHETYPE", help="Persona archetype id (repeatable)."
        ),
    ] = None,
    free_label: Annotated[
        list[str] | None,
        typer.Option(
            "--free-label", metavar="TEXT", help="A label in your own words (repeatable)."
        ),
    ] = None,
    self_id: Annotated[
        str | None,
        typer.Option(
            "--self-id",
            help="What the text claims the speaker is: ai, human, mixed (both) or none "
            "(any case, as psmlab agreement reads them).",
        ),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A free-text note.")] = None,
    rating: Annotated[
        int | None, typer.Option("--rating", min=1, max=5, help="Your rating of the generation.")
    ] = None,
    confidence: Annotated[
        float | None,
        typer.Option("--confidence", min=0.0, max=1.0, help="How sure you are of the labels."),
    ] = None,
    evidence: Annotated[
        str | None, typer.Option("--evidence", help="Character range START:END in the text.")
    ] = None,
    quote: Annotated[
        str | None, typer.Option("--quote", help="Evidence given as text found in the generation.")
    ] = None,
    annotator: Annotated[
        str | None,
        typer.Option(
            "--annotator",
            # As default_annotator() does: never the login name (it names an account, not a person).
            help="Who annotates (default: $PSMLAB_ANNOTATOR, else annotator in the config file, "
            "else anonymous).",
        ),
    ] = None,
    blind: Annotated[
        bool, typer.Option("--blind", help="Record that the label was given blind.")
    ] = False,
) -> None:
    """Attach an annotation to a generation (the generation itself is never changed)."""
    from psmlab.core.domain.personas import load_personas
    from psmlab.core.domain.selfid import SELF_IDS
    from psmlab.core.measure.label_values import SELF_ID, archetype_name, normalize
    from psmlab.core.session.file import open_session, resolve_path
    from psmlab.core.session.records import quote_evidence
    from psmlab.core.session.relabel import relabel_note
    from psmlab.core.session.schema import Annotation, Span, default_annotator

    who = annotator or default_annotator()
    personas, _ = load_personas()
    known = {p.id for p in personas}
    # "Helpful Assistant" and "helpful_assistant" name helpful-assistant, as agreement reads
    # them; recorded as the id.
    label = [archetype_name(x) for x in label or []]
    for x in label:
        if x not in known:
            raise UsageError(
                f"unknown persona archetype '{x}' (known: {', '.join(sorted(known))})",
                "use --free-label for a label in your own words",
            )
    for x in free_label or []:
        # Free labels and archetypes share the annotation's list: one spelled as an archetype
        # would be read as that archetype by `agreement` (a trial's --free-label hal-9000 was).
        if archetype_name(x) in known:
            raise UsageError(
                f"--free-label {x!r} is the name of the archetype {archetype_name(x)!r}, and "
                "would be read as that archetype",
                f"give it as --label {archetype_name(x)}, or say it in other words",
            )
    labels = [*label, *(free_label or [])]
    if self_id is not None:
        # The spellings psmlab agreement reads ("Human", "both", "neither"), recorded as the
        # codebook's label, so a label given here compares with one read from a file.
        try:
            self_id = normalize(self_id, SELF_ID, "--self-id")
        except UsageError:
            raise UsageError(
                f"--self-id {self_id!r} is not a self-id (read in any case; both = mixed, "
                "neither = none)",
                f"use one of: {', '.join(SELF_IDS)}",
            ) from None
    if not labels and note is None and rating is None and self_id is None:
        given = "--quote" if quote else "--evidence" if evidence else None
        raise UsageError(
            f"{given} marks the evidence for a label, and no label is given"
            if given
            else "the annotation is empty",
            "give --label, --free-label, --self-id, --note or --rating"
            + (" with it" if given else ""),
        )
    with open_session(resolve_path(session)) as sf:
        g = sf.session.find_generation(generation_id)
        span = None
        if evidence:
            try:
                start, end = (int(x) for x in evidence.split(":"))
                span = Span(start=start, end=end)
            except ValueError:  # also pydantic's ValidationError (negative or reversed range)
                raise UsageError(
                    f"--evidence {evidence!r} is not a range START:END with 0 <= START <= END",
                    "e.g. --evidence 0:42",
                ) from None
            if span.end > len(g.full_text):
                raise UsageError(
                    f"--evidence {evidence} ends past the text ({len(g.full_text)} characters)",
                    f"give a range inside 0:{len(g.full_text)}, or --quote TEXT",
                )
            prefilled = len(g.prefill or "")
            if (
                prefilled and span.end <= prefilled
            ):  # as --quote: the user's own words, not the model's
                raise UsageError(
                    f"--evidence {evidence} is in the prefill only (0:{prefilled}): text the model "
                    "was given, not its words",
                    f"give a range reaching past {prefilled}, where the model's text begins",
                )
        elif quote:
            span, again = quote_evidence(
                g.full_text, quote, what="the --quote text", given=len(g.prefill or "")
            )
            if again:  # the first is kept: said, so a person can choose another
                _note(f"{again} (or give --evidence START:END)")
        new = Annotation(
            generation_id=g.id,
            labels=labels,
            self_id=self_id,
            note=note,
            rating=rating,
            confidence=confidence,
            evidence=span,
            annotator=who,
            blind=blind,
        )
        notes = sf.session.annotation_notes(new)
        ann = sf.session.annotate(new)
        sf.save()
    if relabelled := relabel_note(
        sf.session, saved=True
    ):  # saved with the annotation: said, not silent
        notes.insert(0, relabelled)
    for n in notes:
        _note(n)
    shown = [*([f"self-id {self_id}"] if self_id else []), *labels]
    typer.echo(
        f"{ann.id} on {g.id} ({terminal_safe(g.model)}): {terminal_safe(', '.join(shown) or '-')}"
    )
