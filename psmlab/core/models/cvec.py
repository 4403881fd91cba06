"""Control vectors: llama.cpp's GGUF control-vector files (read and write; no model needed)."""

from __future__ import annotations

import importlib.metadata
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

import psmlab
from psmlab.core.domain.code_version import code_fingerprint
from psmlab.core.errors import ModelError, UsageError

# The layout llama.cpp's `--control-vector` loader and its cvector-generator use (repeng too).
ARCH = "controlvector"
GGUF_VERSION = 3
ALIGNMENT = 32  # GGUF's default; written explicitly is unnecessary, llama.cpp assumes it
_F32 = 0  # ggml type id
_FIX_BAD = "pass a control-vector GGUF (from psmlab, llama.cpp's cvector-generator or repeng)"

# GGUF metadata value types.
_U8, _I8, _U16, _I16, _U32, _I32, _F32V, _BOOL, _STR, _ARR, _U64, _I64, _F64 = range(13)
_SCALAR_FMT = {
    _U8: "<B",
    _I8: "<b",
    _U16: "<H",
    _I16: "<h",
    _U32: "<I",
    _I32: "<i",
    _F32V: "<f",
    _BOOL: "<?",
    _U64: "<Q",
    _I64: "<q",
    _F64: "<d",
}


@dataclass
class ControlVector:
    """One direction per layer (layer >= 1, float32 n_embd each), plus the file's metadata.

    `metadata` holds every key except the three structural ones (architecture, model_hint,
    layer_count), e.g. psmlab's `psmlab.*` provenance."""

    directions: dict[int, np.ndarray]
    model_hint: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[int]:
        return sorted(self.directions)

    @property
    def n_embd(self) -> int:
        return int(next(iter(self.directions.values())).shape[0]) if self.directions else 0

    def save(self, path: str | Path) -> Path:
        return write_cvec(path, self.directions, model_hint=self.model_hint, metadata=self.metadata)

    @classmethod
    def load(cls, path: str | Path) -> ControlVector:
        return read_cvec(path)


def llama_cpp_version() -> str | None:
    """The installed llama-cpp-python's version (None: not installed), read from its metadata:
    importing llama_cpp would load the library."""
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return None


def provenance(
    *, model_sha256: str, layers: Sequence[int], n: int, prompts: Any, **extra: Any
) -> dict[str, Any]:
    """psmlab's provenance keys for a control-vector file (prompts as a JSON string)."""
    meta: dict[str, Any] = {
        # Who wrote it, with what: a vector nobody can rebuild is no result.
        "psmlab.version": psmlab.__version__,
        "psmlab.code": code_fingerprint(),
        "psmlab.llama_cpp_python": llama_cpp_version() or "not installed",
        "psmlab.model_sha256": model_sha256,
        "psmlab.layers": [int(x) for x in layers],
        "psmlab.n": int(n),
        "psmlab.prompts": json.dumps(prompts, ensure_ascii=False, sort_keys=True),
    }
    for k, v in extra.items():
        meta[f"psmlab.{k}"] = v
    return meta


# --- writing ---------------------------------------------------------------------------------


def _check_directions(directions: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    if not directions:
        raise UsageError("a control vector needs at least one layer", "pass some directions")
    out: dict[int, np.ndarray] = {}
    n_embd = None
    for layer, v in sorted(directions.items()):
        arr = np.asarray(v, dtype=np.float32)
        if int(layer) < 1:
            # llama.cpp never adds a vector at layer 0 and its loader rejects direction.0.
            raise UsageError(f"control-vector layer {layer} is invalid", "layers start at 1")
        if arr.ndim != 1 or (n_embd is not None and arr.shape[0] != n_embd):
            raise UsageError(
                f"direction for layer {layer} has shape {arr.shape}",
                "every direction must be one vector of the same length (n_embd)",
            )
        if not np.isfinite(arr).all():
            raise UsageError(f"direction for layer {layer} has NaN or inf", "fix the vector")
        n_embd = arr.shape[0]
        out[int(layer)] = arr
    return out


def _w_str(fh: BinaryIO, s: str) -> None:
    raw = s.encode("utf-8")
    fh.write(struct.pack("<Q", len(raw)))
    fh.write(raw)


def _value_type(value: Any, key: str) -> int:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _I32 if -(2**31) <= value < 2**31 else _I64
    if isinstance(value, float):
        return _F64
    if isinstance(value, str):
        return _STR
    if isinstance(value, (list, tuple)):
        return _ARR
    raise UsageError(
        f"metadata '{key}' has type {type(value).__name__}, which GGUF cannot hold",
        "use str, int, float, bool or a list of one of those (JSON-encode anything else)",
    )


def _w_value(fh: BinaryIO, vtype: int, value: Any, key: str) -> None:
    if vtype == _STR:
        _w_str(fh, value)
    elif vtype == _ARR:
        types = {_value_type(x, key) for x in value}
        if _I64 in types and _I32 in types:
            types = {_I64}
        if len(types) > 1 or _ARR in types:
            raise UsageError(f"metadata '{key}' mixes types", "use a list of one scalar type")
        etype = types.pop() if types else _I32
        fh.write(struct.pack("<IQ", etype, len(value)))
        for x in value:
            _w_value(fh, etype, x, key)
    else:
        fh.write(struct.pack(_SCALAR_FMT[vtype], value))


def write_cvec(
    path: str | Path,
    directions: Mapping[int, np.ndarray],
    *,
    model_hint: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a control-vector GGUF (v3) that llama.cpp's `--control-vector` loads.

    Written by hand because the `gguf` package is not a psmlab dependency; the layout follows
    gguf.h: header, key/values, tensor infos, padding to 32, then each tensor 32-aligned."""
    dirs = _check_directions(directions)
    kv: list[tuple[str, Any]] = [
        ("general.architecture", ARCH),
        (f"{ARCH}.model_hint", model_hint),
        (f"{ARCH}.layer_count", len(dirs)),
    ]
    reserved = {k for k, _ in kv}
    for k, v in (metadata or {}).items():
        if k in reserved:
            continue  # the structural keys always describe the vectors actually written
        kv.append((k, v))
    types = [(k, _value_type(v, k), v) for k, v in kv]
    p = Path(path).expanduser()
    tmp = p.with_name(p.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(b"GGUF")
        fh.write(struct.pack("<IQQ", GGUF_VERSION, len(dirs), len(types)))
        for k, vtype, v in types:
            _w_str(fh, k)
            fh.write(struct.pack("<I", vtype))
            _w_value(fh, vtype, v, k)
        offset = 0
        for layer, arr in dirs.items():
            _w_str(fh, f"direction.{layer}")
            fh.write(struct.pack("<IQIQ", 1, arr.shape[0], _F32, offset))
            offset += _aligned(arr.nbytes)
        fh.write(b"\0" * (_aligned(fh.tell()) - fh.tell()))
        for arr in dirs.values():
            raw = arr.astype("<f4").tobytes()
            fh.write(raw)
            fh.write(b"\0" * (_aligned(len(raw)) - len(raw)))
    tmp.replace(p)  # a reader never sees a half-written file
    return p


def _aligned(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    def __init__(self, buf: bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ModelError(f"{self.path} is truncated (its GGUF header ends early)", _FIX_BAD)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        if self.pos + n > len(self.buf):
            raise ModelError(
                f"{self.path} is truncated (a GGUF string runs past the end)", _FIX_BAD
            )
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALAR_FMT:
            return self.scalar(_SCALAR_FMT[vtype])
        if vtype == _STR:
            return self.string()
        if vtype == _ARR:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if etype == _ARR or count > len(self.buf):  # keeps a crafted file finite
                raise ModelError(f"{self.path} has a malformed GGUF array", _FIX_BAD)
            return [self.value(etype) for _ in range(count)]
        raise ModelError(f"{self.path} has an unknown GGUF value type {vtype}", _FIX_BAD)


def read_cvec(path: str | Path) -> ControlVector:
    """Read a control-vector GGUF (psmlab's, llama.cpp cvector-generator's or repeng's)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise ModelError(f"{p} is a folder, not a control-vector file", "name a .gguf file in it")
    if not p.is_file():
        raise ModelError(f"control-vector file not found: {p}", "check the path")
    buf = p.read_bytes()
    if not buf:
        raise ModelError(f"{p} is empty (0 bytes), not a control vector", _FIX_BAD)
    if buf[:4] != b"GGUF":
        raise ModelError(f"{p} is not a GGUF file (it starts with {buf[:4]!r})", _FIX_BAD)
    r = _Reader(buf, p)
    r.pos = 4
    version = r.scalar("<I")
    if version not in (2, 3):
        raise ModelError(f"{p} uses GGUF version {version}, which psmlab cannot read", _FIX_BAD)
    n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
    if n_kv > 100_000 or n_tensors > 100_000:
        raise ModelError(f"{p} has an implausible GGUF header", _FIX_BAD)
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.scalar("<I"))
    arch = meta.pop("general.architecture", None)
    if arch != ARCH:
        raise ModelError(
            f"{p} is not a control vector (general.architecture is {arch!r}, not '{ARCH}')",
            _FIX_BAD,
        )
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.scalar("<I")
        if n_dims > 4:
            raise ModelError(f"{p}: tensor {name} has {n_dims} dimensions", _FIX_BAD)
        ne = [r.scalar("<Q") for _ in range(n_dims)]
        infos.append((name, ne, r.scalar("<I"), r.scalar("<Q")))
    alignment = int(meta.get("general.alignment", ALIGNMENT))
    data_start = _aligned(r.pos, alignment)
    directions: dict[int, np.ndarray] = {}
    for name, ne, ttype, offset in infos:
        prefix, _, num = name.partition(".")
        if prefix != "direction":
            continue  # llama.cpp ignores other tensors too
        if not num.isdigit() or int(num) < 1:
            # llama.cpp refuses the whole file ("invalid direction tensor layer index"): read
            # here without it, the file steered with one layer fewer, unsaid.
            raise ModelError(
                f"{p}: tensor {name} names no layer (direction.N, N counted from 1)", _FIX_BAD
            )
        n = int(np.prod(ne)) if ne else 0
        if ttype != _F32 or len([d for d in ne if d != 1]) > 1:
            raise ModelError(f"{p}: tensor {name} is not a float32 vector", _FIX_BAD)
        start = data_start + offset
        if start + 4 * n > len(buf):
            raise ModelError(f"{p} is truncated (tensor {name} runs past the end)", _FIX_BAD)
        directions[int(num)] = np.frombuffer(buf, dtype="<f4", count=n, offset=start).astype(
            np.float32
        )
        if not np.isfinite(directions[int(num)]).all():
            # A NaN here became NaN projections: a session that was not JSON, a crashed lab.
            raise ModelError(
                f"{p}: tensor {name} holds values that are not finite numbers (NaN or inf)",
                "build the vector again (psmlab vectors build) or fix the tool that wrote it",
            )
    if not directions:
        raise ModelError(f"{p} holds no direction.<layer> tensors", _FIX_BAD)
    if len({v.shape[0] for v in directions.values()}) > 1:
        raise ModelError(f"{p}: its directions have different lengths", _FIX_BAD)
    hint = meta.pop(f"{ARCH}.model_hint", "")
    meta.pop(f"{ARCH}.layer_count", None)
    return ControlVector(directions, str(hint), meta)


# --- steering: a vector file applied to a column ---------------------------------------------
