"""`psmlab agreement`: how well one label source agrees with another (kappa, interval, F1, confusion)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer

from psmlab.cli.common import stdout_json
from psmlab.cli.options import JsonOpt
from psmlab.core.domain.stats import fmt2
from psmlab.core.errors import UsageError
from psmlab.views import safe

if TYPE_CHECKING:
    from rich.console import Console

    from psmlab.core.measure.kappa import Agreement
    from psmlab.core.measure.session_agreement import SessionAgreement


def agreement(
    source: Annotated[
        str,
        typer.Argument(
            help="Labels to check: a JSONL file, or a session (alone: its automatic labels vs "
            "its annotators; SESSION.json:auto, :human or :NAME chooses its labels)."
        ),
    ],
    reference: Annotated[
        str | None,
        typer.Argument(help="Labels taken as right (e.g. a gold set): JSONL or a session."),
    ] = None,
    field_name: Annotated[
        str,
        typer.Option(
            "--field",
            help="The label compared: self_id, or archetypes (each archetype present/absent); "
            "JSONL files may name any field (a list compares as a set).",
        ),
    ] = "self_id",
    key: Annotated[
        str,
        typer.Option(
            "--key",
            help="The field that identifies an item in a JSONL file (a file with no such field "
            "matches by line position).",
        ),
    ] = "id",
    ref_field: Annotated[
        str | None,
        typer.Option(
            "--reference-field",
            help="The reference JSONL file's label field, when it is not --field's (e.g. label); "
            "its values are read as --field's.",
        ),
    ] = None,
    ref_key: Annotated[
        str | None,
        typer.Option(
            "--reference-key", help="The reference JSONL file's id field, when it is not --key's."
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="Only items whose JSONL line has this 'split' (dev, test)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap interval.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Compare label sources item by item: Cohen's kappa with a bootstrap 95% interval,
    Krippendorff's alpha, per-class precision/recall/F1 and the confusion matrix (rows: the
    reference). With one session: its automatic labels vs each annotator, and annotator vs
    annotator (alpha over all of them, missing labels allowed)."""

    from psmlab.cli.output import out_console
    from psmlab.core.measure.agreement import (
        compare_labels,
        is_session_file,
        lone_selector_error,
        open_source,
        source_kind,
        split_selector,
    )
    from psmlab.core.measure.session_agreement import session_agreement

    console = out_console(highlight=False)
    if reference is None:
        path, selector = split_selector(source)
        if not path.exists():
            what = "label file" if path.suffix.lower() == ".jsonl" else "session file"
            raise UsageError(f"{what} not found: {source}", "check the path")
        if selector is not None:
            if not is_session_file(path):  # FILE.jsonl:NAME: the suffix is the mistake
                open_source(source, field_name, key)
            raise lone_selector_error(path, selector)
        kind = source_kind(path)
        if kind != "session":
            if kind == "neither":  # a report, a CSV, a TOML: neither kind of source
                raise UsageError(
                    f"{source} is neither a session nor a JSONL label file",
                    "give a session (.json) alone, or two label sources",
                )
            if kind == "json":  # "{}" named .json was called a label file
                raise UsageError(
                    f"{source} holds JSON but not a psmlab session (no schema_version or turns)",
                    "give a session (.json) alone, or two label sources",
                )
            raise UsageError(
                f"{source} is a JSONL label file, and one alone has nothing to agree with",
                "give a second source (JSONL or session), or a session file alone",
            )
        if split is not None:
            raise UsageError("--split needs JSONL label files", "drop --split for a session")
        # A session alone has its own ids and labels: an option naming a file's field would be
        # ignored, and the user would read numbers of something else.
        named = [
            flag
            for flag, given in (
                ("--reference-field", ref_field is not None),
                ("--reference-key", ref_key is not None),
                ("--key", key != "id"),
            )
            if given
        ]
        if named:
            raise UsageError(
                f"{named[0]} names a field of a JSONL file, but {source} is a session",
                f"drop {named[0]}: a session's labels and item ids are its own",
            )
        report = session_agreement(path, field_name, seed=seed)
        if json_out:
            stdout_json({**report.to_dict(), "provenance": _provenance([source])})
        else:
            _print_session(console, report)
        return
    result = compare_labels(
        open_source(source, field_name, key),
        open_source(
            reference,
            field_name,
            ref_key or key,
            ref_field,
            own_key=ref_key is not None,
            # An error on the reference's lines names the options that choose its fields.
            options=("--reference-key", "--reference-field"),
        ),
        field_name,
        split=split,
        seed=seed,
    )
    (a, sa), (b, sb) = split_selector(source), split_selector(reference)
    if (
        a.exists()
        and a.resolve() == b.resolve()
        and sa == sb
        and ref_field in (None, field_name)
        and ref_key in (None, key)
    ):
        # Read the same way twice, a file agrees with itself: kappa 1.00 measures nothing.
        result.notes.append(
            "both sources are the same file read the same way: they agree by construction"
        )
    # What was compared, as the command named it (a script reading the JSON cannot see the
    # command line): the fields, the keys and the bootstrap's seed.
    fields = {
        "field": field_name,
        "reference_field": ref_field or field_name,
        "key": key,
        "reference_key": ref_key or key,
        "split": split,
        "seed": seed,
    }
    if json_out:
        stdout_json({**fields, **result.to_dict(), "provenance": _provenance([source, reference])})
        return
    _print_agreement(console, result, field_name, ref_field)


def _provenance(sources: list[str]) -> dict[str, object]:
    """What was compared and by which code, for a result to be cited: each source's file and
    sha256 as read, the bootstrap's resamples, psmlab's version and code fingerprint."""
    import hashlib

    import psmlab
    from psmlab.core.domain.code_version import code_fingerprint
    from psmlab.core.measure.agreement import RESAMPLES, split_selector

    files = []
    for arg in sources:
        path, selector = split_selector(arg)
        files.append(
            {
                "source": arg,
                "file": str(path.resolve()),
                "selector": selector,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None,
            }
        )
    return {
        "files": files,
        "bootstrap_resamples": RESAMPLES,
        "psmlab": psmlab.__version__,
        "psmlab_code": code_fingerprint(),
    }


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else fmt2(x)


def _interval(ci: tuple[float, float]) -> str:
    lo, hi = ci
    return "n/a" if math.isnan(lo) or math.isnan(hi) else f"{_num(lo)} to {_num(hi)}"


def _f1_interval(ci: tuple[float, float], support: int) -> str:
    """A class's F1 interval, unless a bootstrap over a handful of its items collapsed to a
    point (a trial read "1.00 to 1.00" for one item as a precise result)."""
    lo, hi = ci
    if support < 5 and lo == hi:
        return f"n/a (support {support}: too few to resample)"
    return _interval(ci)


def _print_agreement(
    console: Console, result: Agreement, field_name: str, ref_field: str | None = None
) -> None:
    from rich.table import Column, Table

    lo, hi = result.kappa_ci
    per = "" if result.comparison == "label" else f" ({result.comparison})"
    # No kappa (too few items, or one label on both sides): no interval to claim either.
    ci = (
        "no interval"
        if math.isnan(lo) or math.isnan(hi)
        else f"95% bootstrap interval {_num(lo)} to {_num(hi)}"
    )
    # Per archetype the confusion counts item x archetype decisions, not items: say both, or the
    # matrix seems to disagree with n.
    n = (
        f"n={result.n}"
        if result.comparison == "label"
        else f"n={result.n} items, {result.decisions} item x archetype decisions"
    )
    console.print(
        safe(
            f"{result.source} vs {result.reference} (reference) on '{field_name}'"
            + (f" vs '{ref_field}'" if ref_field and ref_field != field_name else "")
            + f"{per}: "
            f"{n}, accuracy {_num(result.accuracy)}, Cohen's kappa {_num(result.kappa)} "
            f"({ci}), Krippendorff's alpha {_num(result.alpha)}"
            + ("" if math.isnan(result.alpha) else f" ({_interval(result.alpha_ci)})")
        )
    )
    for who, k in result.blind.items():
        console.print(safe(f"blind: {k} of {result.n} labels by {who}"))
    # The notes say why kappa is missing (one label on both sides) or its interval weak (few
    # items), as --json's `notes` do.
    for note in result.notes:
        console.print(safe(f"note: {note}"))
    if not math.isnan(result.kappa) and not math.isnan(lo) and result.unreliable:
        console.print(
            "the interval includes 0: on these items it cannot be told from chance", markup=False
        )
    first = "archetype" if result.comparison != "label" else "class"
    table = Table(first, "precision", "recall", "F1", "F1 95% CI", "support (reference)")
    for c in result.classes:
        table.add_row(
            safe(c.label),
            _num(c.precision),
            _num(c.recall),
            _num(c.f1),
            _f1_interval(c.f1_ci, c.support),
            str(c.support),
        )
    console.print(table)
    labels = list(result.confusion)
    # Headers are plain text here (Column(header=Text)): label names are never markup.
    conf = Table(
        Column(header=safe("reference \\ source")), *(Column(header=safe(s)) for s in labels)
    )
    for r in labels:
        conf.add_row(safe(r), *(str(result.confusion[r][s]) for s in labels))
    console.print(conf)


def _print_session(console: Console, report: SessionAgreement) -> None:
    blind = sum(x["blind"] for x in report.annotators.values())
    labelled = sum(x["items"] for x in report.annotators.values())
    who = ", ".join(
        f"{name} ({x['items']} labelled, {x['blind']} blind)"
        for name, x in report.annotators.items()
    )
    console.print(
        safe(
            f"{report.session}: {report.generations} generation"
            f"{'s' * (report.generations != 1)}; annotators: {who}; "
            f"{blind} of {labelled} human labels blind"
        )
    )
    console.print(
        safe(
            f"automatic labels: {report.auto}; {report.recorded} recorded in the session, "
            f"{report.recomputed} recomputed with the marker rules"
            + (
                f" ({report.relabelled} of those recorded had been made by other rules and "
                "were read again)"
                if report.relabelled
                else ""
            )
            + (f"; rules {report.rules}" if report.rules else "")
        )
    )
    console.print()
    console.print("== automatic labels vs people ==", markup=False)
    for result in report.vs_auto:
        _print_agreement(console, result, report.field)
    for note in report.notes:
        console.print(safe(f"note: {note}"))
    if len(report.annotators) > 1:
        console.print()
        console.print("== annotator vs annotator ==", markup=False)
        console.print(
            safe(
                f"Krippendorff's alpha over {len(report.annotators)} annotators: "
                f"{_num(report.alpha)}"
                + (
                    ""
                    if math.isnan(report.alpha)
                    else f", 95% bootstrap interval {_interval(report.alpha_ci)}"
                )
                + f" ({report.alpha_items} generation"
                f"{'s' * (report.alpha_items != 1)} labelled by two or more"
                # Why there is no number: nothing to pair, or one label only (0/0).
                + (
                    ""
                    if not math.isnan(report.alpha)
                    else "; alpha needs two readings of one generation"
                    if not report.alpha_items
                    else "; every label is the same, so alpha is undefined"
                )
                + ")"
            )
        )
        if not report.between:
            console.print("no two annotators labelled the same generation", markup=False)
        for result in report.between:
            _print_agreement(console, result, report.field)
