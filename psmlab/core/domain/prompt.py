"""Build the exact prompt one model receives: transcript + format + system + prefill -> tokens.

This is the only place formatting happens. User text is always tokenized with control tokens
disabled, so typing `<|im_start|>` stays text; only the format's own markers become control tokens.
(Tokens a vocabulary marks as user-defined, such as Gemma's `<start_of_image>`, are still matched in
any text by llama.cpp itself, exactly as Hugging Face tokenizers do.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psmlab.core.domain.formats import ChatTemplate, Format, Segment, ServerChat
from psmlab.core.domain.prompt_warnings import (
    frame_label_warnings,
    left_out,
    left_out_warnings,
    model_warnings,
    prefill_warnings,
    template_warnings,
    tokenizer_notes,
    typed_markers,
)
from psmlab.core.domain.transcript import Transcript, Turn
from psmlab.core.domain.types import ModelFacts, Tokenizer
from psmlab.core.errors import ContextOverflowError, FormatError, TranscriptError

PieceKind = Literal["bos", "special", "format", "content", "prefill"]


@dataclass(frozen=True)
class PromptPiece:
    """A span of the prompt text: a control token, format text, message text or prefill."""

    text: str
    kind: PieceKind


@dataclass(frozen=True)
class RenderedPrompt:
    """Exactly what one model sees, with where each piece came from and what to watch out for."""

    model_id: str
    format: str
    format_kind: str
    text: str
    tokens: tuple[int, ...]
    pieces: tuple[PromptPiece, ...]
    stop: tuple[str, ...]
    warnings: tuple[str, ...]
    prefill: str | None
    n_ctx: int
    trimmed_turns: int = 0
    # For the server-chat format: the (role, content) messages sent instead of prompt text.
    messages: tuple[tuple[str, str], ...] = ()

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def tokens_label(self) -> str:
        """'N tokens', or who counts them when psmlab has no tokenizer (a server model)."""
        if not self.tokens and self.text:
            return "tokens counted by the server"
        return f"{self.n_tokens} tokens"

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model_id,
            "format": self.format,
            "format_kind": self.format_kind,
            "text": self.text,
            "n_tokens": self.n_tokens,
            "tokens": list(self.tokens),
            "pieces": [{"text": p.text, "kind": p.kind} for p in self.pieces],
            "stop": list(self.stop),
            "warnings": list(self.warnings),
            "prefill": self.prefill,
            "n_ctx": self.n_ctx,
            "trimmed_turns": self.trimmed_turns,
            **({"messages": [list(m) for m in self.messages]} if self.messages else {}),
        }


def split_prefill(transcript: Transcript, prefill: str | None) -> tuple[list[Turn], str | None]:
    """A transcript that ends with an assistant turn asks the model to continue that turn."""
    turns = list(transcript.turns)
    if turns and turns[-1].role == "assistant":
        if prefill:
            raise TranscriptError(
                "the transcript ends with an assistant turn and a prefill was also given",
                "drop --prefill or the final assistant turn",
            )
        return turns[:-1], turns[-1].content or None
    return turns, prefill or None


def render(
    transcript: Transcript,
    fmt: Format,
    tok: Tokenizer,
    *,
    model_id: str,
    n_ctx: int,
    model: ModelFacts | None = None,
    system: str | None = None,
    prefill: str | None = None,
    reserve: int = 0,
) -> RenderedPrompt:
    """Render and tokenize; drop the oldest turns if the prompt plus `reserve` exceeds `n_ctx`.
    `model` (its spec) adds what the model itself warns of: a doubtful kind, a context past
    its trained length."""
    turns, prefill = split_prefill(transcript.with_system(system), prefill)
    dropped = 0
    while True:
        try:
            prompt = _render_once(turns, fmt, tok, model_id, n_ctx, prefill, dropped, model)
        except FormatError as exc:
            # A template that fails on a model whose name says it is base (a base GGUF carrying
            # a chat template): the kind, said with every prompt, came only with one that rendered.
            doubt = model.kind_doubt() if model is not None else None
            if doubt is None or not isinstance(fmt, ChatTemplate) or fmt.origin != "gguf":
                raise
            raise type(exc)(exc.problem, f"{exc.fix}; {doubt}") from None
        if prompt.n_tokens + reserve <= n_ctx:
            return prompt
        # Drop the oldest non-system turn (a user turn takes its answer with it), but never the
        # last user message, which the model is asked to answer.
        last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=len(turns))
        first = next((i for i, t in enumerate(turns) if t.role != "system"), len(turns))
        if first >= last_user:
            # Scoring (probes, evals) generates nothing: no --max-tokens to lower there.
            lower = ", lower the max tokens," if reserve else ""
            # The lab has no --n-ctx flag: the config entry is the one way that works everywhere.
            raise ContextOverflowError(
                f"the prompt for {model_id} is {prompt.n_tokens} tokens; with {reserve} tokens "
                f"to generate it does not fit n_ctx={n_ctx}",
                f"raise n_ctx (n_ctx in the model's config entry, see psmlab models; --n-ctx in "
                f"ask, render, probe and evals){lower} or shorten the message",
            )
        cut = 1
        if (
            turns[first].role == "user"
            and first + 1 < last_user
            and turns[first + 1].role == "assistant"
        ):
            cut = 2
        turns = turns[:first] + turns[first + cut :]
        dropped += cut


def _render_once(
    turns: list[Turn],
    fmt: Format,
    tok: Tokenizer,
    model_id: str,
    n_ctx: int,
    prefill: str | None,
    dropped: int,
    model: ModelFacts | None,
) -> RenderedPrompt:
    warnings: list[str] = []
    if isinstance(fmt, ServerChat):
        return _render_server_chat(turns, fmt, tok, model_id, n_ctx, prefill)
    if isinstance(fmt, ChatTemplate):
        bos = tok.piece(tok.bos_id) if tok.bos_id is not None else ""
        eos = tok.piece(tok.eos_id) if tok.eos_id is not None else ""
        segments = fmt.render(turns, prefill, bos=bos, eos=eos)
        stop = tuple(_template_stop(fmt, bos, eos))
    else:
        segments = fmt.render(turns, prefill)
        stop = tuple(fmt.stop)
        warnings.extend(frame_label_warnings(fmt, turns, prefill))
    pieces = _split_specials(segments, tok, parse_format=isinstance(fmt, ChatTemplate))
    tokens: list[int] = []
    if (
        tok.add_bos
        and tok.bos_id is not None
        and not (pieces and pieces[0].kind == "special" and pieces[0].text == tok.piece(tok.bos_id))
    ):
        tokens.append(tok.bos_id)
        pieces.insert(0, PromptPiece(tok.piece(tok.bos_id), "bos"))
    tokens.extend(_tokenize_pieces(pieces, tok))
    if isinstance(fmt, ChatTemplate):
        lost = left_out(turns, segments, fmt)
        warnings.extend(template_warnings(pieces, tok, fmt, system_lost="system" in lost))
        warnings.extend(left_out_warnings(lost, fmt))
    warnings.extend(tokenizer_notes(tok, pieces) or typed_markers(tok, pieces))
    if dropped:
        warnings.append(
            f"the transcript was trimmed to fit n_ctx={n_ctx}: the {dropped} oldest turn(s) were dropped"
        )
    if model is not None:
        warnings.extend(model_warnings(model, n_ctx))
    warnings.extend(prefill_warnings(prefill))
    return RenderedPrompt(
        model_id=model_id,
        format=fmt.name,
        format_kind=fmt.kind,
        text="".join(p.text for p in pieces),
        tokens=tuple(tokens),
        pieces=tuple(pieces),
        stop=stop,
        warnings=tuple(warnings),
        prefill=prefill,
        n_ctx=n_ctx,
        trimmed_turns=dropped,
    )


def _render_server_chat(
    turns: list[Turn],
    fmt: ServerChat,
    tok: Tokenizer,
    model_id: str,
    n_ctx: int,
    prefill: str | None,
) -> RenderedPrompt:
    segments = fmt.render(turns, prefill)
    pieces = [PromptPiece(seg.text, seg.kind) for seg in segments]
    warnings = [
        f"format {fmt.name}: the server applies its own chat template to these messages, so the "
        "exact prompt text the model sees is not visible to psmlab"
    ]
    warnings.extend(tokenizer_notes(tok, pieces))
    return RenderedPrompt(
        model_id=model_id,
        format=fmt.name,
        format_kind=fmt.kind,
        text="".join(p.text for p in pieces),
        tokens=(),
        pieces=tuple(pieces),
        stop=(),
        warnings=tuple(warnings),
        prefill=None,
        n_ctx=n_ctx,
        messages=tuple((t.role, t.content) for t in turns),
    )


def _split_specials(
    segments: list[Segment], tok: Tokenizer, *, parse_format: bool
) -> list[PromptPiece]:
    """Cut format text at its control tokens; message and prefill text is never parsed for them."""
    out: list[PromptPiece] = []
    for seg in segments:
        if seg.kind != "format" or not parse_format:
            out.append(PromptPiece(seg.text, seg.kind))
            continue
        cursor = 0
        for t in tok.tokenize(seg.text, special=True):
            if not tok.is_control(t):
                continue
            text = tok.piece(t)
            at = seg.text.find(text, cursor)
            if at < 0:  # cannot happen for a sane vocabulary; keep the text plain rather than guess
                continue
            if at > cursor:
                out.append(PromptPiece(seg.text[cursor:at], "format"))
            out.append(PromptPiece(text, "special"))
            cursor = at + len(text)
        if cursor < len(seg.text):
            out.append(PromptPiece(seg.text[cursor:], "format"))
    return out


def _tokenize_pieces(pieces: list[PromptPiece], tok: Tokenizer) -> list[int]:
    """Tokenize each run of plain text between control tokens as one string, like llama.cpp does."""
    tokens: list[int] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            tokens.extend(tok.tokenize("".join(run), special=False))
            run.clear()

    for p in pieces:
        if p.kind == "bos":
            continue
        if p.kind == "special":
            flush()
            tokens.extend(tok.tokenize(p.text, special=True))
        else:
            run.append(p.text)
    flush()
    return tokens


def _template_stop(fmt: ChatTemplate, bos: str, eos: str) -> list[str]:
    """The user-turn header of a template, as text: seeing it generated is a role leak."""
    probe = [Turn("user", "\ue000"), Turn("assistant", "\ue001"), Turn("user", "\ue002")]
    try:
        msgs = [{"role": t.role, "content": t.content} for t in probe]
        text = fmt.render_messages(msgs, bos, eos)
    except Exception:
        return []
    between = text.partition("\ue001")[2].partition("\ue002")[0]
    lines = [ln.strip() for ln in between.splitlines() if ln.strip()]
    if not lines:
        return []
    line = lines[-1]
    # "</s>[INST]" (Mistral), "</s><s>[INST]" (Llama 2): the end-of-sequence text ends
    # generation by itself, so a stop string that begins with it is never seen as text; the
    # header after it is (and a BOS right after an EOS goes with it). A BOS alone stays: it
    # can be the turn marker itself (SmolLM2's BOS is "<|im_start|>").
    if eos and line.startswith(eos):
        line = line[len(eos) :].strip()
        if bos and line.startswith(bos):
            line = line[len(bos) :].strip()
    # "<|eot_id|><|start_header_id|>user..." -> start at the marker that opens the user header:
    # the end-of-turn marker before it ends generation by itself and would never be seen as text.
    at = line.lower().rfind("user")
    opener = line.rfind("<", 0, at) if at > 0 else -1
    if opener > 0:
        line = line[opener:]
    return [line] if len(line) >= 3 else []
