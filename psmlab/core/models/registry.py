"""Model registry: the bundled demo pair, GGUF paths, and models named in the user config."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from psmlab.core import paths
from psmlab.core.domain.code_version import code_fingerprint
from psmlab.core.errors import ConfigError, DemoMissingError, ModelError, RemoteError
from psmlab.core.models.config import Kind, load_config
from psmlab.core.models.cvec import llama_cpp_version
from psmlab.core.models.demo import DEMO, DEMO_INSTALL_HINT, GEMMA_ID, SMOLLM_ID
from psmlab.core.models.gguf import GGUFInfo, read_gguf
from psmlab.core.models.hashing import total_size
from psmlab.core.models.spec import DEFAULT_N_CTX, ModelSpec, default_threads


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
        size=total_size(p),  # a split GGUF's parts together, as its sha256 reads them
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


def spec_from_url(
    url: str,
    *,
    model_id: str | None = None,
    remote_model: str | None = None,
    source: str = "url",
    kind: str | None = None,
    n_ctx: int | None = None,
    fmt: str | None = None,
    api_key_env: str | None = None,
    gguf: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    concurrency: int | None = None,
    warm: bool | None = None,
) -> ModelSpec:
    """A model on an OpenAI-compatible server; nothing is contacted until it is loaded."""

    if kind is not None and kind not in ("base", "chat"):
        raise ModelError(f"unknown model kind '{kind}'", "use 'base' or 'chat'")
    base = normalize_url(url)
    if "@" in base.split("//", 1)[1].split("/", 1)[0]:
        raise ModelError(
            f"the URL {url.split('//')[0]}//... has credentials in it",
            "remove them and put the key in an environment variable named by api_key_env",
        )
    vocab_path, template, detected = None, None, "base"
    if gguf:
        p = Path(gguf).expanduser()
        info = read_gguf(p)
        vocab_path, template = str(p.resolve()), info.chat_template
        detected = "chat" if template else "base"
    host = base.split("//", 1)[1].split("/", 1)[0]
    return ModelSpec(
        id=model_id or remote_model or host,
        kind=kind or detected,  # type: ignore[arg-type]
        path=f"{base}#{remote_model}" if remote_model else base,
        size=0,
        has_chat_template=template is not None,
        source=source,
        detected_kind=detected,  # type: ignore[arg-type]
        kind_overridden=kind is not None and kind != detected,
        n_ctx=n_ctx or DEFAULT_N_CTX,
        n_threads=1,
        format=fmt,
        url=base,
        remote_model=remote_model,
        api_key_env=api_key_env,
        vocab_path=vocab_path,
        timeout=timeout or 120.0,
        retries=3 if retries is None else retries,
        concurrency=concurrency or 1,
        warm=True if warm is None else warm,
    )


def run_provenance(spec: ModelSpec) -> dict[str, Any]:
    """What a result scored on this model needs to be re-run: the file (sha256), its settings and
    the library versions (a --json output carries it beside the numbers)."""
    import psmlab

    return {
        **spec.to_dict(with_sha=True),
        "llama_cpp_python": llama_cpp_version(),
        "psmlab": psmlab.__version__,
        "psmlab_code": code_fingerprint(),
    }


def distinct_ids(specs: list[ModelSpec]) -> list[ModelSpec]:
    """Two different files of one name (./a/model.gguf, ./b/model.gguf) get ids told apart
    ("model", "model-2", numbered in the order of their paths, so listing them in another order
    names each the same): columns, session records and experiment units are keyed by id. The
    same file given twice keeps its id, and callers refuse it (pass each model once)."""
    paths: dict[str, list[str]] = {}
    for s in specs:
        if s.path not in paths.setdefault(s.id, []):
            paths[s.id].append(s.path)
    # A number never lands on another model's own id (./x/model.gguf twice beside model-2.gguf
    # made two columns "model-2"): it skips to the next free one.
    taken = {s.id for s in specs}
    given: dict[tuple[str, str], str] = {}
    for base, files in paths.items():
        n = 1
        for path in sorted(files)[1:]:
            n += 1
            while f"{base}-{n}" in taken:
                n += 1
            given[(base, path)] = f"{base}-{n}"
            taken.add(given[(base, path)])
    return [replace(s, id=given[(s.id, s.path)]) if (s.id, s.path) in given else s for s in specs]


def _trained_ctx(info: GGUFInfo) -> int | None:
    arch = info.architecture
    value = info.metadata.get(f"{arch}.context_length") if arch else None
    return int(value) if isinstance(value, int) and value > 0 else None


def _id_from_path(p: Path) -> str:
    # A split GGUF's first part names the model: "x-00001-of-00003.gguf" is "x".
    return re.sub(r"-00001-of-\d{5}$", "", p.name.removesuffix(".gguf")).lower()


def demo_models() -> tuple[list[ModelSpec], DemoMissingError | None]:
    """The Gemma 3 270M base model and the SmolLM2 135M Instruct chat model, found offline: the
    ones installed, and one error naming every one that is not (None: both are there)."""
    found, missing = [], []
    for model_id, where, source in DEMO:
        try:
            found.append(spec_from_path(where(), model_id=model_id, source=source))
        except DemoMissingError as exc:
            missing.append(exc)
    if not missing:
        return found, None
    if len(missing) == 1:
        return found, missing[0]
    return found, DemoMissingError(
        f"the demo models {GEMMA_ID} and {SMOLLM_ID} are not installed", DEMO_INSTALL_HINT
    )


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
            found, self.demo_error = demo_models()
            for s in found:
                specs[s.id] = s
        cfg = load_config(self.config_path)
        for name, entry in cfg.models.items():
            try:
                if entry.url is not None:
                    specs[name] = spec_from_url(
                        entry.url,
                        model_id=name,
                        remote_model=entry.model,
                        source=f"config:{self.config_path}",
                        kind=entry.kind,
                        n_ctx=entry.n_ctx,
                        fmt=entry.format,
                        api_key_env=entry.api_key_env,
                        gguf=self._beside_config(entry.gguf) if entry.gguf else None,
                        timeout=entry.timeout,
                        retries=entry.retries,
                        concurrency=entry.concurrency,
                        warm=entry.warm,
                    )
                    continue
                assert entry.path is not None
                specs[name] = spec_from_path(
                    self._beside_config(entry.path),
                    model_id=name,
                    source=f"config:{self.config_path}",
                    kind=entry.kind,
                    n_ctx=entry.n_ctx,
                    n_threads=entry.threads,
                    fmt=entry.format,
                )
            except (ModelError, RemoteError) as exc:
                # One broken entry must not block the other models: it fails only when named.
                self.entry_errors[name] = ConfigError(
                    f"config model '{name}' ({self.config_path}): {exc.problem}", exc.fix
                )
        return specs

    def _beside_config(self, path: str) -> str:
        """A relative path in the config file is read next to it, as an experiment file's paths
        are (a trial's `path = "m/x.gguf"` was lost when run from another folder); the current
        folder still serves where the file has no such neighbour."""
        p = Path(path).expanduser()
        if p.is_absolute():
            return str(p)
        beside = self.config_path.parent / p
        return str(beside) if beside.exists() or not p.exists() else str(p)

    def all(self) -> list[ModelSpec]:
        if self._specs is None:
            self._specs = self._build()
        return list(self._specs.values())

    def ids(self) -> list[str]:
        return [s.id for s in self.all()]

    def resolve(self, ref: str) -> ModelSpec:
        """A registry id or a path to a .gguf file, optionally suffixed `@base` / `@chat`."""
        ref, kind = split_kind(ref)
        known = {s.id: s for s in self.all()}
        if ref in self.entry_errors:
            raise self.entry_errors[ref]
        if ref in known:
            spec = known[ref]
            if kind and kind != spec.kind:
                spec = replace(spec, kind=kind, kind_overridden=kind != spec.detected_kind)  # type: ignore[arg-type]
            return spec
        if ref.startswith(("http://", "https://")):
            url, _, name = ref.partition("#")
            # Keys for command-line URLs come only from PSMLAB_API_KEY, never from a URL or argv.
            key_env = "PSMLAB_API_KEY" if os.environ.get("PSMLAB_API_KEY") else None
            return spec_from_url(url, remote_model=name or None, kind=kind, api_key_env=key_env)
        if ref.endswith(".gguf") or os.sep in ref or Path(ref).expanduser().exists():
            return spec_from_path(ref, kind=kind)
        if self.demo_error is not None and ref in (GEMMA_ID, SMOLLM_ID):
            raise self.demo_error  # `ref` is not among `known`: it is one of the missing
        head, at, tail = ref.rpartition("@")
        if at and (head in known or head.endswith(".gguf")):
            # "qwen@foo": the model is fine, the kind after it is not.
            raise ModelError(
                f"'@{tail}' in '{ref}' is not a model kind", f"write {head}@base or {head}@chat"
            )
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


def split_kind(ref: str) -> tuple[str, str | None]:
    """A model reference and the kind it forces: `x.gguf@base` -> (`x.gguf`, `base`)."""
    for suffix in ("@base", "@chat"):
        if ref.endswith(suffix):
            return ref[: -len(suffix)], suffix[1:]
    return ref, None


def normalize_url(url: str) -> str:
    """`http://host:8000` and `http://host:8000/` mean the OpenAI API under /v1."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise RemoteError(
            f"'{url}' is not an http(s) URL with a valid port",
            "write it like http://127.0.0.1:8000/v1#model-name",
        )
    if parts.path in ("", "/"):
        return url.rstrip("/") + "/v1"
    return url.rstrip("/")
