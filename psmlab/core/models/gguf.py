"""Read the metadata of a GGUF file without loading the model (fast, and safe on bad files)."""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.errors import ModelError

MAGIC = b"GGUF"
_ARRAY = 9
_STRING = 8
# GGUF value type -> struct format for scalars.
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
# Arrays longer than this are skipped, not decoded (token lists have 50k-260k entries).
_KEEP_ARRAY = 64
# ggml tensor type -> (elements per block, bytes per block), as gguf-py's GGML_QUANT_SIZES: enough
# to find where a file's tensor data must end, so a truncated download is named before llama.cpp
# loads it (its own message comes late, and long). A type not listed is checked by its offset only.
_TYPE_SIZES: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66),
    39: (32, 17), 40: (64, 36), 41: (128, 18),
}  # fmt: skip


@dataclass
class GGUFInfo:
    """What the header says: version, counts, scalar metadata and the lengths of skipped arrays."""

    path: Path
    version: int
    n_tensors: int
    metadata: dict[str, Any] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def name(self) -> str | None:
        value = self.metadata.get("general.name")
        return value if isinstance(value, str) else None

    def _arch_int(self, key: str) -> int | None:
        value = self.metadata.get(f"{self.architecture}.{key}")
        return value if isinstance(value, int) else None

    @property
    def n_embd(self) -> int | None:
        """The width of the residual stream (what a control vector's directions must match)."""
        return self._arch_int("embedding_length")

    @property
    def n_layer(self) -> int | None:
        return self._arch_int("block_count")


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise ModelError(
                f"{self.path} is truncated: its GGUF header ends early (at byte {len(self.buf)})",
                "download the file again; the copy on disk is incomplete",
            )

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self._need(size)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        self._need(n)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.scalar("<Q")
        self._need(n)
        self.pos += n

    def value(self, vtype: int, key: str, info: GGUFInfo) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if (
                etype == _ARRAY
            ):  # GGUF models never nest arrays; refusing keeps a crafted file finite
                raise ModelError(f"{self.path} has a nested GGUF array under '{key}'", _FIX_BAD)
            info.array_lengths[key] = count
            if count <= _KEEP_ARRAY:
                return [self.value(etype, key, info) for _ in range(count)]
            if etype in _SCALARS:
                size = struct.calcsize(_SCALARS[etype]) * count
                self._need(size)
                self.pos += size
            elif etype == _STRING:
                for _ in range(count):
                    self.skip_string()
            else:
                raise ModelError(f"{self.path} has a nested GGUF array under '{key}'", _FIX_BAD)
            return None
        raise ModelError(f"{self.path} has an unknown GGUF value type {vtype} at '{key}'", _FIX_BAD)


_FIX_BAD = "check that the file is a GGUF model and download it again if it is damaged"


def read_gguf(path: str | Path, *, weights: bool = False) -> GGUFInfo:
    """Parse the GGUF header and key/value metadata; raise ModelError naming the problem.

    `weights`: also check that the tensor data the header lists is all in the file (a cut-off
    download), for callers about to load the weights; listing or reading the vocabulary needs
    only the header."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"model file not found: {p}", "check the path (or run `psmlab models`)")
    if p.is_dir():
        raise ModelError(f"{p} is a directory, not a GGUF model file", "pass the .gguf file itself")
    try:
        size = p.stat().st_size
        if size == 0:
            raise ModelError(f"{p} is empty (0 bytes), not a GGUF model", _FIX_BAD)
        with p.open("rb") as fh:
            head = fh.read(4)
            if head != MAGIC:
                raise ModelError(
                    f"{p} is not a GGUF file (it starts with {head!r}, not b'GGUF')",
                    "psmlab runs llama.cpp GGUF models; convert the model to GGUF first",
                )
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(_Reader(buf, p), p, weights)
    except PermissionError:
        raise ModelError(
            f"cannot read {p}: permission denied", "fix the file permissions"
        ) from None


def _parse(r: _Reader, p: Path, weights: bool) -> GGUFInfo:
    r.pos = 4
    version = r.scalar("<I")
    if version not in (2, 3):
        raise ModelError(f"{p} uses GGUF version {version}, which psmlab cannot read", _FIX_BAD)
    n_tensors = r.scalar("<Q")
    n_kv = r.scalar("<Q")
    if n_kv > 1_000_000 or n_tensors > 10_000_000:
        raise ModelError(f"{p} has an implausible GGUF header ({n_kv} keys)", _FIX_BAD)
    info = GGUFInfo(path=p, version=version, n_tensors=n_tensors)
    for _ in range(n_kv):
        key = r.string()
        vtype = r.scalar("<I")
        info.metadata[key] = r.value(vtype, key, info)
    if weights:
        _check_tensor_data(r, p, info)
    return info


def _check_tensor_data(r: _Reader, p: Path, info: GGUFInfo) -> None:
    """Raise ModelError when the tensor data the header describes runs past the end of the file."""
    end = 0
    for _ in range(info.n_tensors):
        r.skip_string()
        n_dims = r.scalar("<I")
        if n_dims > 16:
            raise ModelError(f"{p} has an implausible GGUF tensor ({n_dims} dimensions)", _FIX_BAD)
        elements = 1
        for _ in range(n_dims):
            elements *= r.scalar("<Q")
        ttype = r.scalar("<I")
        offset = r.scalar("<Q")
        block, size = _TYPE_SIZES.get(ttype, (1, 0))
        end = max(end, offset + -(-elements // block) * size)
    align = info.metadata.get("general.alignment")
    align = align if isinstance(align, int) and align > 0 else 32
    data_start = -(-r.pos // align) * align
    have = len(r.buf)
    if info.n_tensors and data_start + end > have:
        raise ModelError(
            f"{p} is cut off: its tensors need {data_start + end:,} bytes but the file has "
            f"{have:,}",
            "download the file again; the copy on disk is incomplete",
        )
