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


def test_the_command_line_starts_without_llama_cpp_or_textual() -> None:
    """`psmlab --help` (and every command's parsing) loads neither: a top-level import of the
    vector checks in the CLI's shared module pulled llama_cpp in (found by the bench's slow
    startup case, after the change had landed on main)."""
    code = (
        "import sys, runpy\nsys.argv = ['psmlab', '--help']\n"
        "try:\n    runpy.run_module('psmlab', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('IMPORTS', 'llama_cpp' in sys.modules, 'textual' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "IMPORTS False False" in out.stderr, out.stderr[-300:]
