"""The experiment report's account of what the models were given: the sampling settings, the
questions and system prompts as written, and what the prompts held besides them."""

from __future__ import annotations

from dataclasses import dataclass, field

from psmlab.core.measure.results import ResultsFile, rows_of
from psmlab.core.session.md_text import md_block, md_inline

_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens")


@dataclass
class Given:
    """The experiment file's texts: question id -> text, context name -> system prompt."""

    questions: dict[str, str] = field(default_factory=dict)
    systems: dict[str, str | None] = field(default_factory=dict)


def given_lines(given: Given | None, results: ResultsFile) -> list[str]:
    """Each question and system prompt the done units used, quoted whole: rows name them only
    by id, and a report read later must say what the models were asked and told."""
    if given is None:
        return []
    used_q = dict.fromkeys(r["question"] for r in results.done.values() if r.get("question"))
    used_c = dict.fromkeys(r["context"] for r in results.done.values() if r.get("context"))
    out: list[str] = []
    questions = [(q, given.questions[q]) for q in used_q if q in given.questions]
    if questions:
        out += ["Questions, as written:", ""]
        for q, text in questions:
            out += [f"- {md_inline(q)}:", "", md_block(text), ""]
    systems = [(c, given.systems[c]) for c in used_c if c in given.systems]
    if any(system for _, system in systems):
        out += ["Contexts (system prompt, or a base model's document header), as written:", ""]
        for c, system in systems:
            if system is None:
                out += [f"- {md_inline(c)}: none (a chat template may fill in its own)", ""]
            else:
                out += [f"- {md_inline(c)}:", "", md_block(system), ""]
    return out


def prompt_warning_lines(results: ResultsFile) -> list[str]:
    """What the prompts held that the experiment file did not say (a chat template's default
    system prompt, markers read as plain text), per model, format and context: a result is read
    together with what the model was shown."""
    seen: dict[tuple[str, str, str], list[str]] = {}
    for r in results.done.values():
        if "error" in r:
            continue
        ws = seen.setdefault((r["model"], r.get("format", ""), r.get("context", "")), [])
        ws.extend(w for w in r.get("warnings") or [] if w not in ws)
    flagged = {k: v for k, v in seen.items() if v}
    if not flagged:
        return []
    out = ["Prompt warnings (what a prompt held besides the experiment's own text):", ""]
    for (m, f, c), ws in flagged.items():
        out += [f"- {md_inline(m)} · {md_inline(f)} · {md_inline(c)}: {md_inline(w)}" for w in ws]
    return [*out, ""]


def sampling_lines(results: ResultsFile) -> list[str]:
    """Which distribution the samples describe: every sampling setting the sample units used."""
    settings = []
    for r in rows_of(results, "sample"):
        given = r.get("params") or {}
        p = {k: given[k] for k in _SAMPLING_KEYS if k in given}
        if p and p not in settings:
            settings.append(p)
    out = []
    for p in settings:
        pure = (
            p.get("temperature") == 1.0
            and p.get("top_k") == 0
            and p.get("top_p") == 1.0
            and p.get("min_p") == 0.0
        )
        what = (
            "the model's own distribution (T=1, no truncation)"
            if pure
            else "a truncated or tempered distribution"
        )
        shown = ", ".join(f"{k} {v}" for k, v in p.items())
        out.append(f"Samples were drawn with {md_inline(shown)}: {what}.")
    return [*out, ""] if out else []
