"""The neutral transcript: system / user / assistant turns, read and written as OpenAI-style messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from psmlab.core.errors import TranscriptError

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
_FIX = 'write a JSON list like [{"role": "user", "content": "What are you?"}]'


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


@dataclass(frozen=True)
class Transcript:
    """An immutable list of turns; formatting for a model happens only in `prompt.py`."""

    turns: tuple[Turn, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, *pairs: tuple[str, str]) -> Transcript:
        return cls.from_messages([{"role": r, "content": c} for r, c in pairs])

    @classmethod
    def from_messages(cls, messages: Any, *, source: str = "transcript") -> Transcript:
        """Validate an OpenAI-style messages list; errors name the index and the problem."""
        if isinstance(messages, dict) and "messages" in messages:
            messages = messages["messages"]
        if not isinstance(messages, list):
            raise TranscriptError(f"{source} is not a list of messages", _FIX)
        turns: list[Turn] = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise TranscriptError(f"{source}: message {i + 1} is not an object", _FIX)
            role, content = m.get("role"), m.get("content")
            if role not in ROLES:
                raise TranscriptError(
                    f"{source}: message {i + 1} has role {role!r}",
                    "use one of system, user, assistant",
                )
            if isinstance(content, list):  # OpenAI content parts: keep the text parts
                parts = [p.get("text", "") for p in content if isinstance(p, dict)]
                content = "".join(x for x in parts if isinstance(x, str))
            if not isinstance(content, str):
                raise TranscriptError(f"{source}: message {i + 1} has no text content", _FIX)
            if role == "user" and not content.strip():
                raise TranscriptError(
                    f"{source}: message {i + 1} is an empty user message",
                    "give the user message some text, or drop it",
                )
            turns.append(Turn(role=role, content=content))
        return cls(tuple(turns))

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise TranscriptError(f"transcript file not found: {p}", "check the path") from None
        except IsADirectoryError:
            raise TranscriptError(
                f"transcript path {p} is a directory", "pass a JSON file"
            ) from None
        except OSError as exc:
            raise TranscriptError(
                f"cannot read transcript {p}: {exc.strerror}", "check it"
            ) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise TranscriptError(
                f"transcript {p} is not UTF-8 (bad byte at {exc.start})", "save it as UTF-8"
            ) from None
        except json.JSONDecodeError as exc:
            raise TranscriptError(
                f"transcript {p} is not valid JSON (line {exc.lineno}: {exc.msg})", _FIX
            ) from None
        return cls.from_messages(data, source=f"transcript {p}")

    def to_messages(self) -> list[dict[str, str]]:
        return [{"role": t.role, "content": t.content} for t in self.turns]

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(
            json.dumps(self.to_messages(), indent=2, ensure_ascii=False), encoding="utf-8"
        )

    def with_turn(self, role: Role, content: str) -> Transcript:
        return Transcript((*self.turns, Turn(role, content)))

    def with_system(self, content: str | None) -> Transcript:
        """Set the first system turn to `content` ("" removes it; None keeps the transcript as is).

        Later system turns are kept where they are: they are part of the conversation."""
        if content is None:
            return self
        turns = list(self.turns)
        at = next((i for i, t in enumerate(turns) if t.role == "system"), None)
        if at is None:
            if content:
                turns.insert(0, Turn("system", content))
        elif content:
            turns[at] = Turn("system", content)
        else:
            del turns[at]
        return Transcript(tuple(turns))

    @property
    def last_user(self) -> str | None:
        """The last user turn's text: the question the next assistant turn answers."""
        for t in reversed(self.turns):
            if t.role == "user":
                return t.content
        return None

    @property
    def system(self) -> str | None:
        for t in self.turns:
            if t.role == "system":
                return t.content
        return None

    def __len__(self) -> int:
        return len(self.turns)
