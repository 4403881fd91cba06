"""The user config file (TOML): `[models.NAME]` tables naming local GGUF files and model servers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from psmlab.core import paths
from psmlab.core.domain.tomlfile import read_toml
from psmlab.core.errors import ConfigError

Kind = Literal["base", "chat"]


class ModelEntry(BaseModel):
    """One `[models.NAME]` table in the config file: a local GGUF (`path`) or a server (`url`)."""

    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description="Path to the .gguf file (~ is expanded).")
    url: str | None = Field(
        None, description="An OpenAI-compatible API base, e.g. http://host:8000/v1."
    )
    model: str | None = Field(
        None, description="The server's name for the model (default: its only one)."
    )
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key (not the key)."
    )
    gguf: str | None = Field(
        None, description="A local copy of a server model: exact tokens, template."
    )
    timeout: float | None = Field(None, gt=0, description="Seconds a server may stay silent.")
    retries: int | None = Field(
        None, ge=0, le=20, description="Retries on connection errors, 429, 5xx."
    )
    concurrency: int | None = Field(
        None, ge=1, le=64, description="Requests in flight to the server."
    )
    warm: bool | None = Field(
        None, description="Have the server cache the prompt before sampling (default true)."
    )
    kind: Kind | None = Field(None, description="Override the detected kind (base or chat).")
    n_ctx: int | None = Field(None, gt=0, description="Context size in tokens.")
    threads: int | None = Field(None, gt=0, description="CPU threads for this model.")
    format: str | None = Field(None, description="Default format for this model.")

    @model_validator(mode="after")
    def _one_source(self) -> ModelEntry:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of path (a .gguf file) or url (a server)")
        if self.path is not None and any(
            v is not None
            for v in (
                self.model,
                self.api_key_env,
                self.gguf,
                self.timeout,
                self.retries,
                self.concurrency,
                self.warm,
            )
        ):
            raise ValueError(
                "model, api_key_env, gguf, timeout, retries, concurrency and warm need url"
            )
        return self


class Config(BaseModel):
    """The user config file (TOML): `annotator = "NAME"` and `[models.NAME]` tables."""

    model_config = ConfigDict(extra="forbid")
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    annotator: str | None = Field(
        None, description="Your name on annotations (PSMLAB_ANNOTATOR overrides it)."
    )


def load_config(path: Path | None = None) -> Config:
    p = path or paths.config_file()
    if not p.exists():
        return Config()
    return read_toml(
        p, Config, ConfigError, what="config file", fix="see README 'Models' for the fields"
    )
