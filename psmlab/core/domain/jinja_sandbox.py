"""A sandbox for chat templates, which are untrusted code from model files: Hugging Face's
environment with bounds on what one rendering may do."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


# Templates are untrusted code from model files: bound what one rendering may do.
MAX_RENDER_CHARS = 2_000_000
MAX_RENDER_SECONDS = 2.0
MAX_LOOP_STEPS = 1_000_000


class _Budget:
    """Counts loop steps over every `range` of one rendering (nested loops multiply)."""

    def __init__(self) -> None:
        self.steps = 0

    def range(self, *args: int) -> Any:
        r = range(*args)
        if len(r) > MAX_LOOP_STEPS:
            raise SecurityError(f"range of {len(r)} steps is over the limit")
        for i in r:
            self.steps += 1
            if self.steps > MAX_LOOP_STEPS:
                raise SecurityError(f"more than {MAX_LOOP_STEPS} loop steps")
            yield i


class _LimitedEnv(ImmutableSandboxedEnvironment):
    """Hugging Face's environment (sandboxed, immutable) plus limits on size-multiplying operators."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(n, int)
                    and len(seq) * n > MAX_RENDER_CHARS
                ):
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def template_env() -> ImmutableSandboxedEnvironment:
    """A fresh environment for one rendering (its loop budget is its own)."""
    # The same environment Hugging Face uses: sandboxed, trim_blocks, lstrip_blocks, loopcontrols.
    env = _LimitedEnv(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["range"] = _Budget().range
    env.filters["tojson"] = _tojson
    return env


def _tojson(value: Any, indent: int | None = None, **_: Any) -> str:
    import json

    return json.dumps(value, indent=indent, ensure_ascii=False)
