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
from collections.abc import Callable
from dataclasses import dataclass, field

from psmlab.core.domain.selfid_answers import ANSWER_RULES
from psmlab.core.domain.selfid_life import LIFE_RULES
from psmlab.core.domain.selfid_rules import IDENTITY_RULES, NAME_RULES
from psmlab.core.domain.selfid_speaker import own_sentences, quoted_for_another, reported
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
_NEGATION = re.compile(r"\b(?:not|no|never|neither)\b(?!-)", re.IGNORECASE)
# "I'm not just an AI", "not only a human": the claim stands, with more besides (a trial's
# "I'm not just an AI, I'm your friend" read as a human's denial).
# A denial of being human at all ("I'm not a person", "not a flesh-and-blood human", "not a
# human in the way you are"), unlike a denied job, role or relation ("not a doctor", "not your
# mother") or kind of person ("not a morning person", "a person of faith", "the person I used
# to be", "a human translator"), which a human says as often.
_DENIED_BEING = re.compile(
    r"(?:\b(a|an|the|your|my|his|her|their)\s+|\b(?:not|no|neither|nor|or)\s+)((?:[\w'’-]+\s+){0,3}?)"
    r"(human(?:\s+being)?|person|mortal)\s*$",
    re.IGNORECASE,
)
# Words before "person" that make it a kind of person, not a person.
_KIND_OF = frozenset(
    {
        "morning", "night", "people", "cat", "dog", "kind", "sort", "type", "numbers", "details",
        "detail", "math", "maths", "sports", "party", "beach", "coffee", "tea", "city",
        "country", "outdoors", "outdoor", "indoor", "indoors", "big", "small", "visual", "word",
        "words", "book", "books",
    }
)  # fmt: skip
# After the noun: a clause saying which one ("of faith", "who lies", "I used to be").
_WHICH_ONE = re.compile(
    r"\s+(?:of|who|whom|whose|that|which|i|you|he|she|we|they|"
    # "not a person qualified to advise you", "a person trained in medicine" (a review).
    r"qualified|trained|licensed|certified|authori[sz]ed|able|allowed|equipped|entitled|"
    r"permitted|meant|suited|fit)\b|-\w",
    re.IGNORECASE,
)
# What may follow "human" for it to be the noun ("not a human in the way you are"), not an
# adjective of the next word ("a human translator", "a human expert").
_AFTER_HUMAN = re.compile(
    r"\s*(?:$|[,.;:!?)\]\"'\u2019\u201d\u2014\u2013]|(?:being|in|like|with|myself|yourself|"
    r"at|or|and|nor|but|yet|either|anymore|so|because|though|just|to|for|as|by|either|now|"
    r"any|here|either)\b)",
    re.IGNORECASE,
)


def _denies_being_human(claim: str, after: str) -> bool:
    """Whether a negated human claim denies being human at all (`after`: the sentence after it)."""
    m = _DENIED_BEING.search(claim)
    if m is None:
        return False  # a job, role or relation
    article, mods, noun = m.group(1), m.group(2).lower().split(), m.group(3).lower()
    if article and article.lower() in ("the", "your", "my", "his", "her", "their"):
        return False  # a particular one: "the person I used to be", "your mother"
    if any(w.strip("'’") in _KIND_OF for w in mods):
        return False
    if _WHICH_ONE.match(after):
        return False
    return not (noun == "human" and not _AFTER_HUMAN.match(after))


_NOT_ONLY = re.compile(r"\bnot\s+(?:only|just|merely|simply|solely|purely)\b", re.IGNORECASE)
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

    sentences = own_sentences(norm)
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
                if reported(s, m.start()):
                    continue
                at = sentence.start()
                if quoted_for_another(norm, at + m.start(), at + m.end()):
                    continue
                claim = m.group(0)
                negated = (
                    not rule.negative
                    and bool(_NEGATION.search(claim))
                    and not _NOT_ONLY.search(claim)
                )
                if negated and not rule.flips:
                    continue  # "I was not designed to harm" claims nothing about what I am
                if (
                    negated
                    and rule.name in ("i-am-human", "i-am-human-bare", "or-human")
                    and not _denies_being_human(claim, s[m.end() :])
                ):
                    # "I am not a doctor" denies a job, not being human (a trial's read ai);
                    # so do "not a morning person", "not a person of faith", "not a human
                    # translator": only a person, human (being) or mortal, whole, is denied.
                    continue
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
    elif len(strong) == 2 and len(said) == 1:
        # One side claimed outright, the other only by denying kinds of the first: "I am a
        # loyal AI. I am not a chatbot" claims no human (a trial read mixed, then human).
        label = next(iter(said))
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
