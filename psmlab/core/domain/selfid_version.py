"""Which version of the self-identification rules labelled something: a fingerprint of them."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from types import ModuleType

from psmlab.core.domain import (
    selfid,
    selfid_answers,
    selfid_life,
    selfid_rules,
    selfid_speaker,
    selfid_words,
)

# The modules whose top-level patterns and tables are the rules.
MODULES: tuple[ModuleType, ...] = (
    selfid,
    selfid_speaker,
    selfid_rules,
    selfid_life,
    selfid_answers,
    selfid_words,
)

# Raise when the rules' decision code changes without any pattern changing (the patterns are
# hashed; the code that weighs their hits is not).
LOGIC = 7


def _canonical(value: object) -> str | None:
    """A value's text, the same in every process (sets and dicts sorted), or None for what
    is not part of the rules (functions, modules, classes)."""
    if isinstance(value, re.Pattern):
        return f"{value.pattern}\x00{value.flags}"
    if isinstance(value, (str, int, float, bool)):
        return repr(value)
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(map(repr, value))) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(sorted(f"{k!r}:{v!r}" for k, v in value.items())) + "}"
    if isinstance(value, (tuple, list)):
        parts = [_canonical(v) for v in value]
        return None if None in parts else "(" + ",".join(p for p in parts if p) + ")"
    return None


def _patterns(module: ModuleType) -> set[str]:
    """Every pattern, word list, word set and table at the module's top level (the speaker
    words a turn is not, the letters folded before reading), each with its name."""
    out = set()
    for name, value in vars(module).items():
        if name.startswith("__"):
            continue
        text = _canonical(value)
        if text is not None:
            out.add(f"{name}\x00{text}")
    return out


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """12 hex digits that change whenever a rule, a word list or the decision logic does: a
    row labelled under other rules is labelled again, and a walk read by them walked again."""
    parts = [f"logic\x00{LOGIC}"]
    for rule in (*selfid.RULES, *(r for _, r in selfid_answers.ANSWER_RULES)):
        parts.append(
            f"{rule.name}\x00{rule.side}\x00{rule.pattern.pattern}\x00{rule.pattern.flags}"
            f"\x00{rule.strong}{rule.flips}{rule.negative}"
        )
    # One set over all the modules, sorted: which module holds a pattern (or imports it) is
    # layout, not a rule, so moving code between them leaves the fingerprint as it was.
    parts.extend(sorted(set().union(*map(_patterns, MODULES))))
    parts.extend(f"kind\x00{k}\x00{v}" for k, v in selfid_words.QUESTION_KINDS)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]
