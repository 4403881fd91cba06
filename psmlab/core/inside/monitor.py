"""Projections of answers on a control vector: per answer and per token, for a branch (drift) or a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.errors import LayerError, PsmlabError
from psmlab.core.inside.fit import (
    baseline_note,
    mismatch,
    unit_directions,
    vector_label,
    zero_built_layers,
)
from psmlab.core.inside.reading import Model, Skip, project
from psmlab.core.inside.vector_checks import held_of, reference, spread, verdict
from psmlab.core.models.cvec import ControlVector
from psmlab.core.models.hashing import file_sha256
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import VECTOR_SHA, shape_misfit
from psmlab.core.session.found import spec_for_record
from psmlab.core.session.schema import (
    GenerationRecord,
    ProjectionRecord,
    Session,
)


@dataclass
class TurnProjection:
    """One generation's answer: per layer, the mean of its generated tokens' residual stream
    (`l_out-L`) projected on the vector's unit direction. `skipped` says why there is none."""

    turn: int
    node: str | None
    generation: str
    model: str
    sample: int
    adopted: bool
    projection: dict[int, float] = field(default_factory=dict)
    n_tokens: int = 0
    skipped: str | None = None
    skip_fix: str | None = None  # what to do when skipping is not the vector's fault
    # Per layer, each generated token's projection (the answer's mean is their mean).
    per_token: dict[int, list[float]] = field(default_factory=dict)
    steered: bool = False  # re-read under the control vector the answer was generated with
    # Per steered layer, the part of each token's value that is the control vector itself
    # (llama.cpp adds it to l_out, which is what is read): +alpha x its component on the unit.
    added: dict[int, float] = field(default_factory=dict)
    # Measured, but the vector records another model file: its directions may mean nothing here.
    note: str | None = None
    # Measured, but not as the vector's held-out answers were made (their means are no baseline).
    baseline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "node": self.node,
            "generation": self.generation,
            "model": self.model,
            "sample": self.sample,
            "adopted": self.adopted,
            "projection": {str(L): v for L, v in self.projection.items()},
            "n_tokens": self.n_tokens,
            "skipped": self.skipped,
            "steered": self.steered,
            "added": {str(L): v for L, v in self.added.items()},
            "note": self.note,
            "baseline": self.baseline,
            "per_token": {str(L): v for L, v in self.per_token.items()},
        }


def vector_info(vector: ControlVector, path: str | Path) -> dict[str, Any]:
    """How a projection names its vector: the file, its sha256, what it is, its layers."""
    return {
        "file": str(Path(path).expanduser().resolve()),
        "sha256": file_sha256(path),
        "archetype": vector.metadata.get("psmlab.archetype"),
        "model": vector_label(vector),  # as said beside the numbers
        # The same, whole and apart, for a script (the label cuts the sha256 to 12 digits).
        "model_sha256": str(vector.metadata.get(VECTOR_SHA) or "") or None,
        "model_id": built
        if isinstance(built := vector.metadata.get("psmlab.model"), str)
        else None,
        "layers": sorted(unit_directions(vector)),  # the layers projected on (zero ones are not)
        # Per layer, the held-out answer means its build measured (what a value is read against).
        "reference": reference(held_of(vector.metadata)),
        # ... and their spread (sd of the answers on each side), where the file records it.
        "spread": spread(held_of(vector.metadata)),
        # Layers whose held-out test the file records as failed, and how: a projection there
        # does not measure what the file is named for (a trial's Gemma readout, AUROC 0.50,
        # was shown bare).
        "failed": {
            str(L): why
            for L, h in held_of(vector.metadata).items()
            if isinstance(h, dict) and (why := verdict(h))
        },
    }


def record(session: Session, rows: list[TurnProjection], info: dict[str, Any]) -> None:
    """Keep the rows in the session (replacing earlier ones for the same answer and vector)."""
    done = {r.generation for r in rows}
    session.projections = [
        x
        for x in session.projections
        if not (x.generation_id in done and x.vector.get("sha256") == info["sha256"])
    ]
    for r in rows:
        session.projections.append(
            ProjectionRecord(
                generation_id=r.generation,
                vector=info,
                projection={str(L): v for L, v in r.projection.items()},
                per_token={str(L): v for L, v in r.per_token.items()},
                steered=r.steered,
                added={str(L): v for L, v in r.added.items()},
                skipped=r.skipped,
                note=r.note,
                baseline=r.baseline,
            )
        )


def branch_generations(session: Session, branch_end: str | None = None) -> list[GenerationRecord]:
    """The generations made on one branch (default: the current one, up to the head): those
    whose prompt ended at a turn of the branch, or held no turn at all."""
    end = session.head if branch_end is None else session.node(branch_end).id
    on_path = {t.id for t in session.path(end)}
    order = {m.id: i for i, m in enumerate(session.models)}
    gens = [g for g in session.generations if g.node is None or g.node in on_path]
    return sorted(gens, key=lambda g: (g.turn, order.get(g.model, len(order)), g.sample, g.created))


def drift(rows: list[TurnProjection]) -> dict[int, float] | None:
    """Per layer: the last adopted answer's projection minus the first's (None: fewer than two)."""
    adopted = sorted((r for r in rows if r.adopted and r.skipped is None), key=lambda r: r.turn)
    if len(adopted) < 2:
        return None
    first, last = adopted[0], adopted[-1]
    return {L: last.projection[L] - first.projection[L] for L in first.projection}


def trace_session(
    session: Session,
    vector: ControlVector,
    *,
    branch_end: str | None = None,
    n_threads: int = 1,
    warnings: list[str] | None = None,
) -> list[TurnProjection]:
    """Re-evaluate each answer on a branch (the prompt it saw plus its recorded tokens) with
    capture on the vector's layers; one row per generation, in turn order."""
    path = session.path(session.head if branch_end is None else session.node(branch_end).id)
    adopted = {t.adopted_from for t in path if t.adopted_from}
    gens = branch_generations(session, branch_end)
    return measure(session, vector, gens, adopted=adopted, n_threads=n_threads, warnings=warnings)


def measure(
    session: Session,
    vector: ControlVector,
    gens: list[GenerationRecord],
    *,
    adopted: set[str] | None = None,
    n_threads: int = 1,
    warnings: list[str] | None = None,
) -> list[TurnProjection]:
    """One row per generation in `gens`: its answer re-read with capture on the vector's layers.

    Generations of server models, or of models the vector does not fit (width, layers), get a
    row with `skipped` set. A vector that records another model file is applied where it fits,
    as steering applies it (a requantised copy is another file): each such row says so in
    `note`, and a warning too."""
    warnings = warnings if warnings is not None else []
    adopted = adopted or set()
    units = unit_directions(vector)
    if zero := zero_built_layers(vector, units):
        warnings.append(
            f"layer {', '.join(map(str, zero))} of the vector is zero (its file says it was built "
            "there): not read"
        )
    usable, why, foreign, fixes = _usable(session, vector, gens, warnings)
    rows: list[TurnProjection] = []
    opened: dict[str, Model] = {}
    try:
        for g in gens:
            # The answer's own tokens, as a read counts them (a stop string's left out): a
            # skipped row gave all its tokens, 14 beside the same answer's 11 (a trial).
            row = TurnProjection(
                g.turn,
                g.node,
                g.id,
                g.model,
                g.sample,
                g.id in adopted,
                n_tokens=_own_tokens(g),
            )
            if g.model not in why and g.model not in opened:
                try:
                    opened[g.model] = m = Model(usable[g.model], sorted(units), n_threads)
                except LayerError as exc:  # a layer this model does not have
                    # Monitoring cannot choose layers: the vector's are the ones read, so the
                    # way out is a vector built for this model, not "pick layers".
                    why[g.model] = (
                        f"layer {exc.layer} "
                        + ("cannot be read" if exc.exists else "does not exist")
                        + f" in this model ({exc.n_layer} layers): the vector's layers are "
                        f"{','.join(map(str, sorted(units)))}"
                        # Said only when the file records a model: a guess otherwise.
                        + (
                            " (it was built for another model)"
                            if vector.metadata.get(VECTOR_SHA)
                            else ""
                        )
                    )
                else:
                    if m.cap.n_embd != vector.n_embd:
                        why[g.model] = (
                            f"the vector's directions have {vector.n_embd} values; {g.model} "
                            f"needs {m.cap.n_embd}"
                        )
            if g.model in why:
                row.skipped, row.skip_fix = why[g.model], fixes.get(g.model)
            else:
                try:
                    r = project(opened[g.model], session, g, units)
                except Skip as skip:
                    row.skipped, row.skip_fix = str(skip), skip.fix
                else:
                    row.projection, row.per_token, row.added = r.projection, r.per_token, r.added
                    row.n_tokens = r.n_tokens
                    row.steered = bool(g.params.get("steer"))
                    row.baseline = baseline_note(vector, g)
                row.note = foreign.get(g.model)
            rows.append(row)
    finally:
        for m in opened.values():
            m.close()
    for mid, note in foreign.items():
        # Said only of a model it was read on (one whose layers or width do not fit is skipped,
        # and its row says why).
        if any(r.model == mid and r.note for r in rows):
            warnings.append(
                f"{mid}: {note.removesuffix(': its directions may mean nothing here')}; read all "
                "the same, as steering applies it (a requantised copy is another file): its "
                "directions may mean nothing here; for a vector of this model, psmlab vectors "
                "build -m MODEL"
            )
    return rows


def _usable(
    session: Session, vector: ControlVector, gens: list[GenerationRecord], warnings: list[str]
) -> tuple[dict[str, ModelSpec], dict[str, str], dict[str, str], dict[str, str]]:
    """Which models can be read (local, found again), why not, which of them the vector says
    it was not built for (read all the same, as steering applies it: the note), and what to do
    where the session's own files are at fault (no other vector would help)."""
    usable: dict[str, ModelSpec] = {}
    why: dict[str, str] = {}
    foreign: dict[str, str] = {}
    fixes: dict[str, str] = {}
    for mid in dict.fromkeys(g.model for g in gens):
        rec = session.model(mid)
        if rec is None:
            why[mid] = "the model is not in the session's model list"
        elif rec.endpoint:
            why[mid] = "a server model: psmlab cannot read its activations"
            fixes[mid] = "read a session made with the model's GGUF file (-m FILE.gguf)"
        else:
            try:
                spec = spec_for_record(rec, warnings)
                sha = spec.sha256() or ""
            except (PsmlabError, OSError) as exc:
                why[mid] = exc.one_line() if isinstance(exc, PsmlabError) else str(exc)
                fixes[mid] = f"put the model file back at {rec.path}"
                continue
            if rec.sha256 and sha != rec.sha256:
                why[mid] = f"{spec.path} is not the file the session recorded (sha256 differs)"
                fixes[mid] = f"put the recorded model file back at {spec.path}"
                continue
            # Only the width here: a layer the model lacks is said per row, once it is read.
            if bad_shape := shape_misfit(vector, spec, ()):
                why[mid], fixes[mid] = bad_shape.why, bad_shape.fix
                continue
            usable[mid] = spec
            bad = mismatch(vector, spec, sha)
            if bad:  # the warning is given by `measure`, once a row of it was read
                foreign[mid] = f"{bad}: its directions may mean nothing here"
    return usable, why, foreign, fixes


def monitor_answers(
    session: Session | None,
    generations: list[Any],
    watch: list[tuple[Path, ControlVector]],
    n_threads: int,
    warnings: list[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each answer re-read and projected on each watched vector, kept in the session; by
    generation id, one entry per vector (what `ask --monitor` reports)."""
    if not watch or session is None or not generations:
        return {}
    ids = {g.id for g in generations}
    gens = [g for g in session.generations if g.id in ids]
    out: dict[str, list[dict[str, Any]]] = {}
    for path, vec in watch:
        said: list[str] = []
        rows = measure(session, vec, gens, n_threads=n_threads, warnings=said)
        if warnings is not None:
            warnings.extend(f"monitor {path.name}: {w}" for w in said)
        info = vector_info(vec, path)
        record(session, rows, info)
        for r in rows:
            out.setdefault(r.generation, []).append(
                {
                    "vector": info,
                    "measures": session.projections[-1].measures,
                    "projection": {str(L): v for L, v in r.projection.items()},
                    "per_token": {str(L): v for L, v in r.per_token.items()},
                    "steered": r.steered,
                    "added": {str(L): v for L, v in r.added.items()},
                    "skipped": r.skipped,
                    "note": r.note,
                    "baseline": r.baseline,
                }
            )
    return out


def _own_tokens(g: GenerationRecord) -> int:
    """The answer's tokens as a read counts them: the stream's split where a stop string ended
    it (`Continuation.stream_split`), else every token recorded."""
    split = g.stream_split(len(g.tokens)) if g.tokens else None
    return split if split is not None else len(g.tokens)
