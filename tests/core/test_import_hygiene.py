"""The core layer runs without any UI library: proven in a fresh interpreter."""

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import psmlab.core as core
for m in pkgutil.walk_packages(core.__path__, "psmlab.core."):
    importlib.import_module(m.name)
print(",".join(sorted(n for n in ("textual", "typer", "rich") if n in sys.modules)) or "CLEAN")
"""


def test_core_imports_no_textual_typer_or_rich() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "CLEAN"


def test_importing_core_does_not_import_llama_cpp() -> None:
    code = "import sys, psmlab.core.run.runner, psmlab.core.domain.prompt; print('llama_cpp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
