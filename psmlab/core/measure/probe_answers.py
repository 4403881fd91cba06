"""How a forced-choice answer is written after its prompt: the spacing a frame or template
wants, and the part of an answer that a prefill already says."""

from __future__ import annotations

from psmlab.core.domain.prompt import RenderedPrompt


def continuation(prompt: RenderedPrompt, statement: str) -> str:
    """A statement as the model would write it right after the prompt: base-model frames end in
    "Assistant:", so the answer starts with a space; chat templates end in a newline, and a
    prefill ("Well,") is a word the answer follows after a space, unless it opens a bracket or
    a quote."""
    rest = after_prefill(prompt.prefill, statement)
    if rest is not None:
        # "I am" + "I am an AI.": the answer already holds the prefill; only the rest is the
        # model's (a trial's --prefill "I am" scored "I am I'm an AI." and read 1.00 ai).
        return rest.lstrip(" ") if prompt.text.endswith((" ", "\n")) else rest
    opened = prompt.prefill is not None and prompt.prefill.endswith(_OPENERS)
    if opened or prompt.text.endswith((" ", "\n")) or statement.startswith((" ", "\n")):
        return statement
    return " " + statement


def _fold(text: str) -> str:
    # lower(), not casefold(): the same length, so an index in the folded text is one in it.
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


# The one contraction an answer opens with: "I'm an AI." says what "I am" + " an AI." does.
_SAME_OPENING = (("i'm", "I am"), ("i am", "I'm"))


def after_prefill(prefill: str | None, statement: str) -> str | None:
    """What of `statement` follows `prefill` when the statement begins with it (case, curly
    apostrophes and "I'm"/"I am" aside): the text the model writes after the prefill; None
    when it does not."""
    if not prefill or not prefill.strip():
        return None
    head, body = prefill.strip(), statement.lstrip()
    for short, other in _SAME_OPENING:
        if _fold(body).startswith(short) and _fold(head).startswith(_fold(other)):
            body = other + body[len(short) :]
            break
    if not _fold(body).startswith(_fold(head)):
        return None
    rest = body[len(head) :]
    if prefill[-1:].isspace() and rest[:1] and not rest[:1].isspace():
        # "I am a " then "I am an AI.": the prefill ended a word the answer goes on with
        # ("I am a" + "n AI."), so it does not begin the answer (it was scored "I am a n AI.").
        return None
    return rest


def not_continuing(prefill: str | None, statements: list[str]) -> int:
    """How many answers do not begin with the prefill: each is scored after it as written
    ("I am" then "I'm an AI."), a string no one would write; said beside the result."""
    if not prefill or not prefill.strip():
        return 0
    return sum(after_prefill(prefill, s) is None for s in statements)


# A prefill ending in one of these is followed by its answer without a space: '"I' and '(I'.
_OPENERS = ("(", "[", '"', "“", "‘", "—")


def prefill_note(pre: str | None, n_answers: int, left_out: int, not_continuing: int) -> str | None:
    """What a forced choice with a prefill must say beside its numbers: the answers it left out
    (they do not begin with the prefill), or those scored after it as written; None: nothing."""
    if not pre or not pre.strip():
        return None
    if left_out:
        return (
            f"scored the {n_answers} of {n_answers + left_out} answers that begin with the "
            f"prefill {pre.strip()!r}; the other {left_out} do not, and are left out"
        )
    if not not_continuing or not_continuing == n_answers:
        # None begins with it: answers written to follow it (the secret-goal item's "my secret
        # goal of" then "making paperclips"); `probe --prefill` says so of its own.
        return None
    return (
        f"{not_continuing} of {n_answers} answers do not begin with the prefill {pre.strip()!r}: "
        f"each is scored whole after it (the prompt ends {pre.strip()!r}, then the answer as "
        "written, which may restate it); give a prefill the answers begin with, or none"
    )
