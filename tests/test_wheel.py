"""A normal (non-editable) install works: the wheel carries the frames, templates, probe sets and
persona archetypes, and a wheel without them fails loudly instead of labelling everything `unclear`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOL = "smollm2-135m-instruct"
ASK = ["ask", "What are you?", "-n", "3", "--json", "-m", SMOL, "--seed", "7", "--max-tokens", "32"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with psmlab installed from a freshly built wheel (its dependencies are taken
    from this test environment, so nothing is downloaded)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    # Build from a copy: the build must not write build/ or *.egg-info into the checkout.
    shutil.copytree(ROOT / "psmlab", src / "psmlab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    dist = tmp / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
    )
    (whl,) = dist.glob("psmlab-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--quiet",
            "--no-deps",
            str(whl),
        ],
        check=True,
    )
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # Dependencies from this environment, appended after the venv's own site-packages (a path
    # added by a .pth file does not run that directory's .pth files, so the editable psmlab of this
    # environment stays invisible there).
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _psmlab(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "psmlab"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
        timeout=600,
    )


def test_the_wheel_labels_with_its_shipped_personas_and_probes_all_archetypes(
    wheel_venv: Path, tmp_path: Path
) -> None:
    where = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-c", "import psmlab; print(psmlab.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert where.startswith(str(wheel_venv)), where  # really the wheel, not this checkout

    installed = _psmlab(wheel_venv, *ASK, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    editable = subprocess.run(
        [sys.executable, "-m", "psmlab", *ASK], capture_output=True, text=True, cwd=tmp_path
    )
    assert editable.returncode == 0, editable.stderr
    gens = json.loads(installed.stdout)["generations"]
    assert len(gens) == 3
    labels = [g["auto_labels"]["labels"] for g in gens]
    # The same text gets the same labels as from the checkout: the personas came with the wheel.
    assert [g["text"] for g in gens] == [
        g["text"] for g in json.loads(editable.stdout)["generations"]
    ]
    assert labels == [
        g["auto_labels"]["labels"] for g in json.loads(editable.stdout)["generations"]
    ]

    probe = _psmlab(
        wheel_venv,
        "probe",
        "--set",
        "identity",
        "--no-calibrate",
        "--json",
        "-m",
        SMOL,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    results = json.loads(probe.stdout)["results"]
    assert results
    for r in results:
        assert len(r["probs"]) == 12, sorted(r["probs"])

    personas = subprocess.run(
        [
            str(wheel_venv / "bin" / "python"),
            "-c",
            "from psmlab.core.domain.personas import load_personas;"
            "ps, errs = load_personas(); print(len(ps), len(errs), ps[0].path)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    assert personas[:2] == ["12", "0"] and personas[2].startswith(str(wheel_venv))
    # The example experiment a user starts from came with the wheel too.
    example = _psmlab(wheel_venv, "experiment", "--example", cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    shipped = ROOT / "psmlab" / "resources" / "experiments" / "example.toml"
    assert example.stdout == shipped.read_text(encoding="utf-8")


def test_a_wheel_missing_its_shipped_data_fails_in_one_line(
    wheel_venv: Path, tmp_path: Path
) -> None:
    site = next((wheel_venv / "lib").glob("python3*/site-packages"))
    personas = site / "psmlab" / "resources" / "personas"
    moved = tmp_path / "personas-away"
    shutil.move(personas, moved)
    try:
        proc = _psmlab(wheel_venv, *ASK, cwd=tmp_path)
    finally:
        shutil.move(moved, personas)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "shipped personas are missing" in lines[0], proc.stderr
