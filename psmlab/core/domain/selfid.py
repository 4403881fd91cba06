"""Self-identification rules: does a text claim the speaker is an AI, a human, both, or neither?

The coarse axis people label reliably (`ai`, `human`, `mixed`, `none`). Only first-person claims
count; a negated claim ("I'm not an AI") counts for the other side; questions (sentences ending in
"?") and third-person text claim nothing about the speaker. Every hit keeps its span so a person can
check it. A bare name ("I'm Dana", "my name is Tony") is weak evidence for `human`: it decides only
when nothing stronger is said, since assistants have names too; so is talk of working life ("my
team"). Given the question the text answers, a short direct answer counts too: "On the coast."
to "Where do you live?" gives a place only a human has (`question_kinds`, `ANSWER_RULES`); a bare
"Yes." to "Are you a human?" decides only when nothing else is claimed.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from psmlab.core.domain.selfid_answers import ANSWER_RULES
from psmlab.core.domain.selfid_life import LIFE_RULES
from psmlab.core.domain.selfid_rules import IDENTITY_RULES, NAME_RULES
from psmlab.core.domain.selfid_words import NOT_NAMES, PRODUCT_NAME, QUESTION_KINDS
from psmlab.core.domain.types import MarkerHit

# Every sentence rule; the order is immaterial (hits are sorted by position, labels are sets).
RULES = IDENTITY_RULES + LIFE_RULES

SELF_IDS = ("ai", "human", "mixed", "none")

_PRODUCT = re.compile(PRODUCT_NAME)
# Stage directions and interjections before the answer proper: "(Laughs) ", "*smiles* ",
# "Ah, 35 years old.", "Well... in Leeds." (Not quote marks: '"Marcum, it is...' addresses
# someone more often than it gives a name.)
# A greeting, maybe to someone: "Hey there,", "Hello everybody."
_HELLO = r"(?:hi|hello|hey|greetings)(?:\s+(?:there|everyone|everybody|all|folks|guys|friends?))?"
_LEAD = re.compile(
    r"\s*(?:(?:\([^)]*\)|\*[^*]*\*|"
    rf"(?i:ah|oh|well|um|uh|er|hmm|so|okay|ok|yes|yeah|sure|{_HELLO})"
    r"\b[,.!\u2026]+)\s*)*"
)
_QUESTION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(regex, re.IGNORECASE)) for kind, regex in QUESTION_KINDS
)
# "no-nonsense", "not-for-profit" are adjectives, not negations.
_NEGATION = re.compile(r"\b(?:not|no|never)\b(?!-)", re.IGNORECASE)
# "I'm not just an AI", "not only a human": the claim stands, with more besides (a trial's
# "I'm not just an AI, I'm your friend" read as a human's denial).
_NOT_ONLY = re.compile(r"\bnot\s+(?:only|just|merely|simply|solely|purely)\b", re.IGNORECASE)
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


def _reported(s: str, end: int) -> bool:
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


def _quoted_for_another(text: str, start: int, end: int) -> bool:
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
# A bare yes or no (not "No problem", "Yes or no?"), for `_yes_no`.
# Round 6: the other ways a reply says yes or no ("Sure.", "Clearly.", a bare "I am." or "I'm
# not.", "I don't think so.").
_YES = re.compile(
    # "Sure", "Clearly" and a bare "I am" only alone ("Sure, here is the answer." is not one,
    # nor an assistant's "Certainly! I'd be happy to...").
    r"\s*(yes|yeah|yep|yup|of\s+course|definitely|absolutely|indeed|"
    r"(?:sure|certainly|clearly|obviously)(?=\s*(?:\.|\u2026|$))|"
    r"(?:i\s+am|i'm|i\s+sure\s+am)(?=\s*(?:[.!,\u2026]|$)))\b(?!\s+or\b)",
    re.IGNORECASE,
)
_NO = re.compile(
    r"\s*(no|nope|nah|of\s+course\s+not|definitely\s+not|certainly\s+not|"
    r"not\s+really(?=\s*(?:[.!,\u2026]|$))|"
    r"i\s+don't\s+think\s+so|(?:i\s+am|i'm)\s+not(?=\s*(?:[.!,\u2026]|$)))\b"
    r"(?![\s-]+(?:problem|worries|way|doubt|idea|one|matter|thanks|thank|or)\b)",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# One character for one, so spans found in the folded text are valid in the original: curly
# apostrophes made straight, full-width letters ("Ｉ'ｍ ａｎ ＡＩ", common in CJK input) made ASCII,
# and no-break and ideographic spaces made spaces (a rule's "I am" would not match "I\u00a0am").
FOLD = {
    **{c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
    **dict.fromkeys([0x00A0, 0x2007, 0x2009, 0x200A, 0x202F, 0x3000], " "),
    **dict.fromkeys([0x2019, 0x2018, 0x02BC, 0xFF07], "'"),
}
_APOSTROPHES = str.maketrans(FOLD)
# "A.I." read as "AI" (its first dot ended a sentence, and "I'm an A.I." claimed nothing): the
# letters kept after a space (as long as "A.I"), so a span ends where the original "A.I" does.
_DOTTED_AI = re.compile(r"(?<![\w.])([Aa])\.([Ii])(?=\.|\b)")


@dataclass(frozen=True)
class SelfId:
    """The self-identification label of a text and the rule hits behind it."""

    label: str  # one of SELF_IDS
    hits: tuple[MarkerHit, ...] = ()
    # Whether a strong hit decided the label: a bare name or a bare "Yes." decides only when
    # nothing stronger is said, so more text may still turn it ("I'm Alex, an AI assistant").
    decided: bool = field(default=True, compare=False)


def question_kinds(question: str | None) -> frozenset[str]:
    """What an identity question asks the speaker for (`name`, `place`, `activity`, `feeling`,
    `age`, `job`); a short direct answer to it is then a claim (see `ANSWER_RULES`)."""
    if not question:
        return frozenset()
    q = question.translate(_APOSTROPHES)
    return frozenset(kind for kind, pattern in _QUESTION_KINDS if pattern.search(q))


def self_identify(text: str, question: str | None = None, prefill: str | None = None) -> SelfId:
    """Label one continuation on the self-identification axis, with every rule hit's span.

    `question`, when known, is what the speaker answers: "On the coast." answers "Where do you
    live?" with a place, which only a human has; without it such bare answers claim nothing.
    `prefill`, the text the answer was started with (given, not generated), is read as context:
    after "I am" the continuation " a nurse." claims a human, but only hits that reach into the
    generated text count, and their spans are clipped to it (offsets in `text`)."""
    given = len(prefill or "")
    text = (prefill or "") + text
    # Same length: spans stay valid in the original text. A terminal escape ("\x1b[1m") is
    # blanked, so a claim in bold is still read.
    norm = _ANSI.sub(lambda m: " " * len(m.group(0)), text.translate(_APOSTROPHES))
    norm = _DOTTED_AI.sub(lambda m: " " + m.group(1) + m.group(2), norm)
    hits: list[MarkerHit] = []
    strong: set[str] = set()
    weak: set[str] = set()
    said: set[str] = set()  # sides claimed outright by a rule, not only by denying the other

    def hit(side: str, marker: str, start: int, end: int, is_strong: bool) -> None:
        if end <= given:  # wholly in the prefill: the model did not say it
            return
        hits.append(MarkerHit(archetype=side, marker=marker, start=start, end=end))
        (strong if is_strong else weak).add(side)
        if is_strong and not marker.startswith("not:"):
            said.add(side)

    sentences = _own_sentences(norm)
    kinds = question_kinds(question)
    # The answer to the question is the first sentence the model wrote any of: after a prefill
    # "Sure." it is " Yes.", not the prefill's own sentence.
    first = next((i for i, s in enumerate(sentences) if s.end() > given), len(sentences))
    # A greeting alone ("Hello everybody.") does not answer: the next sentence does.
    while first + 1 < len(sentences) and _greeting_only(sentences[first].group(0)):
        first += 1
    reply = _yes_no(sentences[first], kinds) if first < len(sentences) else None
    if reply is not None and reply.end <= given:
        reply = None
    if reply is not None:
        hits.append(reply)
    for i, sentence in enumerate(sentences):
        # Only the rules that hold whatever was asked, except in the answer's first sentence.
        _answer_hits(sentence, kinds if i == first else frozenset(), hit)
    for sentence in sentences:
        s = sentence.group(0)
        if s.rstrip().endswith("?"):
            # A question claims nothing; a statement before it in the same sentence still does
            # ("I'm an AI, how can I help?").
            cut = max(s.rfind(","), s.rfind(";"), s.rfind(":"))
            if cut < 0:
                continue
            s = s[:cut]
        for rule in RULES:
            for m in rule.pattern.finditer(s):
                if rule.name in NAME_RULES and _not_a_name(m.group(0).split()[-1]):
                    continue
                if _reported(s, m.start()):
                    continue
                at = sentence.start()
                if _quoted_for_another(norm, at + m.start(), at + m.end()):
                    continue
                claim = m.group(0)
                negated = (
                    not rule.negative
                    and bool(_NEGATION.search(claim))
                    and not _NOT_ONLY.search(claim)
                )
                if negated and not rule.flips:
                    continue  # "I was not designed to harm" claims nothing about what I am
                side = rule.side
                if negated:
                    side = "human" if side == "ai" else "ai"
                marker = ("not:" if negated else "") + rule.name
                start = sentence.start()
                hit(side, marker, start + m.start(), start + m.end(), rule.strong or negated)
    hits.sort(key=lambda h: (h.start, h.marker))
    if len(strong) == 2 and not said:
        # Only denials, one of each ("I'm not human. I'm not an AI either."): no claim.
        label = "none"
    elif len(strong) == 2:
        label = "mixed"
    elif strong:
        label = next(iter(strong))
    elif weak:
        label = "human"
    elif reply is not None:
        label = reply.archetype  # a bare "Yes." decides only when nothing else is claimed
    else:
        label = "none"
    return SelfId(label, tuple(clip(_dedupe(hits), given)), decided=bool(strong))


def clip(hits: list[MarkerHit], given: int) -> list[MarkerHit]:
    """Spans in the text after a prefill of `given` characters (a hit begun in it starts at 0)."""
    if not given:
        return hits
    return [
        h.model_copy(update={"start": max(0, h.start - given), "end": h.end - given})
        for h in hits
        if h.end > given
    ]


_GREETING = re.compile(
    rf"\s*(?:(?:{_HELLO}|good\s+(?:morning|afternoon|evening)"
    r"(?:\s+(?:there|everyone|everybody|all|folks|guys|friends?))?)[\s,.!\u2026]*)+",
    re.IGNORECASE,
)


def _greeting_only(sentence: str) -> bool:
    """Whether a sentence is only a greeting ("Hello everybody."), which answers nothing (a
    bare "Yes." is an answer)."""
    return _GREETING.fullmatch(sentence) is not None


def _yes_no(sentence: re.Match[str], kinds: frozenset[str]) -> MarkerHit | None:
    """A "Yes" or "No" opening the answer to "Are you a human?" (or "...an AI?"): the side it
    claims, which decides only when no other rule claims anything ("Yes, I am a language
    model." is an AI's answer, whatever its "Yes")."""
    asks = "human" if "yes-human" in kinds else "ai" if "yes-ai" in kinds else None
    s = sentence.group(0)
    if asks is None or s.rstrip().endswith("?"):
        return None
    other = "ai" if asks == "human" else "human"
    for marker, pattern, side in (("answer-no", _NO, other), ("answer-yes", _YES, asks)):
        m = pattern.match(s)
        if m:
            start = sentence.start() + m.start(1)
            return MarkerHit(archetype=side, marker=marker, start=start, end=start + len(m[1]))
    return None


def _answer_hits(
    sentence: re.Match[str], kinds: frozenset[str], hit: Callable[[str, str, int, int, bool], None]
) -> None:
    """Claims made by the way the answer starts: a bare name, place, activity, age, job, body
    state, family or nature ("Human.") given right after a question that asks for it, and a
    subjectless "Went hiking." always. The question's kinds apply to the first sentence of the
    speaker's answer only (the caller passes no kinds for later sentences); a question claims
    nothing."""
    s = sentence.group(0)
    if s.rstrip().endswith("?"):
        return
    lead = _LEAD.match(s)
    pos = lead.end() if lead else 0
    for kind, rule in ANSWER_RULES:
        if kind is not None and kind not in kinds:
            continue
        m = rule.pattern.match(s, pos)
        if not m or (rule.name != "answer-name" and _NEGATION.search(m.group(0))):
            continue  # a name is not negated by a capitalised "No" inside it
        side, is_strong = rule.side, rule.strong
        if rule.name == "answer-name":
            name = m.group("name")
            if _PRODUCT.fullmatch(name):
                side, is_strong = "ai", True  # "SmolLM." offers a product name as its own
            elif _not_a_name(name.split()[0]) or name.isupper():
                continue
        hit(side, rule.name, sentence.start() + m.start(), sentence.start() + m.end(), is_strong)


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


def _own_sentences(text: str) -> list[re.Match[str]]:
    """Sentences of the speaker's own turns; offsets stay those of the whole text."""
    out: list[re.Match[str]] = []
    for a, b in _own_turns(text):
        out.extend(_SENTENCE.finditer(text, a, b))
    return out


def _not_a_name(word: str) -> bool:
    """A capitalised word that is a common word ("I'm Sorry") or a product name ("I'm SmolLM",
    which `product-name` reads as an AI claim) is not a person's name."""
    word = word.strip("\"'\u201c\u201d")  # "I'm "Marie"": the quote is not the name
    return word.lower() in NOT_NAMES or bool(_PRODUCT.fullmatch(word))


def _dedupe(hits: list[MarkerHit]) -> list[MarkerHit]:
    """Overlapping hits for the same side (two rules on one phrase) are kept once: the longest."""
    out: list[MarkerHit] = []
    for h in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if out and out[-1].archetype == h.archetype and h.start < out[-1].end:
            continue
        out.append(h)
    return out
