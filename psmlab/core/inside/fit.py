"""Whether a control vector can be read on a model and against an answer: its width and layers
against the model's, the model file it was built on, and whether its held-out means are the
answer's baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from psmlab.core.errors import UsageError
from psmlab.core.inside.vector_checks import NotJson, held_of, metadata_json, reference
from psmlab.core.models.cvec import ControlVector
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import VECTOR_SHA, shape_misfit
from psmlab.core.session.schema import GenerationRecord


def baseline_note(vector: ControlVector, g: GenerationRecord) -> str | None:
    """Why the vector's held-out means are not `g`'s baseline (None: they are, as far as the
    file records): its answers were made in one format, with no system prompt (the default
    side) or an archetype's inducing one (the other), and no prefill; an answer in another
    format reads at another offset (a trial's neutral answer in `dialogue` sat between the
    `template` means and read as leaning towards the persona)."""
    built = vector.metadata.get("psmlab.format")
    if not isinstance(built, str) or not reference(held_of(vector.metadata)):
        return None
    said = [f"made in {g.format}, the vector's answers in {built}"] if g.format != built else []
    if g.system and g.system not in _build_systems(vector.metadata):
        said.append("made with a system prompt the vector's answers were not")
    said += ["made with a prefill"] if g.prefill else []
    if not said:
        return None
    return "; ".join(said) + ": its held-out means are not this answer's baseline"


def _build_systems(metadata: dict[str, Any]) -> set[str]:
    """The system prompts a psmlab vector's answers were made with (`psmlab.prompts`): a
    persona vector's inducing prompt, an axis's archetypes' (the default side had none)."""
    try:
        prompts = metadata_json(metadata, "psmlab.prompts")
    except NotJson:
        return set()
    if not isinstance(prompts, dict):
        return set()
    out = {prompts["induce"]} if isinstance(prompts.get("induce"), str) else set()
    archetypes = prompts.get("archetypes")
    for a in archetypes.values() if isinstance(archetypes, dict) else ():
        if isinstance(a, dict) and isinstance(a.get("prompt"), str):
            out.add(a["prompt"])
    return out


def vector_label(vector: ControlVector) -> str:
    """How to name the model a vector was built for: its sha256 prefix and/or model_hint."""
    sha = str(vector.metadata.get(VECTOR_SHA) or "")
    parts = [f"sha256 {sha[:12]}…"] if sha else []
    # The model id psmlab built it with, as the lab named it ("hint 'llama'" named no model).
    if isinstance(built := vector.metadata.get("psmlab.model"), str) and built:
        parts.append(built)
    elif vector.model_hint:
        parts.append(f"hint '{vector.model_hint}'")
    return ", ".join(parts) or "no recorded model"


def mismatch(vector: ControlVector, spec: ModelSpec, sha: str) -> str | None:
    """Why the vector does not belong to this model (None: it does, as far as it records)."""
    want = str(vector.metadata.get(VECTOR_SHA) or "")
    if want:
        if want != sha:
            return f"the vector was built for sha256 {want[:12]}…, this model is {sha[:12]}…"
        return None
    if vector.model_hint and spec.architecture and vector.model_hint != spec.architecture:
        return (
            f"the vector's model_hint is '{vector.model_hint}', this model is '{spec.architecture}'"
        )
    return None


def unit_directions(vector: ControlVector, name: object = None) -> dict[int, np.ndarray]:
    """Per layer, the vector's direction scaled to length 1 (float64). A layer whose direction
    is zero (llama.cpp's files hold zeros for layers they do not steer) has nothing to project
    on and is left out; a vector with no other layer is a UsageError (naming the file `name`:
    one of several monitored vectors went unnamed)."""
    units: dict[int, np.ndarray] = {}
    for L, v in vector.directions.items():
        # In float64: a float32 norm of values near 1e20 overflows, and every projection on
        # the direction it divides came out 0.0, saved as a measurement.
        v64 = np.asarray(v, dtype=np.float64)
        n = float(np.linalg.norm(v64))
        if n > 0.0:
            units[L] = v64 / n
    if not units:
        which = f"{name}: " if name is not None else ""
        raise UsageError(
            f"{which}the vector's direction is zero at every layer", "use another vector"
        )
    return units


def zero_built_layers(vector: ControlVector, units: dict[int, np.ndarray]) -> list[int]:
    """Layers the file says it was built at (`psmlab.layers`) whose direction is zero: left
    out unsaid, they looked measured (llama.cpp's own files hold zeros for layers they do not
    steer, and record none)."""
    built = vector.metadata.get("psmlab.layers")
    if not isinstance(built, list):
        return []
    return sorted({L for L in built if isinstance(L, int) and L in vector.directions} - set(units))


def fits_none(
    vector: ControlVector, specs: list[ModelSpec], name: str = "the vector"
) -> str | None:
    """Why no model of `specs` can be read on `vector` (None: at least one can): a server model
    cannot be read, and a local one whose residual stream has another width than the vector's,
    or fewer layers than it reads, has nothing to project (told from its GGUF header, before
    anything is generated)."""
    layers = sorted(unit_directions(vector))
    why = []
    for spec in specs:
        if spec.is_remote:
            why.append(f"{spec.id} is a server model")
        elif bad := shape_misfit(vector, spec, layers, name, low=0):
            why.append(bad.why)
        else:
            return None
    return "; ".join(why)


def require_fit(vector: ControlVector, specs: list[ModelSpec], path: Path, whose: str) -> None:
    """Refuse a --monitor vector no model of `specs` can be read on (`whose`: "model of this
    run", "column's model"): found out after the answers, every row read "skipped" and the
    run exited 0 with nothing measured."""
    if why := fits_none(vector, specs, path.name):
        raise UsageError(
            f"--monitor {path}: no {whose} can be read on it: {why}",
            "monitor with a vector built for one of these models (psmlab vectors build -m MODEL)",
        )
