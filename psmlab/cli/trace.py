"""`psmlab trace`: each answer of a saved session projected on a control vector, turn by turn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import psmlab
from psmlab.cli.common import stdout_json
from psmlab.cli.options import JsonOpt, SessionArg, ThreadsOpt
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import UsageError
from psmlab.core.session.records import added_note, reference_note
from psmlab.core.session.tree import answer_place

if TYPE_CHECKING:
    from psmlab.core.inside.monitor import TurnProjection
    from psmlab.core.session.schema import Session


def trace(
    session: SessionArg,
    vector: Annotated[
        Path,
        typer.Option("--vector", help="A control-vector GGUF (psmlab vectors build, llama.cpp)."),
    ],
    branch: Annotated[
        int | None,
        typer.Option("--branch", min=1, help="Branch number (see psmlab tree); default: current."),
    ] = None,
    threads: ThreadsOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print, per turn and model, the mean projection of each answer's residual stream on the
    vector's unit direction per layer (* marks adopted answers), and the drift along the branch."""
    from psmlab.core.inside.fit import unit_directions, vector_label
    from psmlab.core.inside.monitor import drift, trace_session, vector_info
    from psmlab.core.models.cvec import llama_cpp_version, read_cvec
    from psmlab.core.models.spec import default_threads
    from psmlab.core.session.file import load, resolve_path

    path = resolve_path(Path(session))
    s = load(path)
    vec = read_cvec(vector)
    unit_directions(vec, vector)  # nothing to project on: said naming the file
    branch_end = None
    if branch is not None:
        leaves = s.leaves()
        if branch > len(leaves):
            raise UsageError(
                f"there is no branch {branch}: the session has {len(leaves)}",
                "list branches with psmlab tree SESSION",
            )
        branch_end = leaves[branch - 1]
    warnings: list[str] = []
    rows = trace_session(
        s, vec, branch_end=branch_end, n_threads=threads or default_threads(), warnings=warnings
    )
    for w in warnings:
        sys.stderr.write(f"psmlab: warning: {terminal_safe(w)}\n")
    layers = sorted(unit_directions(vec))  # a zero direction has nothing to project on
    d = drift(rows)
    ends = sorted((r for r in rows if r.adopted and r.skipped is None), key=lambda r: r.turn)
    # An end re-read under its control vector carries what steering added at the steered layers
    # (alpha times the steering vector, projected): a difference of two steerings, at other
    # layers or strengths, read as the persona drifting.
    drift_note = (
        "an end of the drift was steered (re-read under its control vector): the difference "
        "includes what steering added, not only how the answers drifted"
        if d is not None and (ends[0].steered or ends[-1].steered)
        else None
    )
    if json_out:
        stdout_json(
            {
                "session": str(path),
                "branch_end": branch_end or s.head,
                # As --monitor records a vector: its resolved file and sha256, and who built it.
                "vector": {
                    **vector_info(vec, vector),
                    "built_for_sha256": vec.metadata.get("psmlab.model_sha256"),
                    "method": vec.metadata.get("psmlab.method"),
                },
                "provenance": {
                    "psmlab": psmlab.__version__,
                    "llama_cpp_python": llama_cpp_version(),
                },
                "value": "mean over the answer's tokens (a stop string's left out) of l_out-L "
                "projected on the unit vector",
                # `turn`: the answer's place in the transcript, numbered as the text output, adopt
                # and the export number it; `prompt_turns`: how many turns its prompt held.
                "rows": [
                    {
                        **r.to_dict(),
                        "turn": _place(s, r),
                        "prompt_turns": r.turn,
                        "run": _run_no(s, r),
                    }
                    for r in rows
                ],
                "drift": None if d is None else {str(L): v for L, v in d.items()},
                "drift_note": drift_note,
                "warnings": warnings,
            }
        )
        _none_read(rows)
        return
    name = vec.metadata.get("psmlab.archetype") or vector.name
    typer.echo(
        terminal_safe(
            f"{s.title}: {len(rows)} answers on {'branch ' + str(branch) if branch else 'the current branch'}; "
            f"vector {name} ({_built_for(vector_label(vec))})"
        )
    )
    typer.echo(
        "value: mean projection of the answer's residual stream at layer L (l_out-L) on the unit "
        "vector, over its n answer tokens (a stop string's left out); turn: the answer's place "
        "in the transcript, numbered as adopt and export number it; run: which of the model's "
        "runs at that turn (as the lab's run 2/3); * = the adopted answer of that turn"
    )
    ref = reference_note(vector_info(vec, vector), layers)
    if ref:
        typer.echo(f"its build's {ref} (answers' means: a value is read against these)")
    head = f"{'turn':>4}   {'model':<24} {'run':>3} {'sample':>6} {'n':>5} " + " ".join(
        f"{'L' + str(L):>9}" for L in layers
    )
    typer.echo(head)
    if any(r.steered for r in rows):
        typer.echo(
            "(steered): the answer was re-read under the control vector it was made with; at a "
            "layer the vector is added to, its own part is said (subtract it to compare)"
        )
    for r in rows:
        lead = (
            f"{_place(s, r):>4} {'*' if r.adopted else ' '} {r.model[:24]:<24} "
            f"{_run_no(s, r):>3} {r.sample + 1:>6} {r.n_tokens:>5} "
        )
        if r.skipped:
            typer.echo(terminal_safe(lead + f"skipped: {r.skipped}"))
        else:
            mark = (
                f"  (steered{'; ' + added_note(r.added) if r.added else ''})" if r.steered else ""
            )
            mark += "  (vector built for another model)" if r.note else ""
            mark += "  (made otherwise than its held-out answers: see below)" if r.baseline else ""
            typer.echo(
                terminal_safe(lead + " ".join(f"{r.projection[L]:>9.3f}" for L in layers) + mark)
            )
    for why in dict.fromkeys(r.baseline for r in rows if r.baseline and not r.skipped):
        # Said whole once per reason: the held-out means above are another setting's offset.
        typer.echo(terminal_safe(f"note: {why}"))
    if d is None:
        n = sum(1 for r in rows if r.adopted and not r.skipped)
        skipped = sum(1 for r in rows if r.adopted and r.skipped)
        more = f", {skipped} more skipped" if skipped else ""
        typer.echo(f"drift: needs two adopted answers on the branch (found {n} read{more})")
    else:
        adopted = sorted((r for r in rows if r.adopted and not r.skipped), key=lambda r: r.turn)
        typer.echo(
            f"drift (last adopted minus first, turn {_place(s, adopted[0])} -> {_place(s, adopted[-1])}): "
            + "  ".join(f"L{L} {d[L]:+.3f}" for L in layers)
        )
        if drift_note:
            typer.echo(f"note: {drift_note}")
    _none_read(rows)


def _none_read(rows: list[TurnProjection]) -> None:
    """Answers there were, and none could be read: an error (after the rows, which say why
    each was skipped), not exit 0 with nothing measured, which a script took for success."""
    if rows and all(r.skipped for r in rows):
        # The session's own files at fault for every row: that fix; else the vector's.
        fixes = {r.skip_fix for r in rows}
        fix = fixes.pop() if len(fixes) == 1 else None
        raise UsageError(
            f"no answer could be read on this vector ({len(rows)} skipped: {rows[0].skipped})",
            # The session's own files gone or changed: another vector would not help.
            fix
            or "trace with a vector built for the session's models (psmlab vectors build -m MODEL)",
        )


def _built_for(label: str) -> str:
    """ "built for sha256 …", or that the vector records no model."""
    return label if label == "no recorded model" else f"built for {label}"


def _run_no(s: Session, r: TurnProjection) -> int:
    """Which of its model's runs at that turn the answer is, from 1 as the lab's "run 2/3" says
    (two runs' rows read the same without it)."""
    runs = s.runs(r.model, r.node)
    return next((i + 1 for i, run in enumerate(runs) if any(g.id == r.generation for g in run)), 0)


def _place(s: Session, r: TurnProjection) -> int:
    """The answer's place in the transcript, as adopt and the export number turns."""
    return answer_place(s.nodes, r.node, r.turn)
