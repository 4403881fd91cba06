"""Steering: which control vector, at which layers, how strong; parsed from `FILE[:LAYERS][@ALPHA]`,
recorded with every steered result and read back for replay."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from psmlab.core.errors import ModelError, PsmlabError, UsageError
from psmlab.core.models.cvec import ControlVector, read_cvec

if TYPE_CHECKING:
    from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.hashing import file_sha256

_FLOAT32_MAX = float(np.finfo(np.float32).max)
# alpha x a vector's largest value beyond which steering breaks the arithmetic, not the persona:
# the RMS norm squares the residual (SmolLM2 135M steered at 3.4e19 answered one token, eos;
# at 3.4e17 it still wrote text). Kept three orders of magnitude below that.
_OVERFLOW = 1e15
VECTOR_SHA = "psmlab.model_sha256"  # the model file a psmlab vector was built on
_LAYERS_RE = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_FIX_STEER = "write FILE[:LAYERS][@ALPHA], e.g. hal.gguf:10-14@4 or hal.gguf@2"


def parse_layers(text: str) -> tuple[int, ...]:
    """'10', '10-14', '6,10,14-16' → sorted layer numbers (empty text: none chosen)."""
    if not text:
        return ()
    if not _LAYERS_RE.match(text):
        raise UsageError(f"'{text}' is not a layer list", "write layers as 10, 10-14 or 6,10,14")
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if b < a:
            raise UsageError(f"layer range '{part}' runs backwards", "write it low-high")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


def layers_text(layers: Sequence[int]) -> str:
    """The shortest spelling of a layer list: runs become ranges (10-14,20)."""
    parts: list[str] = []
    xs = sorted(layers)
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        parts.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(parts)


def _under(raw: str, base: Path | None) -> Path:
    """A vector path as given (a relative one under `base`, if given)."""
    path = Path(raw).expanduser()
    return base / path if base is not None and not path.is_absolute() else path


def file_part(text: str) -> str:
    """The FILE of `FILE[:LAYERS][@ALPHA]`, as `Steering.parse` reads it."""
    if Path(text.strip()).expanduser().is_file():  # a file named "v@2/hal.gguf" is that file
        return text.strip()
    body, at, _ = text.strip().rpartition("@")
    raw = body if at else text.strip()
    head, colon, spec = raw.rpartition(":")
    return head if colon and _LAYERS_RE.match(spec) else raw


@dataclass(frozen=True)
class Steering:
    """A control vector applied while a column generates or scores: alpha times the file's
    direction at each chosen layer (all of the file's layers when none are chosen).

    Alpha multiplies the direction as stored, as llama.cpp's `--control-vector-scaled` does: for a
    psmlab vector (a mean difference) alpha 1 adds one default-to-persona shift."""

    path: str
    alpha: float = 1.0
    layers: tuple[int, ...] = ()
    sha256: str = ""
    vector: ControlVector | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str, base: Path | None = None, *, where: str = "--steer") -> Steering:
        """`FILE[:LAYERS][@ALPHA]` (a relative FILE under `base`, if given); the file is read and
        hashed now, so a bad one fails early. `where` names the text's place in errors (the
        lab's steer field and an experiment's context have no --steer)."""
        raw = text.strip()
        if _under(raw, base).is_file():
            # The whole text names a file ("v@2/hal.gguf", "h@l.gguf"): that file, every layer,
            # alpha 1 (its '@' read as the alpha's mark failed as "not a number").
            return cls.load(_under(raw, base))
        alpha = 1.0
        body, at, tail = raw.rpartition("@")
        if at:
            try:
                alpha = float(tail)
            except ValueError:
                raise UsageError(
                    f"'{tail}' in {where} '{text}' is not a number", _FIX_STEER
                ) from None
            raw = body
        layers: tuple[int, ...] = ()
        head, colon, spec = raw.rpartition(":")
        if colon and _LAYERS_RE.match(spec):
            layers, raw = parse_layers(spec), head
        elif colon and head and not _under(raw, base).exists() and _under(head, base).exists():
            # "hal.gguf:-1", "hal.gguf:a,b", "hal.gguf:@2": the file is there, the layers are not
            # a layer list (not a missing file called "hal.gguf:-1").
            raise UsageError(
                f"'{spec}' in {where} '{text}' is not a layer list"
                if spec
                else f"{where} '{text}' has no layers after ':'",
                "write layers as 10, 10-14 or 6,10,14 (FILE:LAYERS@ALPHA)",
            )
        if not raw:
            raise UsageError(f"{where} '{text}' names no file", _FIX_STEER)
        return cls.load(_under(raw, base), alpha=alpha, layers=layers)

    @classmethod
    def load(
        cls, path: str | Path, *, alpha: float = 1.0, layers: Sequence[int] = (), sha256: str = ""
    ) -> Steering:
        """Read the vector file; with `sha256`, refuse a file that is not the one recorded."""
        # llama.cpp adds alpha x direction in float32: 1e39 is finite in Python, inf there.
        if not math.isfinite(alpha) or abs(alpha) > _FLOAT32_MAX:
            raise UsageError(
                f"steering strength {alpha} is not finite in float32", "pass a finite alpha"
            )
        vec = read_cvec(path)
        digest = file_sha256(str(path))
        if sha256 and digest != sha256:
            raise ModelError(
                f"{path} is not the control vector that was recorded "
                f"(sha256 {digest[:12]}…, recorded {sha256[:12]}…)",
                "restore the recorded file",
            )
        steered = [v for L, v in vec.directions.items() if not layers or L in layers]
        peak = max((float(np.abs(v).max()) for v in steered), default=0.0)
        if abs(alpha) * peak > _OVERFLOW:
            raise UsageError(
                f"steering strength {alpha} times {path}'s largest value ({peak:.3g}) is "
                f"{abs(alpha) * peak:.3g}: past {_OVERFLOW:.0e} the model's float32 activations "
                "overflow (the answers come out empty or one token repeated, and read as real answers)",
                "pass a much smaller alpha (1 to 10 is the usual range)"
                if peak < _OVERFLOW
                # Values past the limit at alpha 1: the file, not the alpha, is what is wrong.
                else "use a vector file whose values are of the model's activations' size "
                "(psmlab vectors show prints its norms)",
            )
        missing = [x for x in layers if x not in vec.directions]
        if missing:
            raise UsageError(
                f"{path} has no direction for layer {layers_text(missing)}",
                f"pick from its layers {layers_text(vec.layers)}",
            )
        where = str(Path(path).expanduser().resolve())  # replay may run from another directory
        return cls(where, float(alpha), tuple(sorted(layers)), digest, vec)

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Steering:
        """The steering a generation recorded, read again from its file (checked by sha256)."""
        try:
            path, alpha = str(rec["file"]), float(rec["alpha"])
            layers, sha = (
                tuple(int(x) for x in rec.get("layers") or ()),
                str(rec.get("sha256") or ""),
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError(
                f"malformed steering record {dict(rec)!r}", "fix the session file"
            ) from None
        return cls.load(path, alpha=alpha, layers=layers, sha256=sha)

    @property
    def chosen(self) -> tuple[int, ...]:
        """The layers steered."""
        if self.layers:
            return self.layers
        return tuple(self.vector.layers) if self.vector else ()

    def directions(self) -> dict[int, np.ndarray]:
        """alpha times the direction at each chosen layer (what is added to the residual stream)."""
        if self.vector is None:
            raise UsageError(f"the control vector {self.path} was not read", "load it first")
        a = np.float32(self.alpha)
        return {L: a * self.vector.directions[L] for L in self.chosen}

    @property
    def key(self) -> tuple[str, tuple[int, ...], float]:
        """What decides the model's computation (two columns with equal keys share a cache)."""
        return (self.sha256, self.chosen, self.alpha)

    def record(self) -> dict[str, Any]:
        """Provenance for a generation's params: file, sha256, layers, alpha."""
        return {
            "file": self.path,
            "sha256": self.sha256,
            "layers": list(self.chosen),
            "alpha": self.alpha,
        }

    def label(self) -> str:
        """Short form for headers and tables: hal.gguf:10-14@4."""
        return record_label(self.record()) or ""


def record_label(rec: Mapping[str, Any] | None) -> str | None:
    """A recorded steering (`Steering.record()`) in short form, hal.gguf:10-14@4, without reading
    the file (None: no steering; '?': a malformed record)."""
    if not rec:
        return None
    try:
        layers = layers_text([int(x) for x in rec.get("layers") or ()])
        return f"{Path(str(rec['file'])).name}:{layers}@{float(rec['alpha']):g}"
    except (KeyError, TypeError, ValueError):
        return "?"


USUAL_ALPHA = 10.0  # past it, answers are seldom text (a trial: @30 gave " Wait! ?  ?. . Then")
RESIDUAL_NORM = "psmlab.residual_norm"  # per layer, the build's default answers' mean residual norm
# A shift (alpha x the direction's norm) past this share of the residual stream's typical norm:
# in docs/activations.md every measured shift above it raised a neutral paragraph's perplexity
# 1.8-12x on both demo models (shifts of 0.07-0.20 at alpha 2 stayed under 1.6x).
STRONG_SHIFT = 0.25


def residual_norms(vector: ControlVector | None) -> dict[int, float]:
    """The residual stream's typical norm per layer, as a psmlab vector records it (JSON text
    or parsed; empty: not recorded, or unreadable)."""
    raw: Any = (vector.metadata if vector is not None else {}).get(RESIDUAL_NORM)
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    if not isinstance(raw, dict):
        return {}
    out = {}
    for k, v in raw.items():
        if str(k).isdigit() and isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
            out[int(k)] = float(v)
    return out


def shifts(steering: Steering) -> dict[int, float]:
    """Per steered layer, how far steering moves the residual stream as a share of its typical
    norm there: |alpha| x the direction's norm / the recorded residual norm (what alpha means
    differs by model and layer: Gemma-3's middle layers run in the thousands, SmolLM2's in the
    hundreds). Empty where the file records no residual norm (llama.cpp's, repeng's, older
    psmlab files)."""
    norms = residual_norms(steering.vector)
    if steering.vector is None or not norms:
        return {}
    return {
        L: abs(steering.alpha)
        * float(np.linalg.norm(np.asarray(steering.vector.directions[L], dtype=np.float64)))
        / norms[L]
        for L in steering.chosen
        if L in norms and L in steering.vector.directions
    }


def too_strong(steering: Steering) -> str | None:
    """A warning for steering past the range where text holds up: measured against the
    residual stream's norm where the file records it, else by alpha alone. Answers this
    strongly steered are degraded or broken text, and the labels read them as answers all the
    same (a trial's @1000 gave "mass early early…", labelled self-id none, exit 0; another's
    last-layer vector of norm 6078 broke text at alpha 4, under the alpha rule). Strong
    steering may be the experiment: said, not refused."""
    if sh := shifts(steering):
        past = sorted(((x, L) for L, x in sh.items() if x > STRONG_SHIFT), reverse=True)
        if not past:
            return None
        (top, layer), rest = past[0], past[1:]
        # Every layer past it, the strongest first (a trial's second layer went unsaid).
        also = "".join(f" (and layer {L}'s by {x:.2f})" for x, L in rest)
        return (
            f"steering at alpha {steering.alpha:g} moves layer {layer}'s residual stream by "
            f"{top:.2f} of its typical norm{also} (as the vector's build measured it); past "
            f"{STRONG_SHIFT:g} text degrades (on the demo models, steering that far raised a "
            "neutral paragraph's perplexity up to 12 times: docs/activations.md), and the "
            "labels count such answers all the same: read them before their shares (a smaller "
            "alpha unless this is the experiment)"
        )
    if abs(steering.alpha) <= USUAL_ALPHA:
        return None
    return (
        f"steering strength {steering.alpha:g} is past the usual 1 to {USUAL_ALPHA:g}: answers "
        "this strongly steered are often broken text, which the labels count as answers; "
        "read them before their shares (a smaller alpha unless this is the experiment)"
    )


def strength_unknown(steering: Steering) -> str | None:
    """A note where the vector records no residual norm and alpha is within the usual range:
    how strongly it steers this model cannot be told (a trial's copy without the record
    steered at alpha 8, a shift of 1.02, with no word)."""
    if (
        steering.vector is None
        or steering.alpha == 0
        or abs(steering.alpha) > USUAL_ALPHA
        or residual_norms(steering.vector)
    ):
        return None
    return (
        f"{Path(steering.path).name} records no residual norm (llama.cpp's and repeng's files "
        "do not, nor psmlab's before it did), so how strongly alpha "
        f"{steering.alpha:g} steers this model is not known (it is warned of past alpha "
        f"{USUAL_ALPHA:g}; vectors psmlab builds record it)"
    )


@dataclass(frozen=True)
class Misfit:
    """Why a vector cannot steer a model, and the fix that goes with that reason."""

    why: str
    fix: str


def misfit(steering: Steering, spec: ModelSpec) -> Misfit | None:
    """Why the vector cannot steer this local model, told from its GGUF header before anything
    runs (None: it fits, or the header cannot tell). One rule for `--steer` and for an
    experiment's plan (a trial's 576-value vector failed on the 640-wide model only once it ran)."""
    if steering.vector is None:
        return None
    return shape_misfit(
        steering.vector,
        spec,
        steering.chosen,
        Path(steering.path).name,
        "steers",
        "FILE:LAYERS@ALPHA",
    )


def shape_misfit(
    vector: ControlVector,
    spec: ModelSpec,
    layers: Sequence[int],
    name: str = "the vector",
    verb: str = "reads",
    choose: str | None = None,
    low: int = 1,
) -> Misfit | None:
    """Why `vector` cannot be used at `layers` on this local model, from its GGUF header (None:
    it fits, or the header cannot tell): directions of another width (said first: a trial's
    vector of another width was said to want a layer the model lacks, as if other layers
    would do), or layers outside 1..n_layer-1 (llama.cpp's control-vector layers). The one
    width-and-depth rule for steering, monitoring and reading (`verb`: "steers" or "reads";
    `choose`: how layers are chosen, when they can be; else the fix is a vector of this model;
    `low`: the first usable layer, 1 for steering, 0 for reading, which captures layer 0 too)."""
    if spec.is_remote:
        return None
    try:
        width, depth = model_shape(spec.path)
    except PsmlabError:
        return None  # said where the model loads
    ref = spec.path if spec.source == "path" else spec.id
    build = f"build a vector for {spec.id} (psmlab vectors build -m {ref})"
    if width and vector.n_embd != width:
        return Misfit(
            f"{name}'s directions have {vector.n_embd} values; {spec.id} needs {width}", build
        )
    if depth and (missing := [L for L in layers if not low <= L < depth]):
        return Misfit(
            f"{name} {verb} layer {', '.join(map(str, missing))}; {spec.id} has layers "
            f"{low}..{depth - 1}" + (" for control vectors" if low else ""),
            f"choose layers {spec.id} has ({choose})" if choose else build,
        )
    return None


@functools.lru_cache(maxsize=64)
def model_shape(path: str) -> tuple[int | None, int | None]:
    """A model file's residual width and layer count, read once per process (an experiment's
    plan is made again for each report)."""
    from psmlab.core.models.gguf import read_gguf

    info = read_gguf(path)
    return info.n_embd, info.n_layer


def built_for_another(steering: Steering, spec: ModelSpec) -> str | None:
    """A warning when the vector records that it was built on another model file (its sha256):
    steering another model may be the experiment, but its directions may mean nothing there."""
    want = str((steering.vector.metadata if steering.vector else {}).get(VECTOR_SHA) or "")
    if not want or spec.is_remote:
        return None
    have = spec.sha256() or ""
    if have and have != want:
        return (
            f"{Path(steering.path).name} was built on another model (sha256 {want[:12]}…), not "
            f"{spec.id} ({have[:12]}…): its directions may mean nothing there"
        )
    return None
