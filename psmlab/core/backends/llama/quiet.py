"""Make llama-cpp-python safe to embed in a terminal program: quiet, no fd redirects, no template compiling.

Its log goes to Python logging, nothing redirects fds 1/2, and it does not compile the GGUF's chat
template itself (psmlab renders templates in its own sandbox).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import threading
from typing import Any

log = logging.getLogger("psmlab.llama_cpp")
# With no handler anywhere, logging's last-resort handler would print warnings to stderr.
logging.getLogger("psmlab").addHandler(logging.NullHandler())
# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous message.
_LEVELS = {
    0: logging.DEBUG,
    1: logging.DEBUG,
    2: logging.INFO,
    3: logging.WARNING,
    4: logging.ERROR,
}
# llama.cpp logs on the thread that called it: one buffer per thread keeps two loads apart.
_local = threading.local()


def _recent() -> collections.deque[str]:
    if not hasattr(_local, "recent"):
        _local.recent = collections.deque(maxlen=40)
    return _local.recent  # type: ignore[no-any-return]


_state: dict[str, Any] = {"installed": False, "callback": None, "last": logging.DEBUG}
_lock = threading.Lock()


class _NoRedirect:
    """Stands in for llama_cpp's suppress_stdout_stderr, which dup2()s fds 1 and 2 to /dev/null
    for the whole process while a model loads and would blank a running TUI."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class _InertFormatter:
    """Stands in for llama-cpp-python's Jinja2ChatFormatter: never compiles the template."""

    def __init__(self, **_: Any) -> None:
        pass

    def to_chat_handler(self) -> Any:
        def handler(**_: Any) -> Any:
            raise RuntimeError("psmlab renders chat templates itself (psmlab.core.domain.formats)")

        return handler


def install() -> None:
    """Route llama.cpp's log callback to logging; idempotent; call before loading any model."""
    with _lock:
        if _state["installed"]:
            return
        import llama_cpp
        import llama_cpp._internals as internals
        import llama_cpp.llama as llama_mod

        @llama_cpp.llama_log_callback
        def _callback(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            lvl = _state["last"] if level == 5 else _LEVELS.get(level, logging.DEBUG)
            _state["last"] = lvl
            msg = text.decode("utf-8", errors="replace").rstrip("\n")
            if msg:
                if lvl >= logging.ERROR:
                    _recent().append(msg)
                log.log(lvl, "%s", msg)

        # Keep a reference: ctypes callbacks are freed when garbage collected.
        _state["callback"] = _callback
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        llama_mod.suppress_stdout_stderr = _NoRedirect  # type: ignore[assignment,misc]
        # Llama() compiles every chat template in the GGUF at load time; a broken or hostile one
        # would make the model fail to load even for a base-model frame. psmlab never uses it.
        llama_mod.llama_chat_format.Jinja2ChatFormatter = _InertFormatter  # type: ignore[misc,assignment]
        internals.suppress_stdout_stderr = _NoRedirect  # type: ignore[assignment,misc]
        _state["installed"] = True


def recent_errors(n: int = 3) -> list[str]:
    """The last errors llama.cpp logged, to explain a failed load."""
    return list(_recent())[-n:]


@contextlib.contextmanager
def capture_errors() -> Any:
    """Clear the recent-error buffer around a call so its messages are the ones reported."""
    _recent().clear()
    yield _recent()
