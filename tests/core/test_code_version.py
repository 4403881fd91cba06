"""The code fingerprint results record beside the version: any edit changes it, caches do not."""

from __future__ import annotations

import shutil
from pathlib import Path

import psmlab
from psmlab.core.domain.code_version import code_fingerprint

fingerprint = code_fingerprint.__wrapped__  # uncached: the copy is edited between calls


def test_an_edit_changes_the_fingerprint_and_bytecode_or_measurements_do_not(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "psmlab"
    shutil.copytree(
        Path(psmlab.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert fingerprint(copy) == code_fingerprint()  # a wheel of the same files: the same
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (copy / "resources" / "labellers.json").write_text("{}")
    assert fingerprint(copy) == code_fingerprint()
    stats = copy / "core" / "domain" / "stats.py"
    stats.write_text(stats.read_text() + "\n# edited\n")
    assert fingerprint(copy) != code_fingerprint()
