"""What an OpenAI-compatible server's answer says, in psmlab's terms: a choice's text, its token
log-probabilities (completion and chat shapes) and why it stopped."""

from __future__ import annotations

from typing import Any

from psmlab.core.domain.types import FinishReason, TokenLogprob

EOS_REASONS = frozenset({"stop", "eos", "eos_token", "end_turn", "stop_sequence"})


def finish_reason(raw: str) -> tuple[FinishReason, str | None]:
    """The server's finish_reason in psmlab's terms (any case); an unknown one (content_filter,
    say: the server cut the answer) is an error, kept verbatim."""
    if raw.lower() in EOS_REASONS:
        return "eos", None
    if raw.lower() in ("length", "max_tokens"):
        return "length", None
    return "error", raw


def choice_text(choice: dict[str, Any]) -> str:
    """A choice's text: a completion's `text`, or a chat answer's (streamed) content."""
    if "text" in choice:
        return str(choice.get("text") or "")
    delta = choice.get("delta") or choice.get("message") or {}
    return str(delta.get("content") or "") if isinstance(delta, dict) else ""


def choice_logprobs(choice: dict[str, Any]) -> list[TokenLogprob]:
    """A choice's token log-probabilities with their alternatives, in either shape (none:
    the server sent none)."""
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    out: list[TokenLogprob] = []
    if isinstance(lp.get("content"), list):  # chat shape
        for item in lp["content"]:
            if not isinstance(item, dict) or item.get("logprob") is None:
                continue
            top = tuple(
                (str(t.get("token")), float(t["logprob"]))
                for t in item.get("top_logprobs") or []
                if isinstance(t, dict) and t.get("logprob") is not None
            )
            out.append(
                TokenLogprob(
                    token=-1,
                    text=str(item.get("token", "")),
                    logprob=float(item["logprob"]),
                    top=top,
                )
            )
        return out
    toks, vals, tops = (
        lp.get("tokens") or [],
        lp.get("token_logprobs") or [],
        lp.get("top_logprobs") or [],
    )
    for i, (t, v) in enumerate(zip(toks, vals, strict=False)):
        if v is None:
            continue
        alts = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        top = tuple(sorted(((str(k), float(x)) for k, x in alts.items()), key=lambda kv: -kv[1]))
        out.append(TokenLogprob(token=-1, text=str(t), logprob=float(v), top=top))
    return out
