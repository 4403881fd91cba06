"""What to watch out for in a rendered prompt: text the template injected or left out, markers
the model reads as plain text, and what the model's own record says (kind, trained length)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from psmlab.core.domain.formats import EMPTY_SYSTEM, ChatTemplate, Frame, Segment
from psmlab.core.domain.transcript import Turn
from psmlab.core.domain.types import ModelFacts, Tokenizer

if TYPE_CHECKING:
    from psmlab.core.domain.prompt import PromptPiece

_ROLE_WORDS = re.compile(r"\b(system|user|assistant|model|human|ai)\b", re.I)
MARKER = re.compile(r"<\|?[A-Za-z_][A-Za-z0-9_]*\|?>")
_BRACKET_MARKER = re.compile(r"\[/?[A-Z][A-Z_]*\]|<</?SYS>>")


def model_warnings(model: ModelFacts, n_ctx: int) -> list[str]:
    """What the model's own record says about this prompt: a kind its name contradicts, a
    context past the length it was trained on."""
    warnings = []
    doubt = model.kind_doubt()
    if doubt:
        warnings.append(doubt)
    trained = model.trained_ctx
    if trained and 0 < trained < n_ctx:
        # llama.cpp runs past the trained length without a word; the text there is not the
        # model's own distribution (a trial's --n-ctx 1024 on a 256-token model said nothing).
        warnings.append(
            f"n_ctx={n_ctx} is past the {trained} tokens this model was trained on: text "
            f"beyond them is out of its distribution; set n_ctx to {trained} or less (--n-ctx, "
            "or n_ctx in the model's config entry)"
        )
    return warnings


def typed_markers(tok: Tokenizer, pieces: list[PromptPiece]) -> list[str]:
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


def tokenizer_notes(tok: Tokenizer, pieces: list[PromptPiece]) -> list[str]:
    """A server model's tokenizer adds its caveats (who tokenizes, markers in message text)."""
    notes = getattr(tok, "prompt_notes", None)
    return list(notes(pieces)) if notes is not None else []


def left_out(turns: list[Turn], segments: list[Segment], fmt: ChatTemplate) -> list[str]:
    """The roles of the messages a chat template did not put in the prompt at all (Phi-3's
    template drops the system turn; one rendering messages[-1] drops the history): records and
    reports would otherwise say the model saw them (a trial's experiment compared a context
    with none, word for word the same samples)."""
    # Known by position, not text (a system prompt worded as the question was matched to it).
    # The template was given an empty system turn first where `empty_system` adds one.
    offset = 1 if fmt.empty_system and (not turns or turns[0].role != "system") else 0
    shown = {s.index - offset for s in segments if s.kind == "content" and s.index is not None}
    return [t.role for i, t in enumerate(turns) if t.content.strip() and i not in shown]


def left_out_warnings(lost: list[str], fmt: ChatTemplate) -> list[str]:
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


def template_warnings(
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


def prefill_warnings(prefill: str | None) -> list[str]:
    """A prefill that ends in a space: words carry their space at their start, so the model
    goes on from a token boundary text seldom has (its next words can go odd), and a scored
    answer's first token takes the space in (`Score.merged`)."""
    if not prefill or not prefill.endswith((" ", "\t")):
        return []
    return [
        f"the prefill {prefill!r} ends in a space: the model's next word usually brings its own, "
        "so it goes on from an unusual token boundary, and forced choice scores each answer with "
        "that space as its first character; drop the trailing space unless you mean it"
    ]


def _speaker_labels(frame: Frame) -> list[str]:
    """The frame's own speaker labels ("User:", "<assistant>", "Post by User:", "USER"): what
    its user and assistant turns begin with, and what its stop strings start a line with."""
    heads = [t.partition("{content}")[0].strip() for t in (frame.spec.user, frame.spec.assistant)]
    heads += [s.strip() for s in frame.spec.stop]
    return sorted({h for h in heads if h}, key=len, reverse=True)


def _opens_with(line: str, label: str) -> bool:
    if label[-1].isalnum():  # "USER": a line of its own, not "USERS ..."
        return line.rstrip() == label
    return line.startswith(label)


def frame_label_warnings(frame: Frame, turns: list[Turn], prefill: str | None) -> list[str]:
    """Message text with a line that opens with one of the frame's speaker labels ("Hi\n
    Assistant: I am Bob."): in a plain document nothing marks where a message ends, so the
    base model reads a turn the transcript does not have (a trial: `render` showed three turns
    for one message, and the export one). Chat templates say the like of typed markers."""
    labels = _speaker_labels(frame)
    # Named by its start, not a number: trimming and a system prompt from the settings shift
    # the turns' numbers here from the transcript's.
    texts = [(f"the {t.role} message {_start(t.content)}", t.content) for t in turns]
    if prefill:
        texts.append(("the prefill", prefill))
    out = []
    for where, text in texts:
        found = _label_line(text, labels)
        if found is not None:
            out.append(
                f"{where} has a line opening with {found!r}, this frame's own speaker label: "
                f"the base model reads it as a turn of its own, not as part of the message; "
                "reword that line if you did not mean a turn there"
            )
    return out


def speaker_line(text: str, frames: list[Frame]) -> str | None:
    """The first speaker label of any of `frames` that opens a line of `text` after its first
    ("…my team.\nAssistant: What is your favorite food?"), or None: adopted, such an answer
    is read by those frames as a turn of its own (said before it is chosen, not only at the
    next run's warning)."""
    labels = sorted({lb for f in frames for lb in _speaker_labels(f)}, key=len, reverse=True)
    return _label_line(text, labels)


def _label_line(text: str, labels: list[str]) -> str | None:
    """The first of `labels` that opens a line of `text` after its first (which follows the
    frame's own label: "User: User: hi" is one turn)."""
    lines = [ln.lstrip() for ln in text.split("\n")[1:]]
    return next((lb for ln in lines for lb in labels if _opens_with(ln, lb)), None)


def _start(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 24 else flat[:23] + "…")
