"""Formats turn a transcript into prompt text: base-model frames (data files) or chat templates.

Rendering returns *segments* that say which text came from the format (may hold control tokens) and
which came from a message (always plain text), so `prompt.py` can tokenize user text safely.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2
from jinja2.exceptions import SecurityError
from pydantic import BaseModel, ConfigDict, Field

from psmlab.core import paths
from psmlab.core.domain.jinja_sandbox import MAX_RENDER_CHARS, MAX_RENDER_SECONDS, template_env
from psmlab.core.domain.tomlfile import read_toml
from psmlab.core.domain.transcript import Turn
from psmlab.core.errors import FormatError, TemplateError

SegmentKind = Literal["format", "content", "prefill"]


@dataclass(frozen=True)
class Segment:
    """A piece of prompt text and where it came from."""

    text: str
    kind: SegmentKind
    # For a chat template's message text: which message it is (`ChatTemplate.render`'s list,
    # an inserted empty system turn included), so a message left out is known by position.
    index: int | None = None


class FrameSpec(BaseModel):
    """A base-model frame file (`*.toml`)."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    preamble: str = ""
    system: str = Field("{content}", description="How a system message is written.")
    user: str = Field(description="How a user turn is written; {content} marks the message.")
    assistant: str = Field(description="How an assistant turn is written; {content} marks it.")
    turn_separator: str = "\n"
    stop: list[str] = Field(min_length=1, description="Text that means the user's turn began.")


@dataclass(frozen=True)
class Frame:
    """A plain-text document framing: what base models see by default."""

    name: str
    spec: FrameSpec
    kind: Literal["frame"] = "frame"

    @property
    def description(self) -> str:
        return self.spec.description

    @property
    def stop(self) -> list[str]:
        return list(self.spec.stop)

    def render(self, turns: list[Turn], prefill: str | None) -> list[Segment]:
        s = self.spec
        segs: list[Segment] = []
        if s.preamble:
            segs.append(Segment(s.preamble, "format"))
        for i, turn in enumerate(turns):
            if i:
                segs.append(Segment(s.turn_separator, "format"))
            segs.extend(_fill(getattr(s, turn.role), turn.content))
        if turns:
            segs.append(Segment(s.turn_separator, "format"))
        head, _, _ = s.assistant.partition("{content}")
        if prefill:
            # A prefill that brings its own leading space must not get a second one.
            segs.append(Segment(head.rstrip(" ") if prefill[:1].isspace() else head, "format"))
            segs.append(Segment(prefill, "prefill"))
        else:
            # "Assistant:" not "Assistant: ": BPE vocabularies put the space inside the next token.
            segs.append(Segment(head.rstrip(" "), "format"))
        return [x for x in segs if x.text]


def _fill(template: str, content: str) -> list[Segment]:
    head, found, tail = template.partition("{content}")
    if not found:
        return [Segment(template, "format")]
    return [Segment(head, "format"), Segment(content, "content"), Segment(tail, "format")]


# --- chat templates ---------------------------------------------------------------------------

_SENTINEL = re.compile("\ue000(\\d+)\ue001")


# How to choose another format, in both places one is chosen.
_ANOTHER = "pick another format (e.g. chatml or dialogue: -f on the command line, F3 in the lab)"

# The model's own template, as it is and with an empty system turn (no default system prompt).
EMPTY_SYSTEM = "template-empty-system"
OWN_TEMPLATES = ("template", EMPTY_SYSTEM)


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template: the model's own (from GGUF metadata) or a named built-in."""

    name: str
    source: str
    origin: str  # "gguf" or "builtin"
    owner: str = ""  # the model whose GGUF the template came from
    kind: Literal["template"] = "template"
    # Give the template an empty system turn when the transcript has none, so it cannot fill in
    # its default system prompt (as Hugging Face does for {"role": "system", "content": ""}).
    empty_system: bool = False

    @property
    def label(self) -> str:
        return (
            f"the chat template of {self.owner}" if self.owner else f"chat template '{self.name}'"
        )

    @property
    def description(self) -> str:
        what = "the model's own chat template" if self.origin == "gguf" else f"built-in {self.name}"
        return what + (", with an empty system turn" if self.empty_system else "")

    def render_messages(
        self, messages: list[dict[str, str]], bos: str, eos: str, *, generation: bool = True
    ) -> str:
        """The template applied to plain role/content messages (no segment marking)."""
        try:
            tmpl = template_env().from_string(self.source)
            out: list[str] = []
            size, t0 = 0, time.thread_time()  # CPU time: a loaded machine is no malicious template
            for chunk in tmpl.generate(
                messages=messages, bos_token=bos, eos_token=eos, add_generation_prompt=generation
            ):
                out.append(chunk)
                size += len(chunk)
                if size > MAX_RENDER_CHARS or time.thread_time() - t0 > MAX_RENDER_SECONDS:
                    raise SecurityError(
                        f"rendering went past {MAX_RENDER_CHARS} characters or {MAX_RENDER_SECONDS} s"
                    )
            return "".join(out)
        except SecurityError as exc:
            raise FormatError(
                f"{self.label} was stopped by the sandbox: {exc}",
                f"the template may be malicious or broken; {_ANOTHER}",
            ) from None
        except jinja2.exceptions.TemplateSyntaxError as exc:
            # The template itself cannot be read (a syntax error, an unknown filter): no
            # transcript would render, and a retry never helps (a trial was told to change it).
            where = f" (line {exc.lineno})" if exc.lineno else ""
            raise TemplateError(
                f"{self.label} is broken: {(exc.message or str(exc)).rstrip('.')}{where}; no transcript renders "
                "with it",
                _ANOTHER,
            ) from None
        except jinja2.exceptions.TemplateError as exc:
            raise TemplateError(
                f"{self.label} refused the transcript: {exc}",
                f"change the transcript (e.g. make roles alternate user/assistant) or {_ANOTHER}",
            ) from None
        except Exception as exc:  # a template is untrusted code: any failure is a format error
            raise TemplateError(
                f"{self.label} failed: {type(exc).__name__}: {exc}",
                _ANOTHER,
            ) from None

    def render(
        self, turns: list[Turn], prefill: str | None, *, bos: str, eos: str
    ) -> list[Segment]:
        msgs = [{"role": t.role, "content": t.content} for t in turns]
        if self.empty_system and (not msgs or msgs[0]["role"] != "system"):
            msgs.insert(0, {"role": "system", "content": ""})
        marked = [{"role": m["role"], "content": f"\ue000{i}\ue001"} for i, m in enumerate(msgs)]
        lone = self._lone_answer(msgs, marked, bos, eos) if prefill else None
        if lone:
            text, skeleton = lone
        else:
            text = self.render_messages(msgs, bos, eos)
            skeleton = self.render_messages(marked, bos, eos)
            if prefill:
                text, skeleton = self._answer_lead(msgs, bos, eos, text, skeleton, prefill)
        segs = self._trace(text, skeleton, msgs)
        if prefill:
            segs.append(Segment(prefill, "prefill"))
        return [s for s in segs if s.text]

    def _lone_answer(
        self, msgs: list[dict[str, str]], marked: list[dict[str, str]], bos: str, eos: str
    ) -> tuple[str, str] | None:
        """An answer begun with no message before it (at most a system turn): the template's
        loop never runs for an empty list, so what it puts before the first message (SmolLM2's
        default system prompt) would be missing. Render the answer as a message instead and cut
        the prompt where its text begins, as a chat app continuing that message would; None
        where the template refuses or changes it (then the generation prompt is used)."""
        if any(m["role"] != "system" for m in msgs):
            return None
        text = self._before_answer(msgs, bos, eos)
        skeleton = self._before_answer(marked, bos, eos) if text is not None else None
        return (text, skeleton) if text is not None and skeleton is not None else None

    def _answer_lead(
        self,
        msgs: list[dict[str, str]],
        bos: str,
        eos: str,
        text: str,
        skeleton: str,
        prefill: str,
    ) -> tuple[str, str]:
        """The generation prompt, with the space the template puts before an answer's text: a
        Mistral-style template writes "[/INST]" + " " + content, so a prefill continues after
        that space (a trial's prompt read "[/INST]I am"). Only whitespace is added, and none
        when the prefill brings its own."""
        lead = self._before_answer(msgs, bos, eos)
        if lead is None or not lead.startswith(text) or prefill[:1].isspace():
            return text, skeleton
        extra = lead[len(text) :]
        if not extra or extra.strip():
            return text, skeleton
        return text + extra, skeleton + extra

    def _before_answer(self, msgs: list[dict[str, str]], bos: str, eos: str) -> str | None:
        """The prompt up to where an assistant message after `msgs` begins its text (rendered as
        a finished message, not a generation prompt); None where the template refuses it or
        does not write the text exactly once."""
        answer = {"role": "assistant", "content": _LONE}
        try:
            full = self.render_messages([*msgs, answer], bos, eos, generation=False)
        except FormatError:
            return None
        return full[: full.index(_LONE)] if full.count(_LONE) == 1 else None

    def _trace(self, text: str, skeleton: str, msgs: list[dict[str, str]]) -> list[Segment]:
        """Find each message's text in the rendered prompt by walking the skeleton's pieces."""
        parts = _SENTINEL.split(skeleton)  # [piece, idx, piece, idx, ..., piece]
        pieces, idxs = parts[0::2], [int(x) for x in parts[1::2]]
        segs: list[Segment] = []
        pos = 0
        for n, piece in enumerate(pieces):
            if not text.startswith(piece, pos):
                raise self._untraceable()
            segs.append(Segment(piece, "format"))
            pos += len(piece)
            if n == len(idxs):
                break
            content = msgs[idxs[n]]["content"]
            nxt = pieces[n + 1]
            for cand in dict.fromkeys(
                (content, content.strip(), content.lstrip(), content.rstrip())
            ):
                end = pos + len(cand)
                if text.startswith(cand, pos) and text.startswith(nxt, end):
                    segs.append(Segment(cand, "content", idxs[n]))
                    pos = end
                    break
            else:
                raise self._untraceable()
        if pos != len(text):
            raise self._untraceable()
        return segs

    def _untraceable(self) -> TemplateError:
        return TemplateError(
            f"{self.label} changes message text in a way psmlab cannot trace, "
            "so user text cannot be kept apart from control tokens",
            "use --format chatml (or another built-in) or a frame such as dialogue",
        )


# Stands in for a lone answer's text while a template renders it (a private-use character).
_LONE = "\ue002"

SERVER_CHAT = "server-chat"


@dataclass(frozen=True)
class ServerChat:
    """The server's own chat formatting (/v1/chat/completions): psmlab sends messages, not text.

    Rendering shows the messages that are sent; the exact prompt text stays on the server."""

    name: str = SERVER_CHAT
    kind: Literal["server"] = "server"
    description: str = "the server applies its own chat template (server models only)"

    def render(self, turns: list[Turn], prefill: str | None) -> list[Segment]:
        if prefill:
            raise FormatError(
                f"format {SERVER_CHAT} cannot prefill the answer: the chat API has no such field",
                "drop the prefill, or use a format psmlab renders (template, chatml, a frame)",
            )
        out: list[Segment] = []
        for t in turns:
            out += [Segment(f"[{t.role}]\n", "format"), Segment(t.content, "content")]
            out.append(Segment("\n", "format"))
        return out


Format = Frame | ChatTemplate | ServerChat


# --- lookup -----------------------------------------------------------------------------------


def _builtin_frame_files() -> dict[str, Path]:
    return paths.shipped_files("frames", ".toml")


def _user_frame_files() -> dict[str, Path]:
    return paths.user_files(paths.user_frames_dir(), ".toml")


def _builtin_templates() -> dict[str, Path]:
    return paths.shipped_files("templates", ".jinja")


def load_frame(name: str, path: Path) -> Frame:
    spec = read_toml(path, FrameSpec, FormatError, what="frame file", fix="fix the frame file")
    return Frame(name=name, spec=spec)


def frame_names() -> list[str]:
    return sorted({**_builtin_frame_files(), **_user_frame_files()})


def template_names() -> list[str]:
    return [*OWN_TEMPLATES, *sorted(_builtin_templates())]


def list_formats() -> list[tuple[str, str, str]]:
    """(name, kind, description) for every format."""
    rows = [("template", "template", "the model's own chat template (from its GGUF)")]
    rows.append(
        (
            EMPTY_SYSTEM,
            "template",
            "the model's own chat template with an empty system turn where the transcript has "
            "none (no default system prompt filled in)",
        )
    )
    rows += [(n, "template", f"built-in {n} chat template") for n in sorted(_builtin_templates())]
    rows += [(n, "frame", get_format(n, None).description) for n in frame_names()]
    rows.append((SERVER_CHAT, "server", ServerChat().description))
    return rows


def get_format(name: str, model_template: str | None, *, model_id: str = "model") -> Format:
    """Resolve a format name for one model; `template` means the model's own template."""
    if name in OWN_TEMPLATES:
        if not model_template:
            raise FormatError(
                f"{model_id} has no chat template in its GGUF",
                f"use --format chatml (or {', '.join(frame_names())})",
            )
        return ChatTemplate(
            name=name,
            source=model_template,
            origin="gguf",
            owner=model_id,
            empty_system=name == EMPTY_SYSTEM,
        )
    if name == SERVER_CHAT:
        return ServerChat()
    templates = _builtin_templates()
    if name in templates:
        return ChatTemplate(
            name=name, source=templates[name].read_text(encoding="utf-8"), origin="builtin"
        )
    frames = {**_builtin_frame_files(), **_user_frame_files()}
    if name in frames:
        return load_frame(name, frames[name])
    if name.endswith(".toml"):
        p = Path(name).expanduser()
        if p.is_file():
            return load_frame(p.stem, p)
        # A frame path was meant: "unknown format" sent the user to the list of names.
        raise FormatError(
            f"frame file not found: {name}",
            "check the path (a frame .toml is read from the current directory; in an "
            "experiment file, next to that file)",
        )
    known = ", ".join([*template_names(), *frame_names(), SERVER_CHAT])
    raise FormatError(f"unknown format '{name}'", f"choose one of: {known} (or a frame .toml path)")
