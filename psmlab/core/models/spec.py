"""What psmlab knows about a model before loading it (`ModelSpec`): its file or server, kind,
context and default format, and what its name says of its kind."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from psmlab.core.domain.formats import OWN_TEMPLATES, SERVER_CHAT, Format, get_format
from psmlab.core.errors import FormatError
from psmlab.core.models.config import Kind
from psmlab.core.models.gguf import read_gguf
from psmlab.core.models.hashing import cached_sha256, file_sha256

DEFAULT_N_CTX = 4096


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
    # A model behind an OpenAI-compatible server (then `path` is only a display string):
    url: str | None = None  # the API base, e.g. http://127.0.0.1:8000/v1
    remote_model: str | None = None  # the name the server knows it by; None: its only model
    api_key_env: str | None = None  # the environment variable holding the key (never the key)
    vocab_path: str | None = None  # a local GGUF of the same model: exact tokens and template
    timeout: float = 120.0
    retries: int = 3
    concurrency: int = 1  # requests in flight at once to this server, e.g. in experiments
    warm: bool = True  # evaluate the prompt once before sampling (see RemoteBackend._warm)

    @property
    def is_remote(self) -> bool:
        return self.url is not None

    def kind_doubt(self) -> str | None:
        """Why the kind read from the chat template alone may be wrong: many base GGUFs carry a
        template (a trial's Gemma base with one showed as chat), and a chat model's may be
        missing; the name then says otherwise. None when nothing contradicts it."""
        if self.is_remote or self.kind_overridden:
            return None
        named = f"{self.name or ''} {Path(self.path).name.removesuffix('.gguf')}"
        words = set(re.split(r"[^a-z0-9]+", named.lower()))
        says = (
            "chat"
            if words & {"instruct", "chat", "it", "sft", "rlhf", "dpo"}
            else "base"
            if words & {"base", "pretrained", "pt"}
            else None
        )
        if says is None or says == self.kind:
            return None
        why = "its GGUF has a chat template" if self.kind == "chat" else "it has no chat template"
        fmt = " and a format (e.g. -f chatml)" if says == "chat" else ""
        # A model given by its path is named by that path again (its id resolves nowhere).
        ref = self.path if self.source == "path" else self.id
        return (
            f"{self.id} is read as a {self.kind} model ({why}), but its name says {says} "
            f"({named.strip()!r}): if it is one, give it as -m {ref}@{says}{fmt}"
        )

    def chat_template(self) -> str | None:
        """The model's own chat template: from its GGUF header (for a server model, the local copy)."""
        source = self.vocab_path if self.is_remote else self.path
        return read_gguf(source).chat_template if source else None

    def get_format(self, name: str | None = None) -> Format:
        """Resolve a format name (default: this model's default) for this model."""
        name = name or self.default_format
        if name == SERVER_CHAT and not self.is_remote:
            raise FormatError(
                f"format {SERVER_CHAT} lets a server apply its own chat template, and {self.id} is a local model",
                "use template (its own) or another format",
            )
        template = self.chat_template()
        if name in OWN_TEMPLATES and self.is_remote and not template:
            raise FormatError(
                f"{self.id} is a server model and psmlab cannot read its chat template",
                "set gguf = PATH (a local copy) for it in the config, or use --format "
                f"{SERVER_CHAT} (the server formats it), chatml, gemma or llama3",
            )
        return get_format(name, template, model_id=self.id)

    @property
    def default_format(self) -> str:
        """The kind only picks the default: base models get a plain dialogue, chat models their template."""
        if self.format:
            return self.format
        if self.kind == "chat":
            # A server model's template is unknown, not absent: no silent chatml guess for it.
            return "template" if self.has_chat_template or self.is_remote else "chatml"
        return "dialogue"

    def sha256(self) -> str | None:
        """None for a server model: psmlab cannot see the weights a server runs."""
        return None if self.is_remote else file_sha256(self.path)

    def to_dict(self, *, with_sha: bool = False) -> dict[str, Any]:
        d = asdict(self)
        d["default_format"] = self.default_format
        if self.is_remote:
            d["sha256"] = None
        elif with_sha:
            d["sha256"] = self.sha256()
        else:
            d["sha256"] = cached_sha256(self.path)
        return d
