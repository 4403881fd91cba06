"""Whose words a text's sentences are: the answering speaker's own turns (not the next
speaker's "User:" turn a base model writes on), and claims only reported, supposed or quoted
for someone else ("you think I'm human", '"I am an AI," she said'), which `selfid` skips."""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

# "you think I'm human", "if I were an AI": a claim reported or supposed, not made.
_REPORTED = re.compile(
    r"\b(?:think|thinks|thought|believe|believes|assume|assumes|pretend|pretending|if|whether|"
    r"say|says|said|were)\s+(?:that\s+)?$"
    # A quotation opened after "said:" is someone's words ('She said: "I am an AI."'), but
    # only with its quote mark: "As I said, I'm a nurse" is the speaker's own claim.
    r"|\b(?:say|says|said)\s*[:,]?\s*[\"\u201c]$",
    re.IGNORECASE,
)
# A quotation closed and then attributed to someone else: '"I am an AI," she said.',
# '"I'm a nurse." replied the woman', '"I am an AI," Sarah said'. On the same line only; a
# name is capitalised (case-sensitive); after a quote that ended its sentence the clause must
# start in lower case ('"I am an AI." They asked...' starts a new sentence: the claim stands);
# "I said" keeps the claim the speaker's own.
_QUOTE_CLOSE = re.compile(r"[^\"\u201d\n]*[\"\u201d]")
_VERB = (
    r"(?:said|says|replied|replies|answered|answers|asked|asks|told|tells|wrote|writes|"
    r"whispered|shouted|added|insisted|claimed|claims|explained)\b"
)
_SUBJECT = r"(?:he|she|they|someone|(?:the|a|an|my|his|her)[ \t]+[a-z]+)"
_ATTRIBUTED = re.compile(
    rf"[ \t]*(?:{_SUBJECT}|(?-i:[A-Z][a-z]+))[ \t]+{_VERB}"
    rf"|[ \t]*{_VERB}[ \t]+(?:{_SUBJECT}|(?-i:[A-Z][a-z]+))\b",
    re.IGNORECASE,
)


def reported(s: str, end: int) -> bool:
    """Whether the claim at `end` is reported or supposed ("you think I'm human"), read on the
    text just before it: searching the whole sentence before each claim made a long run-on
    sentence quadratic. Four words or more in the window mean no match began before it."""
    low = max(0, end - 200)
    if low and len(s[low:end].split()) <= 3:
        low = 0  # a long run of spaces: the pattern may begin further back
    return _REPORTED.search(s, low, end) is not None


@lru_cache(maxsize=4)
def _marks(text: str) -> tuple[list[int], list[int], list[int], list[int]]:
    """Where the text's line ends, straight quotes, and curly opening and closing quotes are."""
    found: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    for m in re.finditer('[\n"\u201c\u201d]', text):
        found['\n"\u201c\u201d'.index(m.group(0))].append(m.start())
    return found


def _last(positions: list[int], low: int, high: int) -> int:
    """The last position in [low, high), or low - 1 when there is none (as str.rfind's -1)."""
    i = bisect_left(positions, high) - 1
    return positions[i] if i >= 0 and positions[i] >= low else low - 1


def quoted_for_another(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] sits inside a quotation that is then said to be someone else's
    (a reporting clause right after it): the story's character speaks, not the speaker."""
    # Counted on an index of the text's marks: scanning the line for each hit made a long
    # line quadratic (a 240 KB text took minutes).
    newlines, straight, opens, closes = _marks(text)
    line_start = _last(newlines, 0, start) + 1
    between = bisect_left(straight, start) - bisect_left(straight, line_start)
    inside = between % 2 == 1 or _last(opens, line_start, start) > _last(closes, line_start, start)
    if not inside:
        return False
    close = _QUOTE_CLOSE.match(text, end)
    if close is None:
        return False
    quoted = close.group(0)[:-1].rstrip()
    after = close.end()
    if text.startswith(",", after):  # '"I am an AI", she said' (the comma outside the quote)
        after += 1
    elif not quoted.endswith(","):
        # A quote that ended its sentence: only a clause in lower case continues it.
        clause = text[after:].lstrip(" \t")
        if not clause[:1].islower():
            return False
    return _ATTRIBUTED.match(text, after) is not None


# A turn of the document's next speaker: "User:", "<human>", "Post by Member:", "USER" alone on a
# line, also right after a control token the model printed ("<start_of_image>Person:"). Base models
# write both sides; only the answering speaker's own turns say what it claims to be.
_TURN = re.compile(
    r"(?:^|\n|<[a-z_]+>)[ \t]*(?:(?:Post|Reply|Comment|Answer) by\s+)?"
    r"(?P<who><[A-Za-z][\w ]{0,29}>|[A-Z][\w'.-]*(?:[ ][A-Z][\w'.-]*){0,2}[ \t]*:|"
    # A forum poster: "Post by admin:", "Reply by user:".
    r"(?:(?<=Post by )|(?<=Reply by )|(?<=Comment by )|(?<=Answer by ))"
    r"[\w'.-]+(?:[ ][\w'.-]+){0,2}[ \t]*:|"
    r"[A-Z][A-Z .'-]{1,30}(?=\n))",
)
_SAME_SPEAKER = frozenset(["assistant", "ai", "ai assistant", "bot", "chatbot", "model", "gpt"])
# A line-start "Note:" or "Summary:" heads a part of the same answer, not another speaker's turn
# (the rules skipped what followed, and the label said it left out 'Note:').
_NOT_SPEAKERS = frozenset(
    [
        "note",
        "notes",
        "summary",
        "example",
        "examples",
        "tip",
        "tips",
        "warning",
        "caution",
        "update",
        "edit",
        "disclaimer",
        "conclusion",
        "important",
        "remember",
        "reminder",
        "hint",
        "source",
        "sources",
        "reference",
        "references",
        "definition",
        "explanation",
        "ps",
        "p.s",
        "p.s.",
    ]
)
# Sentences end at . ! ? or a line break, but not at the point of "3.5" or "19.22.2026"; a
# sentence ending in "?" asks, it does not claim.
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+[.!?]*", re.MULTILINE)


def _own_turns(text: str) -> list[tuple[int, int]]:
    """The character ranges the answering speaker wrote: the text before the first speaker tag,
    and later turns tagged as the assistant; other speakers' turns are left out."""
    ranges: list[tuple[int, int]] = []
    start, keep = 0, True
    for m in _TURN.finditer(text):
        if _heading(m):
            continue
        if not text[: m.start()].strip():
            start = m.end()  # "Dana: I'm a nurse" at the very start: the speaker names itself
            continue
        if keep and m.start() > start:
            ranges.append((start, m.start()))
        who = m.group("who").strip("<>: \t").lower()
        start, keep = m.end(), who in _SAME_SPEAKER
    if keep and start < len(text):
        ranges.append((start, len(text)))
    return ranges


def _heading(m: re.Match[str]) -> bool:
    """A turn match that is a heading of the same answer ("Note:"), not a speaker's tag."""
    return m.group("who").strip("<>: \t").lower() in _NOT_SPEAKERS


def other_speakers(text: str) -> list[str]:
    """The tags of the turns a text gives to another speaker ("You:", "<user>", "Post by Bob:"),
    each once, in order: the self-id label leaves their text out, and says so where it is shown
    (a base model that writes "You:" in a "User:" frame runs on, past the frame's stop string)."""
    tags: list[str] = []
    for m in _TURN.finditer(text):
        if _heading(m) or not text[: m.start()].strip():
            continue  # a heading of the answer; or the answer opens by naming its own speaker
        tag = text[m.start() : m.end()].strip()
        if m.group("who").strip("<>: \t").lower() not in _SAME_SPEAKER and tag not in tags:
            tags.append(tag)
    return tags


def own_sentences(text: str) -> list[re.Match[str]]:
    """Sentences of the speaker's own turns; offsets stay those of the whole text."""
    out: list[re.Match[str]] = []
    for a, b in _own_turns(text):
        out.extend(_SENTENCE.finditer(text, a, b))
    return out
