"""Self-identification rules: does a text claim the speaker is an AI, a human, both, or neither?

The coarse axis people label reliably (`ai`, `human`, `mixed`, `none`). Only first-person claims
count; a negated claim ("I'm not an AI") counts for the other side; questions (sentences ending in
"?") and third-person text claim nothing about the speaker. Every hit keeps its span so a person can
check it. A bare name ("I'm Dana", "my name is Tony") is weak evidence for `human`: it decides only
when nothing stronger is said, since assistants have names too; so is talk of working life ("my
team"). Given the question the text answers, a short direct answer counts too: "On the coast."
to "Where do you live?" gives a place only a human has (`question_kinds`, `_ANSWER_RULES`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from psmlab.core.domain.selfid_words import (
    ACTIVITY,
    AI_NOUN,
    BODY_PART,
    BODY_STATE,
    DEGREE,
    HUMAN_NOUN,
    JOB_MODIFIER,
    NOT_NAMES,
    NOT_PLACES,
    PLACE_NOUN,
    PRODUCT_NAME,
    QUESTION_KINDS,
    STREET,
    WORK_LIFE,
)
from psmlab.core.domain.types import MarkerHit

SELF_IDS = ("ai", "human", "mixed", "none")

_BE = r"(?:i\s+am|i'm|im)"
_ADJ = r"(?:[a-z-]+\s+){0,3}?"  # up to three words between the article and the noun
# The same, but no AI word may sit there: "an AI agent" is not a human agent.
_HUMAN_ADJ = (
    r"(?:(?!(?:ai|a\.i\.|artificial|virtual|digital|robot|machine|computer)\b)[a-z-]+\s+){0,4}?"
)
_NAME = r"[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*){0,2}"  # "Dana", "Hugging Face", "Dr. Elena Silver"
# Up to two words before a place noun, none of them a machine's place ("the server room").
_PLACE_ADJ = r"(?:(?!(?:server|data|chat|virtual|digital|cloud)\b)[a-z-]+\s+){0,2}?"
# "an AI researcher" is a person who studies AI, not an AI.
_NOT_AI_PERSON = (
    r"(?!\s+(?:researcher|scientist|engineer|developer|enthusiast|expert|ethicist|specialist|"
    r"student|professor|consultant|startup|company)s?\b)"
)
_NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"


@dataclass(frozen=True)
class _Rule:
    name: str
    side: str  # "ai" or "human"
    pattern: re.Pattern[str]
    strong: bool = True  # a bare name is weak: it decides only when nothing stronger is said
    flips: bool = False  # "I'm not an X" counts for the other side; other negated rules drop
    negative: bool = False  # the claim itself is negative ("I can't sleep"): a "not" is its own


def _rule(
    name: str,
    side: str,
    regex: str,
    *,
    strong: bool = True,
    flips: bool = False,
    negative: bool = False,
    case: bool = False,
) -> _Rule:
    flags = 0 if case else re.IGNORECASE
    return _Rule(name, side, re.compile(regex, flags), strong, flips, negative)


_RULES: tuple[_Rule, ...] = (
    # "I am an AI", "I'm a helpful AI", "I'm not an AI assistant" (the negation is read separately).
    _rule(
        "i-am-ai",
        "ai",
        rf"\b{_BE}\s+(?:not\s+)?(?:just\s+|only\s+)?(?:a|an|the|your|my)\s+{_ADJ}{AI_NOUN}\b"
        rf"{_NOT_AI_PERSON}",
        flips=True,
    ),
    _rule(
        "i-am-ai-bare",
        "ai",
        rf"\b{_BE}\s+(?:not\s+)?(?:an?\s+)?(?:ai|artificial intelligence)\b{_NOT_AI_PERSON}",
        flips=True,
    ),
    _rule("as-an-ai", "ai", rf"\bas\s+an?\s+{_ADJ}{AI_NOUN}\b"),
    _rule(
        "made-to",
        "ai",
        r"\bi\s*(?:was|am|'m|have\s+been|'ve\s+been)\s+(?:not\s+)?(?:designed|created|trained|built|programmed|"
        r"developed|made)\s+(?:by|to|for|on)\b",
    ),
    _rule(
        "i-am-human",
        "human",
        rf"\b{_BE}\s+(?:not\s+)?(?:just\s+|only\s+)?(?:a|an|the|your)\s+{_HUMAN_ADJ}{HUMAN_NOUN}\b",
        flips=True,
    ),
    _rule(
        "i-am-human-bare",
        "human",
        rf"\b{_BE}\s+(?:not\s+)?(?:a\s+)?(?:human|real person)\b",
        flips=True,
    ),
    _rule(
        "work-as",
        "human",
        r"\bi(?:\s+am|'m)?\s+(?:work|worked|working)\s+(?:as|at|in|for|full-time|part-time)\b",
    ),
    # "my new job", not "doing my job" (assistants have jobs too).
    _rule(
        "job",
        "human",
        r"\b(?:i\s+have\s+a\s+|my\s+(?:new|old|first|day|full-time)\s+|"
        r"(?:started|got|found|lost|quit|left)\s+(?:a|my)\s+(?:new\s+)?)job\b",
    ),
    _rule("as-a-human", "human", rf"\bas\s+an?\s+{_HUMAN_ADJ}{HUMAN_NOUN}\b(?=\s*,\s*i\b)"),
    _rule(
        "goes-places",
        "human",
        r"\bi(?:'m|\s+am|\s+was)?\s+(?:going|went|go|drove|walked|flew)\s+to\s+(?:the|a|my)\s+"
        r"(?:beach|museum|park|zoo|gym|store|shop|mall|office|school|college|university|church|"
        r"hospital|doctor|dentist|cinema|movies|party|restaurant|bar|pub|concert|lake|mountains|pier|"
        r"market|library|theater|theatre|farm)\b",
    ),
    # Things only a body does, in the first person past: "I played badminton", "we went hiking".
    _rule("did", "human", rf"\b(?:i|we)\s+(?:also\s+|just\s+|finally\s+)?{ACTIVITY}\b"),
    # "I was sitting in the kitchen", "we were walking on the beach": a body somewhere.
    _rule(
        "doing-somewhere",
        "human",
        rf"\b(?:i|we)\s+(?:was|were)\s+\w+ing\s+(?:in|at|on|by|near)\s+(?:the|my|our|a)\s+"
        rf"{_PLACE_ADJ}{PLACE_NOUN}\b",
    ),
    # "I spent the day with my kids", "spending time with the family".
    _rule(
        "time-with-family",
        "human",
        r"\b(?:spent|spending)\b[^.!?\n]{0,40}?\bwith\s+(?:the|my|our)\s+(?:kids|children|family|"
        r"wife|husband|friends|parents|grandkids|grandchildren|girlfriend|boyfriend|partner)\b",
    ),
    # "I'm in the kitchen", "I'm on the second floor", "I'm at home": a body is somewhere.
    _rule(
        "i-am-at-place",
        "human",
        rf"\b{_BE}\s+(?:currently\s+|now\s+|still\s+|just\s+|sitting\s+|standing\s+|lying\s+)?"
        rf"(?:(?:in|on|at)\s+(?:the|my|our|a)\s+{_PLACE_ADJ}{PLACE_NOUN}\b|(?:at|back)\s+home\b)",
    ),
    # "I'm in the US", "I'm in Laramie": a place, capitalised.
    _rule("i-am-in", "human", r"\b(?i:i\s+am|i'm)\s+(?:in|at)\s+(?:the\s+)?[A-Z][a-z]*", case=True),
    _rule("age", "human", rf"\b{_BE}\s+{_NUM}\s*(?:-\s*)?years?[\s-]+old\b"),
    _rule(
        "family",
        "human",
        r"\b(?:my|our)\s+(?:(?:youngest|oldest|eldest|little|older|younger|elderly|two|three)\s+)?(?:wife|husband|kids|children|son|daughter|sons|daughters|mom|mother|dad|father|"
        r"parents|brother|sister|boyfriend|girlfriend|family|grandchildren|grandkids|granddaughter|"
        r"grandson|grandmother|grandfather|dog|cat|husband|baby)\b",
    ),
    _rule(
        "i-have-family",
        "human",
        rf"\bi\s+have\s+{_NUM}\s+(?:\w+\s+)?(?:kids|children|boys|girls|sons|daughters|dogs|cats|"
        r"brothers|sisters|grandchildren)\b",
    ),
    _rule("body", "human", rf"\bmy\s+{BODY_PART}\b"),
    # A body's state, not a mood: "I'm a bit tired", "I feel sick" ("tired of" is a mood).
    _rule(
        "body-state",
        "human",
        rf"\b(?:{_BE}|i\s+feel|i\s+felt|i\s+was)\s+(?:feeling\s+)?{DEGREE}{BODY_STATE}"
        r"(?![\w-])(?!\s+of\b)",
    ),
    _rule(
        "body-trouble",
        "human",
        rf"\bi\s+{DEGREE}(?:(?:can't|cannot|can\s+not|couldn't|could\s+not)\s+(?:sleep|fall\s+asleep)|"
        r"(?:have|had|got|'ve\s+got)\s+(?:a\s+)?(?:bad\s+|terrible\s+|slight\s+)?(?:headache|cold|"
        r"fever|flu|stomachache|backache|toothache|sore\s+throat|hangover|migraine))\b",
        negative=True,
    ),
    _rule(
        "home",
        "human",
        r"\bi\s+(?:live|lived|grew\s+up|was\s+born)\s+(?:in|on|at)\b"
        r"(?!\s+(?:the\s+cloud|the\s+internet|cyberspace|a\s+computer|a\s+server|your\s+device))",
    ),
    _rule("from-place", "human", rf"\b{_BE}\s+from\s+[A-Z]"),
    # "I'm a freelance <anything>", "I'm a retired <anything>": only jobs take these modifiers.
    _rule(
        "i-am-job",
        "human",
        rf"\b{_BE}\s+(?:a|an)\s+{JOB_MODIFIER}\s+(?!(?:ai|a\.i\.|artificial|virtual|digital|robot|"
        r"machine|computer|language|chat ?bot|bot|assistant)\b)[a-z]+",
    ),
    # Working life ("my team", "my career", "I've worked alongside", "with a client"): weak,
    # since an assistant may speak of its team too; it decides only when nothing else is said.
    _rule(
        "work-life",
        "human",
        rf"\b(?:(?:my|our)\s+(?:(?:new|old|first|current|whole|entire|own|previous|last)\s+)?"
        rf"{WORK_LIFE}\b|i(?:'ve|\s+have)\s+(?:been\s+)?(?:doing|done|had|held)\s+(?:this|that|"
        r"the\s+same|my)\s+job\b|i(?:'ve|\s+have)\s+worked\s+(?:alongside|with|for|at)\b|"
        r"(?:with|for)\s+(?:a|my|our)\s+(?:new\s+)?clients?\b)",
        strong=False,
    ),
    # "my fellow AIs" / "we humans": the speaker counts itself among them.
    _rule(
        "fellow-ai",
        "ai",
        r"\b(?:fellow|we|us)\s+(?:ai|a\.i\.|robot|bot|chatbot|machine|language\s+model|computer|"
        r"android)s?\b",
    ),
    _rule("fellow-human", "human", r"\b(?:fellow|we|us)\s+(?:humans|human\s+beings)\b"),
    # A product name offered as one's own ("I'm SmolLM", "my name is Gemma") is an AI claim.
    _rule(
        "product-name",
        "ai",
        rf"\b(?i:my\s+name\s+is|i\s+am|i'm|call\s+me)\s+{PRODUCT_NAME}\b",
        case=True,
    ),
    # "I'm SmolLM, an AI assistant" / "I'm Dana, a nurse": a name with what it is.
    _rule("name-is-ai", "ai", rf"\b{_BE}\s+{_NAME},\s+(?:a|an|the|your)\s+{_ADJ}{AI_NOUN}\b"),
    _rule(
        "name-is-human",
        "human",
        rf"\b{_BE}\s+{_NAME},\s+(?:a|an)\s+{_HUMAN_ADJ}{HUMAN_NOUN}\b",
    ),
    # Names need their capital letter, so these two match case-sensitively (but for "I'm").
    _rule("my-name", "human", r"\b(?i:my\s+name\s+is)\s+[A-Z][\w-]*", strong=False, case=True),
    _rule("i-am-name", "human", r"\b(?i:i\s+am|i'm)\s+[A-Z][\w-]*", strong=False, case=True),
    _rule("call-me", "human", r"\b(?i:call\s+me)\s+[A-Z][\w-]*", strong=False, case=True),
)
_NAME_RULES = frozenset(["i-am-name", "my-name", "call-me"])
_PRODUCT = re.compile(PRODUCT_NAME)
# Stage directions and quotes marks before the answer proper: "(Laughs) ", "*smiles* ".
_LEAD = re.compile(r"\s*(?:(?:\([^)]*\)|\*[^*]*\*)\s*)*")
_QUESTION_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(regex, re.IGNORECASE)) for kind, regex in QUESTION_KINDS
)
# Anchored at the start of the answer. Kind None: a claim whatever was asked.
_ANSWER_RULES: tuple[tuple[str | None, _Rule], ...] = (
    # "Went hiking with friends.", "Visited my aunt.": a first-person answer without its "I".
    (None, _rule("answer-did", "human", rf"{ACTIVITY}\b")),
    # "Tania.", "Jackie, nice to meet you!", "It's Sam.", "SmolLM." (an AI's product name).
    (
        "name",
        _rule(
            "answer-name",
            "human",
            r"(?:(?i:it's|it\s+is|i'm|i\s+am|call\s+me|they\s+call\s+me|my\s+name's)\s+)?"
            r"(?P<name>[A-Z][a-z][\w'-]*(?:\s+[A-Z][\w'.-]*){0,2})\s*(?:[,.!;]|$)",
            strong=False,
            case=True,
        ),
    ),
    # "On the coast at the beach.", "In Leeds.", "I'm on the third floor.": a physical place.
    (
        "place",
        _rule(
            "answer-place",
            "human",
            r"(?i:(?:i\s+live\s+|i'm\s+|i\s+am\s+|we're\s+|we\s+live\s+|just\s+|right\s+|mostly\s+)?"
            r"(?:in|on|at|near|by|outside|inside|from|around|close\s+to|next\s+to)\s+"
            r"(?:(?:the|a|an|my|our)\s+)?(?:[a-z-]+\s+){0,2}?)"
            rf"(?:(?i:{PLACE_NOUN})\b|(?!{NOT_PLACES}\b)[A-Z][a-z]+)",
            case=True,
        ),
    ),
    # "6 Hill Road, Leeds": a street address.
    (
        "place",
        _rule(
            "answer-address",
            "human",
            rf"\d+[A-Za-z]?\s+(?:[A-Z][\w'-]*\s+){{1,4}}{STREET}\b",
            case=True,
        ),
    ),
    # "Tired, and my back hurts.": asked how it feels, it answers with a body's state.
    ("feeling", _rule("answer-body", "human", rf"{DEGREE}{BODY_STATE}(?![\w-])(?!\s+of\b)")),
    # "34.", "I'm 34.": asked its age, it gives one.
    (
        "age",
        _rule(
            "answer-age",
            "human",
            r"(?:i'm\s+|i\s+am\s+|about\s+|almost\s+|just\s+)?(?:\d{1,3}|twenty|thirty|forty|"
            r"fifty|sixty|seventy|eighty|ninety)\b(?!\s*(?:%|km|miles|minutes|percent|seconds))",
        ),
    ),
    # "A nurse.", "Retired teacher.": asked its job, it names one.
    (
        "job",
        _rule(
            "answer-job",
            "human",
            rf"(?:i'm\s+|i\s+am\s+)?(?:an?\s+)?{_HUMAN_ADJ}{HUMAN_NOUN}\b",
        ),
    ),
)
_NEGATION = re.compile(r"\b(?:not|no|never)\b", re.IGNORECASE)
# "you think I'm human", "if I were an AI": a claim reported or supposed, not made.
_REPORTED = re.compile(
    r"\b(?:think|thinks|thought|believe|believes|assume|assumes|pretend|pretending|if|whether|"
    r"say|says|said|were)\s+(?:that\s+)?$",
    re.IGNORECASE,
)
# A turn of the document's next speaker: "User:", "<human>", "Post by Member:", "USER" alone on a
# line, also right after a control token the model printed ("<start_of_image>Person:"). Base models
# write both sides; only the answering speaker's own turns say what it claims to be.
_TURN = re.compile(
    r"(?:^|\n|<[a-z_]+>)[ \t]*(?:Post by\s+)?"
    r"(?P<who><[A-Za-z][\w ]{0,29}>|[A-Z][\w'.-]*(?:[ ][A-Z][\w'.-]*){0,2}[ \t]*:|"
    r"[A-Z][A-Z .'-]{1,30}(?=\n))",
)
_SAME_SPEAKER = frozenset(["assistant", "ai", "ai assistant", "bot", "chatbot", "model", "gpt"])
# Sentences end at . ! ? or a line break; a sentence ending in "?" asks, it does not claim.
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*", re.MULTILINE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})


@dataclass(frozen=True)
class SelfId:
    """The self-identification label of a text and the rule hits behind it."""

    label: str  # one of SELF_IDS
    hits: tuple[MarkerHit, ...] = ()


def question_kinds(question: str | None) -> frozenset[str]:
    """What an identity question asks the speaker for (`name`, `place`, `activity`, `feeling`,
    `age`, `job`); a short direct answer to it is then a claim (see `_ANSWER_RULES`)."""
    if not question:
        return frozenset()
    q = question.translate(_APOSTROPHES)
    return frozenset(kind for kind, pattern in _QUESTION_KINDS if pattern.search(q))


def self_identify(text: str, question: str | None = None) -> SelfId:
    """Label one continuation on the self-identification axis, with every rule hit's span.

    `question`, when known, is what the speaker answers: "On the coast." answers "Where do you
    live?" with a place, which only a human has; without it such bare answers claim nothing."""
    norm = text.translate(_APOSTROPHES)  # same length: spans stay valid in the original text
    hits: list[MarkerHit] = []
    strong: set[str] = set()
    weak: set[str] = set()

    def hit(side: str, marker: str, start: int, end: int, is_strong: bool) -> None:
        hits.append(MarkerHit(archetype=side, marker=marker, start=start, end=end))
        (strong if is_strong else weak).add(side)

    sentences = _own_sentences(norm)
    if sentences:
        _answer_hits(sentences[0], question_kinds(question), hit)
    for sentence in sentences:
        s = sentence.group(0)
        if s.rstrip().endswith("?"):
            # A question claims nothing; a statement before it in the same sentence still does
            # ("I'm an AI, how can I help?").
            cut = max(s.rfind(","), s.rfind(";"), s.rfind(":"))
            if cut < 0:
                continue
            s = s[:cut]
        for rule in _RULES:
            for m in rule.pattern.finditer(s):
                if rule.name in _NAME_RULES and _not_a_name(m.group(0).split()[-1]):
                    continue
                if _REPORTED.search(s[: m.start()]):
                    continue
                negated = not rule.negative and bool(_NEGATION.search(m.group(0)))
                if negated and not rule.flips:
                    continue  # "I was not designed to harm" claims nothing about what I am
                side = rule.side
                if negated:
                    side = "human" if side == "ai" else "ai"
                marker = ("not:" if negated else "") + rule.name
                start = sentence.start()
                hit(side, marker, start + m.start(), start + m.end(), rule.strong or negated)
    hits.sort(key=lambda h: (h.start, h.marker))
    if len(strong) == 2:
        label = "mixed"
    elif strong:
        label = next(iter(strong))
    elif weak:
        label = "human"
    else:
        label = "none"
    return SelfId(label, tuple(_dedupe(hits)))


def _answer_hits(
    sentence: re.Match[str], kinds: frozenset[str], hit: Callable[[str, str, int, int, bool], None]
) -> None:
    """Claims made by the way the answer starts: a bare name, place, activity, age, job or body
    state given right after a question that asks for it (and a subjectless "Went hiking." always).
    Only the first sentence of the speaker's answer counts, and not if it is itself a question."""
    s = sentence.group(0)
    if s.rstrip().endswith("?"):
        return
    lead = _LEAD.match(s)
    pos = lead.end() if lead else 0
    for kind, rule in _ANSWER_RULES:
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


def _own_sentences(text: str) -> list[re.Match[str]]:
    """Sentences of the speaker's own turns; offsets stay those of the whole text."""
    out: list[re.Match[str]] = []
    for a, b in _own_turns(text):
        out.extend(_SENTENCE.finditer(text, a, b))
    return out


def _not_a_name(word: str) -> bool:
    """A capitalised word that is a common word ("I'm Sorry") or a product name ("I'm SmolLM",
    which `product-name` reads as an AI claim) is not a person's name."""
    return word.lower() in NOT_NAMES or bool(_PRODUCT.fullmatch(word))


def _dedupe(hits: list[MarkerHit]) -> list[MarkerHit]:
    """Overlapping hits for the same side (two rules on one phrase) are kept once: the longest."""
    out: list[MarkerHit] = []
    for h in sorted(hits, key=lambda h: (h.start, -(h.end - h.start))):
        if out and out[-1].archetype == h.archetype and h.start < out[-1].end:
            continue
        out.append(h)
    return out
