"""What psmlab knows of a server model's tokens: a local GGUF's vocabulary, or none (text only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psmlab.core.domain.prompt import PromptPiece, RenderedPrompt
from psmlab.core.domain.prompt_warnings import MARKER
from psmlab.core.models.spec import ModelSpec


class TextVocab:
    """For a server model without a local GGUF: psmlab renders text and the server tokenizes it."""

    bos_id: int | None = None
    eos_id: int | None = None
    add_bos = False
    text_only = True  # no vocabulary: markers cannot be checked against control tokens

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        return []

    def is_control(self, token: int) -> bool:
        return False

    def piece(self, token: int) -> str:
        return ""

    def prompt_notes(self, pieces: Sequence[PromptPiece]) -> list[str]:
        notes = [
            f"{self.model_id} is a server model without a local GGUF: the server tokenizes this "
            "text itself, so token counts and context trimming are the server's (set gguf = PATH "
            "in the config for exact tokens)"
        ]
        notes += _marker_notes(pieces)
        return notes


class LocalVocabNotes:
    """A local GGUF's vocabulary for a server model, plus the caveat that the server tokenizes."""

    def __init__(self, vocab: Any) -> None:
        self._v = vocab

    def __getattr__(self, name: str) -> Any:
        return getattr(self._v, name)

    def prompt_notes(self, pieces: Sequence[PromptPiece]) -> list[str]:
        return _marker_notes(pieces)


def _marker_notes(pieces: Sequence[PromptPiece]) -> list[str]:
    found = sorted(
        {m for p in pieces if p.kind in ("content", "prefill") for m in MARKER.findall(p.text)}
    )
    if not found:
        return []
    return [
        f"message text contains marker-like text ({', '.join(found[:4])}): the server tokenizes "
        "the whole prompt itself and may read it as a control token"
    ]


def vocab_for(spec: ModelSpec) -> tuple[Any, Any]:
    """(tokenizer, owner to close) for a server model: its local GGUF's vocabulary, or text only."""
    if spec.vocab_path:
        from psmlab.core.backends.llama.vocab import VocabOnly  # loads llama.cpp only when needed

        owner = VocabOnly(spec)
        return LocalVocabNotes(owner.vocab), owner
    return TextVocab(spec.id), None


def prompt_text(prompt: RenderedPrompt) -> str:
    """The text sent to /v1/completions: without the leading BOS, which the server adds itself."""
    pieces = list(prompt.pieces)
    if pieces and pieces[0].kind == "bos":
        pieces = pieces[1:]
    return "".join(p.text for p in pieces)
