"""Make broken or hostile GGUF files for tests by rewriting the metadata of a real one."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _skip_value(buf: bytes, pos: int, vtype: int) -> int:
    if vtype in _SCALAR:
        return pos + _SCALAR[vtype]
    if vtype == 8:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    if vtype == 9:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        for _ in range(count):
            pos = _skip_value(buf, pos, etype)
        return pos
    raise ValueError(vtype)


def _gstr(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def rewrite_strings(src: str | Path, dst: Path, updates: dict[str, str]) -> Path:
    """Copy a GGUF, setting string metadata keys (added if missing); tensors are kept as they are."""
    buf = Path(src).read_bytes()
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    pos = 24
    kvs: list[tuple[str, bytes]] = []
    alignment = 32
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", buf, pos)
        key = buf[pos + 8 : pos + 8 + klen].decode()
        start = pos
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", buf, pos)
        end = _skip_value(buf, pos + 4, vtype)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", buf, pos + 4)
        kvs.append((key, buf[start:end]))
        pos = end
    infos_start = pos
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", buf, pos)
        pos += 8 + nlen
        (ndim,) = struct.unpack_from("<I", buf, pos)
        pos += 4 + 8 * ndim + 4 + 8
    infos = buf[infos_start:pos]
    data_start = (pos + alignment - 1) // alignment * alignment
    out: list[tuple[str, bytes]] = []
    done = set()
    for key, raw in kvs:
        if key in updates:
            raw = _gstr(key) + struct.pack("<I", 8) + _gstr(updates[key])
            done.add(key)
        out.append((key, raw))
    for key, value in updates.items():
        if key not in done:
            out.append((key, _gstr(key) + struct.pack("<I", 8) + _gstr(value)))
    header = (
        b"GGUF"
        + struct.pack("<IQQ", version, n_tensors, len(out))
        + b"".join(r for _, r in out)
        + infos
    )
    pad = (-len(header)) % alignment
    dst.write_bytes(header + b"\0" * pad + buf[data_start:])
    return dst


def info(path: Path) -> dict[str, Any]:
    from psmlab.core.models.gguf import read_gguf

    return read_gguf(path).metadata
