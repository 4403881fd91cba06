"""Build the exact prompt one model receives: transcript + format + system + prefill -> tokens.

This is the only place formatting happens. User text is always tokenized with control tokens
disabled, so typing `<|im_start|>` stays text; only the format's own markers become control tokens.
(Tokens a vocabulary marks as user-defined, such as Gemma's `<start_of_image>`, are still matched in
any text by llama.cpp itself, exactly as Hugging Face tokenizers do.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from psmlab.core.domain.formats import EMPTY_SYSTEM, ChatTemplate, Format, Segment, ServerChat
from psmlab.core.domain.transcript import Transcript, Turn
from psmlab.core.domain.types import Tokenizer
from psmlab.core.errors import ContextOverflowError, TranscriptError

PieceKind = Literal["bos", "special", "format", "content", "prefill"]
_ROLE_WORDS = re.compile(r"\b(system|user|assistant|model|human|ai)\b", re.I)
MARKER = re.compile(r"<\|?[A-Za-z_][A-Za-z0-9_]*\|?>")
_BRACKET_MARKER = re.compile(r"\[/?[A-Z][A-Z_]*\]|<</?SYS>>")


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
    system: str | None = None,
    prefill: str | None = None,
    reserve: int = 0,
) -> RenderedPrompt:
    """Render and tokenize; drop the oldest turns if the prompt plus `reserve` exceeds `n_ctx`."""
    turns, prefill = split_prefill(transcript.with_system(system), prefill)
    dropped = 0
    while True:
        prompt = _render_once(turns, fmt, tok, model_id, n_ctx, prefill, dropped)
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
        lost = _left_out(turns, segments, fmt)
        warnings.extend(_template_warnings(pieces, tok, fmt, system_lost="system" in lost))
        warnings.extend(_left_out_warnings(lost, fmt))
    warnings.extend(_tokenizer_notes(tok, pieces) or _typed_markers(tok, pieces))
    if dropped:
        warnings.append(
            f"the transcript was trimmed to fit n_ctx={n_ctx}: the {dropped} oldest turn(s) were dropped"
        )
    doubt = getattr(tok, "kind_doubt", None)
    if isinstance(doubt, str):
        warnings.append(doubt)
    trained = getattr(tok, "trained_ctx", None)
    if isinstance(trained, int) and 0 < trained < n_ctx:
        # llama.cpp runs past the trained length without a word; the text there is not the
        # model's own distribution (a trial's --n-ctx 1024 on a 256-token model said nothing).
        warnings.append(
            f"n_ctx={n_ctx} is past the {trained} tokens this model was trained on: text "
            f"beyond them is out of its distribution; set n_ctx to {trained} or less (--n-ctx, "
            "or n_ctx in the model's config entry)"
        )
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


def _typed_markers(tok: Tokenizer, pieces: list[PromptPiece]) -> list[str]:
    """Message text holding one of this model's own control tokens ("<|im_start|>" typed into
    a message): psmlab tokenizes messages without control tokens, so the model reads it as
    text, not as a turn boundary. Said, as a server model's prompt says its markers."""
    if getattr(tok, "text_only", False):
        return []
    typed = sorted(
        {m for p in pieces if p.kind in ("content", "prefill") for m in MARKER.findall(p.text)}
    )
    own = []
    for m in typed:
        ids = tok.tokenize(m, special=True)
        if len(ids) == 1 and tok.is_control(ids[0]):
            own.append(m)
    if not own:
        return []
    return [
        f"the messages contain {', '.join(own[:4])}, this model's own control "
        f"token{'s' if len(own) > 1 else ''}: it reads {'them' if len(own) > 1 else 'it'} as "
        "plain text here, not as a turn boundary (psmlab never reads control tokens in messages)"
    ]


def _tokenizer_notes(tok: Tokenizer, pieces: list[PromptPiece]) -> list[str]:
    """A server model's tokenizer adds its caveats (who tokenizes, markers in message text)."""
    notes = getattr(tok, "prompt_notes", None)
    return list(notes(pieces)) if notes is not None else []


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
    warnings.extend(_tokenizer_notes(tok, pieces))
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


def _left_out(turns: list[Turn], segments: list[Segment], fmt: ChatTemplate) -> list[str]:
    """The roles of the messages a chat template did not put in the prompt at all (Phi-3's
    template drops the system turn; one rendering messages[-1] drops the history): records and
    reports would otherwise say the model saw them (a trial's experiment compared a context
    with none, word for word the same samples)."""
    # Known by position, not text (a system prompt worded as the question was matched to it).
    # The template was given an empty system turn first where `empty_system` adds one.
    offset = 1 if fmt.empty_system and (not turns or turns[0].role != "system") else 0
    shown = {s.index - offset for s in segments if s.kind == "content" and s.index is not None}
    return [t.role for i, t in enumerate(turns) if t.content.strip() and i not in shown]


def _left_out_warnings(lost: list[str], fmt: ChatTemplate) -> list[str]:
    out = []
    if "system" in lost:
        out.append(
            f"{fmt.label} leaves the system prompt out: the model never sees it; use a format "
            "that keeps it (e.g. -f chatml) or put it in the first message"
        )
    turns = [r for r in lost if r != "system"]
    if turns:
        out.append(
            f"{fmt.label} leaves out {len(turns)} earlier message{'s' * (len(turns) != 1)} "
            f"({', '.join(turns)}): the model sees only the rest; use a format that keeps the "
            "history (e.g. -f chatml)"
        )
    return out


def _template_warnings(
    pieces: list[PromptPiece], tok: Tokenizer, fmt: ChatTemplate, *, system_lost: bool = False
) -> list[str]:
    out: list[str] = []
    injected = []
    for line in "".join(p.text for p in pieces if p.kind == "format").splitlines():
        # Mistral's "[INST]" and Llama 2's "<<SYS>>" are markers too, and a lone "<" no word.
        bare = _BRACKET_MARKER.sub(" ", MARKER.sub(" ", line))
        words = [w for w in _ROLE_WORDS.sub(" ", bare).split() if any(c.isalnum() for c in w)]
        if len(words) >= 3:
            injected.append(line.strip())
    if injected:
        snippet = " / ".join(injected)
        snippet = snippet if len(snippet) <= 160 else snippet[:157] + "..."
        own = fmt.origin == "gguf" and not fmt.empty_system
        none = f", or the format {EMPTY_SYSTEM} for none" if own else ""
        # A template that drops the system prompt keeps its own: --system cannot replace it.
        fix = "" if system_lost else f"; set --system to choose your own{none}"
        out.append(
            f"the chat template injected text that is not in the transcript (a default system "
            f'prompt?): "{snippet}"{fix}'
        )
    plain_markers = sorted(
        {m for p in pieces if p.kind == "format" for m in MARKER.findall(p.text)}
    )
    if plain_markers and not getattr(tok, "text_only", False):
        out.append(
            f"format {fmt.name} uses markers this model does not know as control tokens "
            f"({', '.join(plain_markers[:4])}): it reads them as plain text"
        )
    return out


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
    # "<|eot_id|><|start_header_id|>user..." -> start at the marker that opens the user header:
    # the end-of-turn marker before it ends generation by itself and would never be seen as text.
    at = line.lower().rfind("user")
    opener = line.rfind("<", 0, at) if at > 0 else -1
    if opener > 0:
        line = line[opener:]
    return [line] if len(line) >= 3 else []
