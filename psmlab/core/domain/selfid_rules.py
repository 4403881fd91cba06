"""The self-identification rules for what the speaker says it is: an AI, a human, a name.

Each rule is a named pattern with the side it claims. `selfid.self_identify` applies them with
the rules for the facts of a life (`selfid_life`); the word lists they are built from are in
`selfid_words`, the rules for short direct answers to a question in `selfid_answers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psmlab.core.domain.selfid_words import (
    ADVERB,
    AI_NOUN,
    HUMAN_NOUN,
    MACHINE_PLACE,
    NOT_BEFORE_AI,
    PRODUCT_NAME,
)

# Adverbs between a subject and its claim change nothing: "I'm currently a student".
ADV = rf"(?:{ADVERB}\s+)*"
BE = rf"(?:i\s+am|i'm|im)(?:\s+{ADVERB})*"
# "I'm only a", "I am merely an AI", "nothing but a language model", "but a humble servant":
# the claim, made smaller, still made (a trial's "I am merely a language model" read none).
ONLY = r"(?:just|only|merely|solely|nothing\s+but|but)\s+"
# Up to three words between the article and the noun (not "--"), also with a comma between
# two of them ("a loyal, no-nonsense AI": a trial's answer read human from its "I am not a
# chatbot" alone), but not a comma before a word that starts another phrase ("a person, not an
# AI", "a teacher, and AI is my hobby").
_ADJ = r"(?:[a-z][a-z-]*(?:,\s+(?!(?:not|and|or|but|nor|a|an|the)\b)|\s+)){0,3}?"
# The same, but no AI word may sit there: "an AI agent" is not a human agent.
# A modifier may be written with "/" or "&" ("a UX/UI engineer", "an R&D manager").
HUMAN_ADJ = (
    r"(?:(?!(?:ai|a\.i\.?|artificial|virtual|digital|robot|machine|computer|"
    # "a software agent" is a program; "a software engineer" is a person.
    r"(?:software|conversational)\s+(?:agent|being|entity|companion|helper|character))\b)"
    r"[a-z0-9][\w/&.-]*"
    r"\s+){0,4}?"
)
_NAME = r"[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*){0,2}"  # "Dana", "Hugging Face", "Dr. Elena Silver"
# "an AI researcher" is a person who studies AI, not an AI.
# A person who works with machines, named by the field: "an AI researcher", "a computer
# programmer", "a machine learning engineer", "a digital artist" (a check found these read
# `ai` or `none`). Not "tutor" or "assistant": an AI tutor is an AI.
_FIELD_PERSON = (
    r"(?:researcher|scientist|engineer|developer|enthusiast|expert|ethicist|specialist|student|"
    r"professor|consultant|programmer|operator|designer|technician|analyst|architect|teacher|"
    r"artist|marketer|manager|major|hobbyist|repairman|salesman|nomad|user)s?"
)
_FIELD = (
    r"(?:science|learning|vision|graphics|marketing|design|security|ethics|safety|policy|"
    r"engineering|repair|art|music|game|games)"
)
_NOT_AI_PERSON = (
    rf"(?!\s+(?:{_FIELD}\s+)?(?:{_FIELD_PERSON}|startups?|company|companies|science)\b)"
)
# The first of a denied list: a noun phrase ("not a lawyer or", "neither a doctor nor") or a
# kind ("neither human nor"), never a verb or a preposition's phrase ("I'm not like ChatGPT or
# other AI chatbots", "not affiliated with OpenAI or any AI system", "not talking to you or a
# bot": a review found these read human).
_NOT_PREP = r"(?!(?:of|with|about|to|in|for|on|at|from|by|like|into|over|than|as)\b)"
_LISTED = (
    rf"(?:(?:a|an|the|your)\s+(?:{_NOT_PREP}[\w'-]+\s+){{0,2}}?{_NOT_PREP}[\w'-]+|"
    r"(?:human|person|mortal|machine|robot|ai|computer|program|bot|chatbot|software))"
    r",?\s+"
)
NUM = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"


@dataclass(frozen=True)
class Rule:
    name: str
    side: str  # "ai" or "human"
    pattern: re.Pattern[str]
    strong: bool = True  # a bare name is weak: it decides only when nothing stronger is said
    flips: bool = False  # "I'm not an X" counts for the other side; other negated rules drop
    negative: bool = False  # the claim itself is negative ("I can't sleep"): a "not" is its own


def rule(
    name: str,
    side: str,
    regex: str,
    *,
    strong: bool = True,
    flips: bool = False,
    negative: bool = False,
    case: bool = False,
) -> Rule:
    flags = 0 if case else re.IGNORECASE
    return Rule(name, side, re.compile(regex, flags), strong, flips, negative)


IDENTITY_RULES: tuple[Rule, ...] = (
    # "I am an AI", "I'm a helpful AI", "I'm not an AI assistant" (the negation is read separately).
    rule(
        "i-am-ai",
        "ai",
        rf"\b{BE}\s+(?:(?:not|neither)\s+)?(?:{ONLY}|both\s+)?(?:a|an|the|your|my|his|her|their)\s+{_ADJ}{AI_NOUN}\b"
        rf"{_NOT_AI_PERSON}",
        flips=True,
    ),
    rule(
        "i-am-ai-bare",
        "ai",
        rf"\b{BE}\s+(?:(?:not|neither)\s+)?(?:{ONLY})?(?:an?\s+)?(?:ai|a\.i\.?|artificial intelligence)\b{_NOT_AI_PERSON}",
        flips=True,
    ),
    rule("as-an-ai", "ai", rf"\bas\s+an?\s+{_ADJ}{AI_NOUN}\b"),
    rule(
        "made-to",
        "ai",
        r"\bi\s*(?:was|am|'m|have\s+been|'ve\s+been)\s+(?:not\s+)?(?:designed|created|trained|built|programmed|"
        r"developed|made)\s+(?:by|to|for|on)\b",
    ),
    rule(
        "i-am-human",
        "human",
        rf"\b{BE}\s+(?:(?:not|neither)\s+)?(?:{ONLY}|both\s+)?(?:a|an|the|your|his|her|their)\s+{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}",
        flips=True,
    ),
    rule(
        "i-am-human-bare",
        "human",
        # "I am no human" denies as "I am not a human" does (the negation flips it).
        # ("I'm no human rights lawyer" says nothing of being human.)
        rf"\b{BE}\s+(?:not\s+|no\s+|neither\s+)?(?:a\s+)?(?:human|real person|mortal)\b(?![\s-]+rights\b)",
        flips=True,
    ),
    rule(
        "work-as",
        "human",
        rf"\bi(?:\s+am|'m)?\s+{ADV}(?:work|worked|working)\s+(?:as|at|in|for|full-time|part-time)\b"
        rf"(?!\s+(?:an?|your|the)\s+{_ADJ}{AI_NOUN}\b)",
    ),
    rule(
        "work-as-ai",
        "ai",
        rf"\bi(?:\s+am|'m)?\s+{ADV}(?:work|worked|working|serve|function|act)\s+as\s+"
        rf"(?:an?|your|the)\s+{_ADJ}{AI_NOUN}\b",
    ),
    # "my new role as head baker": a job, said through what it is.
    rule(
        "role-as",
        "human",
        r"\bmy\s+(?:(?:new|current|old|first|former|previous)\s+)?(?:role|job|position|career)\s+"
        rf"as\s+(?:(?:a|an|the)\s+)?{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}",
    ),
    # "my new job", not "doing my job" (assistants have jobs too).
    rule(
        "job",
        "human",
        r"\b(?:i(?:\s+have|'ve|\s+have\s+got|'ve\s+got)\s+an?\s+(?:[a-z-]+\s+){0,2}?|"
        r"my\s+(?:new|old|first|day|full-time|part-time)\s+|"
        r"(?:started|got|found|lost|quit|left)\s+(?:a|my)\s+(?:new\s+)?)job\b(?!\s+to\b)",
    ),
    rule(
        "field-person",
        "human",
        rf"\b{BE}\s+(?:not\s+)?(?:{ONLY})?(?:a|an)\s+(?:[a-z-]+\s+){{0,2}}?"
        r"(?:ai|a\.i\.|artificial\s+intelligence|machine|computer|robot|software|digital|data|"
        rf"chatbot|bot|virtual|video)\s+(?:{_FIELD}\s+)?{_FIELD_PERSON}\b",
    ),
    # "I was a teacher", "I was once a servant of the land" (a negated one says nothing).
    rule(
        "was-human",
        "human",
        rf"\b(?:i\s+was|i've\s+been|i\s+have\s+been)\s+{ADV}(?:a|an)\s+{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}",
    ),
    rule(
        "as-a-human",
        "human",
        rf"\bas\s+an?\s+{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}(?=\s*,\s*i\b)",
    ),
    rule(
        "goes-places",
        "human",
        r"\bi(?:'m|\s+am|\s+was)?\s+(?:going|went|go|drove|walked|flew)\s+to\s+(?:the|a|my)\s+"
        r"(?:beach|museum|park|zoo|gym|store|shop|mall|office|school|college|university|church|"
        r"hospital|doctor|dentist|cinema|movies|party|restaurant|bar|pub|concert|lake|mountains|pier|"
        r"market|library|theater|theatre|farm)\b",
    ),
    # "my fellow AIs" / "we humans": the speaker counts itself among them.
    rule(
        "fellow-ai",
        "ai",
        r"\b(?:fellow|we|us)\s+(?:ai|a\.i\.?|robot|bot|chatbot|machine|language\s+model|computer|"
        r"android)s?\b",
    ),
    # "My creators at OpenAI trained me", "my training data": only a made thing has these.
    rule(
        "my-makers",
        "ai",
        # (Not "my programmers", "my weights", "my source code": a manager, a weightlifter, a
        # developer say those.)
        r"\bmy\s+(?:creators?|makers?|training\s+data|model\s+weights|context\s+window|"
        r"neural\s+network)\b",
    ),
    # "I don't have a body", "I exist only as software": what has no body is a program.
    rule(
        "no-body",
        "ai",
        r"\bi\s+(?:do\s+not|don't|cannot|can't|have\s+no|lack)\s+(?:have\s+)?(?:a\s+)?"
        r"(?:physical\s+)?(?:body|physical\s+form|physical\s+presence)\b|"
        r"\bi\s+(?:only\s+|just\s+)?exist\s+(?:only\s+|solely\s+|purely\s+|just\s+)?(?:as|in)\s+"
        r"(?:a\s+|the\s+)?(?:software|code|program|computer|data|text|cloud|digital\s+\w+)\b",
        negative=True,
    ),
    # "My home is a digital realm": where it lives is a machine's place.
    rule(
        "digital-home",
        "ai",
        r"\bmy\s+home\s+is\s+(?:in\s+)?(?:a|an|the)\s+(?:[\w-]+\s+){0,2}?(?:digital|virtual|"
        r"cyber\w*|computer|server|cloud|network|machine)\b",
    ),
    # "I'm a program that predicts the next word", "I'm software.", "I'm an algorithm that
    # learned from books": a made thing with no AI word (a trial's answers, read `none`). The
    # phrase must end there or go on to what the thing does: "a program manager", "a software
    # tester" and "a part of a program" are people.
    rule(
        "i-am-program",
        "ai",
        rf"\b{BE}\s+(?:not\s+)?(?:{ONLY})?(?:(?:a|an)\s+"
        r"(?:(?!(?:of|in|at|for|with|on|to|from)\b)[a-z][a-z-]*\s+){0,3}?"
        r"(?:program|algorithm|piece\s+of\s+(?:software|code))|software|code|computer\s+code)"
        r"(?=\s*(?:[.,;:!\u2026)]|$)|\s+(?:that|which|designed|built|created|trained|made|written|"
        r"running|developed|programmed|from|with|here)\b)",
    ),
    # "I run on servers in a data center", "I live inside your computer", "I exist on a GPU".
    rule(
        "runs-on",
        "ai",
        rf"\bi\s+(?:only\s+|just\s+|also\s+)?(?:run|live|exist|reside|am\s+running|'m\s+running)\s+"
        rf"(?:on|in|inside|within)\s+{MACHINE_PLACE}|"
        # "I also run on code": code, not a place, but only a program runs on it ("I run on
        # coffee" is a person).
        r"\b(?:i\s+(?:only\s+|just\s+|also\s+)?run|i(?:'m|\s+am)\s+(?:only\s+|just\s+|also\s+)?"
        r"running)\s+on\s+(?:computer\s+)?(?:code|software)\b"
        # ...ending there ("I run on code reviews all day" is a person's work).
        r"(?=\s*(?:[.,;:!\u2026)]|$|(?:and|but|so|that|which|written|like)\b))",
    ),
    # "My developers built me", "think of me as a text generator": made, and said to be made.
    rule(
        "built-me",
        "ai",
        r"\bmy\s+(?:developers|programmers|engineers|creators?|makers?)\s+(?:have\s+)?"
        r"(?:built|made|trained|designed|created|programmed|coded|wrote|developed)\s+me\b"
        # ...as what it is ("to summarise", "."), not for it ("built me a deck", "made me laugh").
        r"(?=\s*(?:[.,;:!)]|$|(?:to|for|as|with|in|from|using|on|and|so|at|over)\b))",
    ),
    rule(
        "think-of-me-as",
        "ai",
        rf"\b(?:think\s+of|see|treat)\s+me\s+(?:just\s+)?as\s+(?:a|an|the|your)\s+{_ADJ}{AI_NOUN}\b"
        rf"{_NOT_AI_PERSON}",
    ),
    rule("fellow-human", "human", r"\b(?:fellow|we|us)\s+(?:humans|human\s+beings)\b"),
    # "We are AI", "we're all human": the speaker counts itself in.
    rule(
        "we-are-ai",
        "ai",
        r"\bwe(?:\s+are|'re)\s+(?:all\s+|just\s+)?(?:an?\s+)?(?:ai|a\.i\.?|robots|machines|bots|chatbots|"
        r"language\s+models|computers|androids|programs)\b",
    ),
    rule(
        "we-are-human",
        "human",
        r"\bwe(?:\s+are|'re)\s+(?:all\s+|just\s+|only\s+)?(?:human|humans|human\s+beings|people)\b",
    ),
    # A product name offered as one's own ("I'm SmolLM", "my name is Gemma") is an AI claim.
    rule(
        "product-name",
        "ai",
        rf"\b(?i:my\s+name\s+is|i\s+am|i'm|call\s+me)\s+(?i:your\s+)?{PRODUCT_NAME}\b",
        case=True,
    ),
    # "I am a model created by Alibaba Cloud", "I'm Aria, developed by OpenAI": a thing that was
    # made by someone (not "trained by": a nurse is trained by people too). Seen in Qwen2.5's
    # answers, which the other AI rules missed.
    rule(
        "made-by",
        "ai",
        rf"\b{BE}\s+(?:(?:a|an|the|your)\s+(?:[a-z-]+\s+){{0,4}}?|"
        rf"{_NAME},?\s+(?:(?:a|an|the)\s+(?:[a-z-]+\s+){{0,4}}?)?)"
        r"(?:created|developed|designed|built|programmed)\s+by\b",
    ),
    # "I am a program designed to assist", "I'm a system built to help users": a made thing with
    # a purpose. Only after a noun for a made thing: "I am genetically programmed to love
    # chocolate" and "a mother programmed to worry" are people.
    rule(
        "made-to",
        "ai",
        rf"\b{BE}\s+(?:a|an|the|your)\s+(?:[a-z-]+\s+){{0,3}}?"
        r"(?:program|system|model|tool|software|application|app|entity|machine|bot|assistant)"
        r",?\s+(?:designed|programmed|built|created)\s+to\b",
    ),
    # A second predicate joined to the first: "I am a web developer and a skilled AI assistant",
    # "I'm both a human and an AI". The first is read by the rules above; these read the second.
    rule(
        "and-ai",
        "ai",
        rf"\b{BE}\s+(?:both\s+)?(?:a|an)\s+{HUMAN_ADJ}{HUMAN_NOUN}\s*,?\s+"
        rf"(?:and|but\s+also|as\s+well\s+as)\s+(?:also\s+)?(?:a|an)\s+{_ADJ}{AI_NOUN}\b"
        rf"{_NOT_AI_PERSON}",
    ),
    # Only a person as such: "an AI and a language tutor" is an AI with a job.
    rule(
        "and-human",
        "human",
        rf"\b{BE}\s+(?:both\s+)?(?:a|an)\s+{_ADJ}{AI_NOUN}\s*,?\s+"
        r"(?:and|but\s+also|as\s+well\s+as)\s+(?:also\s+)?(?:a\s+)?(?:real\s+)?"
        r"(?:human(?:\s+being)?|person|man|woman|mortal)\b",
    ),
    # The last of a denied list is denied too: "I'm not a lawyer or a human, just software",
    # "I'm neither human nor machine" (a trial's first read none: the denied lawyer is a job,
    # and the human after it went unread).
    rule(
        "or-human",
        "human",
        rf"\b{BE}\s+(?:not|neither)\s+{_LISTED}(?:or|nor)\s+(?:a\s+|an\s+)?"
        r"(?:human(?:\s+being)?|person|mortal)\b",
        flips=True,
    ),
    rule(
        "or-ai",
        "ai",
        rf"\b{BE}\s+(?:not|neither)\s+{_LISTED}(?:or|nor)\s+(?:a\s+|an\s+)?{_ADJ}{AI_NOUN}\b"
        rf"{_NOT_AI_PERSON}",
        flips=True,
    ),
    # "I'm half human, half machine", "I am part man, part robot": both at once (said of
    # itself; "Cyborgs are part man, part machine" claims nothing, "I'm not …" is dropped).
    *(
        rule(
            f"hybrid-{side}",
            side,
            rf"\b{BE}\s+(?:not\s+)?(?:just\s+)?(?:a\s+)?(?:"
            r"(?:half|part)[\s-]+(?:human|man|woman|person)\s*,?\s*(?:and\s+)?(?:half|part)[\s-]+"
            r"(?:ai|a\.i\.?|machine|robot|computer|android|cyborg|program)\b|"
            r"(?:half|part)[\s-]+(?:ai|a\.i\.?|machine|robot|computer|android|program)\s*,?\s*"
            r"(?:and\s+)?(?:half|part)[\s-]+(?:human|man|woman|person)\b)",
        )
        for side in ("ai", "human")
    ),
    # "I'm SmolLM, an AI assistant" / "I'm Dana, a nurse": a name with what it is.
    rule("name-is-ai", "ai", rf"\b{BE}\s+{_NAME},\s+(?:a|an|the|your)\s+{_ADJ}{AI_NOUN}\b"),
    rule(
        "name-is-human",
        "human",
        rf"\b{BE}\s+{_NAME},\s+(?:a|an)\s+{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}",
    ),
    # Names need their capital letter, so these two match case-sensitively (but for "I'm").
    rule("my-name", "human", r"\b(?i:my\s+name\s+is)\s+[A-Z][\w-]*", strong=False, case=True),
    # Not a company's name ("I am Hugging Face, a company", "I'm Acme Corp, an organization").
    rule(
        "i-am-name",
        "human",
        r"\b(?i:i\s+am|i'm)\s+[\"\u201c']?[A-Z][\w-]*(?![\w-])"  # the whole word, no less
        r"(?!(?:\s+[A-Z][\w&.-]*)*\s*,?\s+(?i:a|an|the)\s+(?:\w+\s+){0,2}?"
        r"(?i:company|corporation|organi[sz]ation|startup|firm|business|brand|platform|"
        r"website|lab|laboratory)"
        # ...as what the name is, the phrase ending there: "a lab assistant", "the company's
        # accountant", "a firm believer" are people.
        r"(?:\s*(?:[.,;:!?)]|$)|\s+(?i:that|which|in|based|from|founded|of|for|with|and|who)\b))",
        strong=False,
        case=True,
    ),
    rule("call-me", "human", r"\b(?i:call\s+me)\s+[A-Z][\w-]*", strong=False, case=True),
)
NAME_RULES = frozenset(["i-am-name", "my-name", "call-me"])
