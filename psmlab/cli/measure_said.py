"""What every measurement command prints around its numbers: the settings they were made with,
each prompt warning once, and the JSON document of a per-model design (probe, evals, opening)."""

from __future__ import annotations

import sys
from typing import Any

from psmlab.cli.common import errors_json, model_failures, stdout_json
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import PsmlabError
from psmlab.core.models.registry import run_provenance
from psmlab.core.session.records import now

MAX_WARNINGS = 10


def bar(p: float, width: int = 20) -> str:
    return "█" * round(p * width)


def json_or_nothing(
    json_out: bool,
    rows: list[dict[str, Any]],
    prompts: list[dict[str, Any]],
    specs: list[Any],
    failed: dict[str, PsmlabError],
    done: int,
    personas: str | None = None,
    created: str | None = None,
) -> bool:
    """After a per-model design ran: print its prompt warnings, then its JSON (True: nothing more
    to print), or stop when no model gave results; False: the caller prints its tables."""
    warn_prompts(prompts)
    if json_out:
        stdout_json(
            {
                "results": rows,
                "prompts": prompts,
                "models": [run_provenance(sp) for sp in specs],
                "created": created or now(),  # UTC, when the run began
                # The persona files the options came from (None: a design that reads none).
                "personas": personas,
                "errors": errors_json(failed),
            }
        )
        model_failures(failed, done)
        return True
    if not done:
        model_failures(failed, 0)
    return False


def system_text(system: str | None) -> str:
    """ "no --system given" or "system prompt '…'" (its first 40 characters), as every
    measurement's title says it."""
    if system is None:
        return "no --system given"
    # "system prompt ''" read as if the model saw no system prompt, beside the warning that
    # SmolLM2's template added its default (a trial): none is sent, which is not the same.
    return f"system prompt {system[:40]!r}" if system else "no system prompt sent (--system '')"


def setting_text(fmt: str | None, system: str | None) -> str:
    """ "format X, no --system given" or "format X, system prompt '…'": what a table's numbers
    were measured with (the choice and opening titles said neither, unlike the main one)."""
    return f"format {fmt or '?'}, {system_text(system)}"


def probe_prompts(
    results: list[tuple[str, Any]],
    system: str | None,
    prefill: str | None,
    steering: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per model: its format, the --system and --prefill given, its steering, and its prompts'
    warnings, each once (`system` None: the format's own, which a chat template may fill with a
    default)."""
    out: dict[str, dict[str, Any]] = {}
    for model, p in results:
        entry = out.setdefault(
            model,
            {
                "model": model,
                "format": p.format if p else None,
                "system": system,
                "prefill": prefill,
                "steer": steering[model].record() if steering.get(model) else None,
                "warnings": [],
            },
        )
        for w in p.warnings if p else ():
            if w not in entry["warnings"]:
                entry["warnings"].append(w)
    return list(out.values())


def warn_prompts(prompts: list[dict[str, Any]]) -> None:
    """Each prompt warning once per model on stderr, as `psmlab ask` prints them."""
    for p in prompts:
        for w in p["warnings"]:
            sys.stderr.write(terminal_safe(f"psmlab: warning [{p['model']}]: {w}") + "\n")


def design_title(
    model: str,
    item: str,
    measures: str,
    fmts: dict[str, Any],
    system: str | None,
    steering: dict[str, Any],
) -> str:
    """A per-item design's table title: the model, its settings (format, system prompt,
    steering), the item and what the numbers measure (choice and opening titles)."""
    steered = steering.get(model)
    how = f" steered by {steered.label()}" if steered else ""
    return f"{model} ({setting_text(fmts.get(model), system)}){how} · {item}: {measures}"
