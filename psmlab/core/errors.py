"""Error types that front ends turn into one-line messages and exit codes."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """One exit code per kind of failure, so scripts can tell them apart."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    MODEL = 3  # model file missing, not GGUF, truncated, failed to load, unknown id
    FORMAT = 4  # unknown format, chat template refused or failed
    TRANSCRIPT = 5  # transcript file unreadable or invalid
    CONTEXT = 6  # prompt does not fit the context window
    CONFIG = 7  # user config file invalid
    DEMO_MISSING = 8  # the demo extra is not installed
    PARTIAL = 9  # some models failed while others produced results
    SESSION = 10  # session file unreadable, wrong version, or invalid
    LOCKED = 11  # session file in use by another psmlab process
    PERSONA = 12  # persona file invalid
    CHANGED = 13  # a replay did not reproduce every generation
    REMOTE = 14  # a model server was unreachable, refused the request, timed out, or cannot do it
    CANCELLED = 130  # Ctrl+C: the shell's code for SIGINT (128 + 2)
    PIPE_CLOSED = 141  # the reader closed the pipe (`| head`): the shell's code for SIGPIPE


class PsmlabError(Exception):
    """An expected failure with a message that names the problem and a hint that names the fix."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem


class ModelError(PsmlabError):
    exit_code = ExitCode.MODEL


class FormatError(PsmlabError):
    exit_code = ExitCode.FORMAT


class TemplateError(FormatError):
    """A chat template that cannot render (broken, or refusing the transcript): deterministic,
    so a retry fails again; another format is the fix."""


class TranscriptError(PsmlabError):
    exit_code = ExitCode.TRANSCRIPT


class ContextOverflowError(PsmlabError):
    exit_code = ExitCode.CONTEXT


class ConfigError(PsmlabError):
    exit_code = ExitCode.CONFIG


class DemoMissingError(PsmlabError):
    exit_code = ExitCode.DEMO_MISSING


class SessionError(PsmlabError):
    exit_code = ExitCode.SESSION


class NotASessionError(SessionError):
    """A readable file that holds something else (a probe's JSON, a JSONL file): not damaged."""


class SessionLockedError(PsmlabError):
    exit_code = ExitCode.LOCKED


class PersonaError(PsmlabError):
    exit_code = ExitCode.PERSONA


class ScoringCancelled(PsmlabError):
    """Scoring was stopped on request (the lab started a new run)."""


class UsageError(PsmlabError):
    """Options that do not fit together or name nothing that exists."""

    exit_code = ExitCode.USAGE


class LayerError(UsageError):
    """A layer the model cannot use: `layer` of a model with `n_layer` layers (`exists`: it is
    there, but cannot hold what was asked, e.g. layer 0 and a control vector)."""

    def __init__(self, problem: str, fix: str, *, layer: int, n_layer: int, exists: bool) -> None:
        super().__init__(problem, fix)
        self.layer = layer
        self.n_layer = n_layer
        self.exists = exists


class RemoteError(PsmlabError):
    """A model server failed: unreachable, refused, timed out, answered an error, or lacks a feature."""

    exit_code = ExitCode.REMOTE

    def __init__(
        self,
        problem: str,
        fix: str = "",
        *,
        partial: object | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(problem, fix)
        # The generation streamed before the failure (a `Generation`), so nothing is lost.
        self.partial = partial
        self.status = status  # the HTTP status, when the server answered with an error
