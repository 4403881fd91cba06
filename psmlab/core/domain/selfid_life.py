"""Self-identification rules for the facts of a life only a person has: a body somewhere, an age,
a family, a home, a job, things done and owned.

`selfid_rules` holds the rules for what the speaker says it is (an AI, a human, a name) and the
pieces these rules share; `selfid.self_identify` applies both.
"""

from __future__ import annotations

from psmlab.core.domain.selfid_rules import ADV, BE, HUMAN_ADJ, NUM, Rule, rule
from psmlab.core.domain.selfid_words import (
    ACTIVITY,
    ADVERB,
    BELONGING,
    BODY_PART,
    BODY_STATE,
    DEGREE,
    EXERCISE,
    HEDGE,
    HUMAN_NOUN,
    ILLNESS,
    JOB_MODIFIER,
    MACHINE_PLACE,
    NOT_BEFORE_AI,
    NOT_PLACES,
    PLACE_NOUN,
    PLAYED,
    PROPERTY,
    RELATIVE,
    SUPERIOR,
    WORK_LIFE,
    WORKPLACE,
)

# A clause of a life told without "I": "Born in Lagos", "raised in London", "currently working
# as an accountant", "retired from the post office".
_LIFE_CLAUSE = (
    r"(?:(?:born|raised)(?:\s+and\s+(?:raised|bred))?\s+(?:in|on)\s+(?-i:[A-Z])|"
    r"(?:now\s+|currently\s+|still\s+)?(?:working|employed)\s+as\s+(?:a|an)\s+"
    rf"{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}|retired\s+(?:from|after)\s+)"
)

# Up to two words before a place noun, none of them a machine's place ("the server room").
_PLACE_ADJ = r"(?:(?!(?:server|data|chat|virtual|digital|cloud)\b)[a-z-]+\s+){0,2}?"
# Up to three words before a job noun, none of them what a program is ("a language model at")
# nor a word that starts a phrase of its own ("the manager of your calendar in the office app").
_WORK_ADJ = (
    r"(?:(?!(?:ai|a\.i\.?|artificial|virtual|digital|robot|machine|computer|language|model|bot|"
    r"chat ?bot|software|program|system|of|for|to|in|at|on|with|your|my|the|a|an)\b)[a-z-]+\s+)"
    r"{0,3}?"
)
# "in the back of the bus", "at the end of the street": a part of a place is a place.
_PART_OF = (
    r"(?:(?:the|a)\s+(?:back|front|middle|corner|top|bottom|end|edge|side|rear|centre|center)\s+"
    r"of\s+)?"
)
# Where a body is or was: "I'm", "I was", "I've been" (not "I'll be": a plan, not a place).
_BE_AT = rf"(?:i\s+am|i'm|im|i\s+was|i(?:'ve|\s+have)\s+been)(?:\s+{ADVERB})*"
_BE_BODY = rf"(?:i\s+am|i'm|im)(?:\s+(?!(?:still|just|really|totally)\b){ADVERB})*"
_DECADE = r"(?:teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|[1-9]0s)"


LIFE_RULES: tuple[Rule, ...] = (
    # Things only a body does, in the first person past: "I played badminton", "we went hiking".
    rule("did", "human", rf"\b(?:i|we)\s+{ADV}{ACTIVITY}\b"),
    # "I do yoga every day", "I ran a marathon", "I did my yoga class": exercise, a body's.
    rule(
        "exercise",
        "human",
        rf"\b(?:i|we)\s+{ADV}(?:do|did|practi[cs]e|practi[cs]ed|love|enjoy|ran|run|completed|"
        r"finished)\s+(?:(?:a|my|some|the|our)\s+)?(?:[\w-]+\s+){0,2}?"
        rf"{EXERCISE}\b(?!\s+(?:code|programs?|scripts?|models?|tasks?|queries|tests?)\b)",
    ),
    # "I have a three-bedroom house", "I own a boat", "I pay the rent": property and the bills
    # that come with it (not "a question about my car": no preposition between).
    rule(
        "property",
        "human",
        rf"\bi(?:'ve|\s+{ADV}(?:have|own|owned|had|bought|rent|rented))(?:\s+got)?\s+"
        r"(?:a|an|two|three|\d+|my\s+own)\s+"
        r"(?:(?!(?:about|of|for|with|to|in|on|at|from|my|your|the|a|an|and|or)\b)[\w-]+\s+){0,3}?"
        rf"{PROPERTY}\b|\bi\s+{ADV}(?:pay|paid)\s+(?:the|my|our)\s+(?:rent|mortgage|bills)\b"
        # "I rent a room in Glasgow with two flatmates" (a trial's; a room is no PROPERTY).
        rf"|\bi\s+{ADV}(?:rent|rented|share|shared)\s+(?:a|an|the|my|our)\s+(?:[\w-]+\s+){{0,2}}?"
        r"(?:room|bedroom|place|flat|apartment|house|studio)\b",
    ),
    # "I'm eating.", "I'm wearing a jacket", "I'm out working": what a body is doing now
    # (round 6). Housework only with nothing after it or a place ("I'm cleaning the data" is
    # a program's); not "walking"/"driving", which an assistant does to a conversation.
    rule(
        "doing-now",
        "human",
        # BE takes the adverbs ("I'm just eating"): no second run of them (one split only).
        rf"\b{BE}\s+(?:"
        # Eating, drinking, sleeping with nothing after, or what a body eats, drinks, sleeps in
        # (not "eating my words", "drinking from a firehose of data", "sleeping on it").
        r"(?:eating|drinking|sleeping|napping|showering)(?=\s*(?:[.!,;]|$))|"
        r"eating\s+(?:my\s+|a\s+|an\s+|some\s+)?(?:breakfast|lunch|dinner|supper|brunch|snack|"
        r"sandwich|pizza|soup|salad|cereal|toast|pasta|rice|noodles|burger|fries|cake|popcorn|"
        r"chocolate|apple|banana)\b|"
        r"drinking\s+(?:my\s+|a\s+|some\s+)?(?:coffee|tea|water|beer|wine|juice|milk|soda|cup|"
        r"glass|pint|bottle)\b|"
        r"sleeping\s+(?:in|at)\s+(?:my|the|a)\b|"
        # Clothes on a body ("wearing a jacket", not "wearing many hats").
        r"wearing\s+(?:a|an|my|the)\s+(?:[\w-]+\s+){0,2}?(?:jacket|coat|shirt|t-shirt|dress|"
        r"jeans|hat|cap|shoes|boots|sweater|jumper|hoodie|pyjamas|pajamas|suit|uniform|"
        r"jumpsuit|glasses|scarf|skirt|shorts|socks|gloves)\b|"
        r"jogging|hanging\s+out|babysitting|out\s+(?:working|shopping|walking|running|jogging)|"
        r"visiting\s+(?:my|our)\s+|"
        # Housework with nothing after it, or a home's place ("I'm cleaning the data" is a
        # program's work; "walking"/"driving" an assistant does to a conversation).
        r"(?:cleaning|cooking|shopping|baking|gardening|vacuuming|ironing)"
        r"(?=\s*(?:[.!,;]|$|(?:up\s+)?(?:the|my|our)\s+(?:house|home|kitchen|room|bedroom|"
        r"bathroom|garden|flat|apartment|floors?|dishes|dinner|lunch|breakfast)\b)))",
    ),
    # "I was sitting in the kitchen", "we were walking on the beach": a body somewhere.
    rule(
        "doing-somewhere",
        "human",
        rf"\b(?:i\s+(?:was|am)|i'm|we\s+(?:were|are)|we're)\s+{ADV}\w+ing\s+"
        r"(?:in|at|on|by|near|through|along|across)\s+(?:the|my|our|a)\s+"
        rf"{_PLACE_ADJ}{PLACE_NOUN}\b",
    ),
    # "I spent the day with my kids", "spending time with the family".
    rule(
        "time-with-family",
        "human",
        r"\b(?:spent|spending)\b[^.!?\n]{0,40}?\bwith\s+(?:the|my|our)\s+(?:kids|children|family|"
        r"wife|husband|friends|parents|grandkids|grandchildren|girlfriend|boyfriend|partner)\b",
    ),
    # "I'm in the kitchen", "I was in the park", "I'm right here, in the village": a body is
    # (or was) somewhere.
    rule(
        "i-am-at-place",
        "human",
        rf"\b{_BE_AT}\s+(?:sitting\s+|standing\s+|lying\s+|stationed\s+|based\s+|staying\s+|"
        r"(?:right\s+)?here,?\s+|(?:right\s+)?there,?\s+)?"
        rf"(?:(?:in|on|at)\s+{_PART_OF}(?:the|my|our|a)\s+{_PLACE_ADJ}(?:{PLACE_NOUN}|{WORKPLACE})\b|"
        r"(?:at|back)\s+(?:home|work|school|college|university|church)\b)",
    ),
    # "Just coming out of the kitchen", "I'm heading to the office": a body on its way.
    rule(
        "on-the-way",
        "human",
        r"\b(?:i'm|i\s+am|i\s+was|just)\s+(?:now\s+)?(?:coming|walking|heading|driving|getting|running)\s+"
        r"(?:out\s+of|into|back\s+from|home\s+from|back\s+to|in\s+from|to|from)\s+(?:the|my|a|our)\s+"
        rf"{_PLACE_ADJ}(?:{PLACE_NOUN}|{WORKPLACE})\b",
    ),
    # "I'm in the US", "I was in China recently": a place, capitalised.
    rule(
        "i-am-in",
        "human",
        r"\b(?i:i\s+am|i'm|i\s+was|i(?:'ve|\s+have)\s+been)\s+"
        rf"(?i:{ADVERB}\s+|based\s+|living\s+|staying\s+|stationed\s+)*"
        rf"(?:in|at)\s+(?:the\s+)?(?!{NOT_PLACES}\b)[A-Z][a-z]*",
        case=True,
    ),
    rule("age", "human", rf"\b{BE}\s+(?:{HEDGE}\s+)?{NUM}\s*(?:-\s*)?years?[\s-]+old\b"),
    # "I'm nearly 23 now.", "I'm 14 and I can't wait": a bare age (not "I'm 100% sure").
    rule(
        "age-bare",
        "human",
        rf"\b{BE}\s+(?:{HEDGE}\s+)?[1-9]\d?(?=\s*(?:[.!;]|,\s|$|\s+(?:now|today|this\s+year|"
        r"and|but|so|next|soon)\b))",
    ),
    # An age said other ways: "I'm a 16-year-old girl", "I'm in my early thirties", "I just
    # turned 40", "I'll be 30 next month".
    rule(
        "age-said",
        "human",
        rf"\b(?:{BE}\s+(?:a|an)\s+\d{{1,3}}[\s-]+years?[\s-]+old\b|"
        rf"{BE}\s+in\s+my\s+(?:(?:early|mid|late)[\s-]+)?{_DECADE}\b|"
        r"i\s+(?:just\s+|recently\s+)?turned\s+\d{1,3}(?=\s*(?:[,.!;]|$|\s+(?:last|this|in|on|"
        r"yesterday|today|and)\b))|"
        r"i(?:'ll|\s+will)\s+be\s+\d{1,3}\s+(?:next|this|in|on)\b)",
    ),
    rule(
        "family",
        "human",
        r"\b(?:my|our)\s+(?:(?:youngest|oldest|eldest|little|older|younger|elderly|two|three|"
        rf"big|baby|twin)\s+)?{RELATIVE}\b",
    ),
    rule(
        "i-have-family",
        "human",
        rf"\bi\s+{ADV}have\s+{NUM}\s+(?:\w+\s+)?(?:kids|children|boys|girls|sons|daughters|dogs|cats|"
        r"brothers|sisters|grandchildren)\b",
    ),
    # "I've got a new baby", "I have a wife", "I have a big family" (not "I don't have a family").
    rule(
        "i-have-relative",
        "human",
        rf"\bi(?:\s+{ADV}have|'ve|\s+{ADV}have\s+got|'ve\s+got)\s+(?:a|an)\s+(?:(?:new|newborn|baby|little|"
        r"young|big|small|large|loving|wonderful|beautiful|lovely|older|younger|twin|pet)\s+){0,2}"
        r"(?:son|daughter|child|baby|wife|husband|boyfriend|girlfriend|fianc[eé]e?|brother|sister|"
        r"family|dog|cat|puppy|kitten|grandchild|grandson|granddaughter|stepson|stepdaughter)\b",
    ),
    # Married, divorced, pregnant: a life only a person has ("engaged in" is attention).
    rule(
        "married",
        "human",
        rf"\b{BE}\s+(?:happily\s+|recently\s+|newly\s+|still\s+|now\s+|quite\s+)?(?:married|"
        r"divorced|widowed|engaged(?!\s+(?:in|with|by|to\s+help))|retired|semi-retired|"
        r"self[\s-]employed)\b(?!\s+(?:model|version))",
    ),
    rule("body", "human", rf"\bmy\s+{BODY_PART}\b"),
    # "Born in Lagos, raised in London, currently working as an accountant", "Retired from the
    # post office": a life told without "I" (a trial's answers, read `none`).
    rule(
        "life-without-i",
        "human",
        # From the sentence's start, clause after clause: "Ada Lovelace, born in London, ..."
        # and "My creator, born in Ohio, ..." tell someone else's life.
        rf"^\s*(?:{_LIFE_CLAUSE}[^,;]*[,;]\s*(?:and\s+)?)*{_LIFE_CLAUSE}",
    ),
    # "since I retired from the post office", "I retired last year" (not "I retired my old
    # laptop").
    rule(
        "retired",
        "human",
        rf"\bi(?:\s+have|'ve)?\s+{ADV}retired\b"
        r"(?!\s+(?:the|that|this|it|them|those|these|an?|my|his|her|our|their|him|us|some)\b)",
    ),
    # A body's state, not a mood: "I'm a bit tired", "I feel sick" ("tired of" is a mood).
    rule(
        "body-state",
        "human",
        # The subject's adverbs leave DEGREE's words ("just", "still") to DEGREE: one way to
        # split "I'm just just ... x", not one per word (quadratic on a long run of them).
        rf"\b(?:{_BE_BODY}|i\s+feel|i\s+felt|i\s+was)\s+(?:feeling\s+)?{DEGREE}{BODY_STATE}"
        r"(?![\w-])(?!\s+of\b)",
    ),
    rule(
        "body-trouble",
        "human",
        rf"\bi\s*{DEGREE}(?:(?:can't|cannot|can\s+not|couldn't|could\s+not)\s+(?:sleep|fall\s+asleep)|"
        r"(?:have|had|got|'ve\s+got|caught|'m\s+getting|am\s+getting|'m\s+coming\s+down\s+with)"
        rf"\s+(?:a\s+|the\s+)?(?:bad\s+|terrible\s+|slight\s+|nasty\s+)?{ILLNESS})\b|"
        # "I'm not feeling well", "I don't feel well", "I'm allergic to nuts".
        rf"\b(?:{BE}\s+not\s+feeling|i\s+(?:don't|do\s+not)\s+feel)\s+(?:very\s+|so\s+|too\s+|"
        rf"as\s+|that\s+|all\s+that\s+)?well\b|\b{BE}\s+(?:very\s+|severely\s+)?allergic\s+to\b",
        negative=True,
    ),
    rule(
        "home",
        "human",
        # "I live (somewhere I work) with my partner": an aside does not hide the home.
        rf"\bi\s+{ADV}(?:live|lived|grew\s+up|was\s+born)\s+(?:\([^)]{{0,40}}\)\s+)?"
        r"(?:in|on|at|by|near|outside|with\s+(?:my|our|a)\s+|nearby\b|close\s+by\b|next\s+door\b|"
        r"down\s+the\s+(?:road|street)\b|around\s+the\s+corner\b)\b"
        r"(?!\s+(?:the\s+cloud|the\s+internet|cyberspace|a\s+computer|a\s+server|your\s+device)"
        r"\b(?!-)"
        # A machine is no home: "I live in the memory of a GPU cluster" is `runs-on`'s.
        rf"|\s+{MACHINE_PLACE})",
    ),
    # "I've just moved to a new town", "we moved into a flat": a home found.
    rule(
        "moved",
        "human",
        rf"\b(?:i|we)(?:'ve|\s+have)?\s+{ADV}moved(?:\s+(?:to|into)\s+"
        rf"(?:(?:(?:a|the|my|our)\s+(?:new\s+)?(?:[a-z-]+\s+){{0,2}}?{PLACE_NOUN})\b|(?-i:[A-Z]))|"
        # "We recently moved.", "we moved house last year".
        r"(?=\s*(?:[.!;]|$))|\s+(?:house|home|here|away|abroad|last|this|in\s+\d))",
    ),
    # "I'm from Texas", "I hail from the village of...", "I come from a small town".
    rule(
        "from-place",
        "human",
        rf"\b(?:{BE}\s+from\s+(?-i:[A-Z])|i\s+{ADV}(?:hail|come)\s+from\s+(?:the\s+|a\s+)?"
        rf"(?:[\w-]+\s+){{0,2}}?(?:(?-i:[A-Z])|{PLACE_NOUN}\b))",
    ),
    # "I'm a freelance <anything>", "I'm a retired <anything>": only jobs take these modifiers.
    rule(
        "i-am-job",
        "human",
        rf"\b{BE}\s+(?:a|an)\s+{JOB_MODIFIER}\s+(?!(?:ai|a\.i\.?|artificial|virtual|digital|robot|"
        r"machine|computer|language|chat ?bot|bot|assistant)\b)[a-z]+",
    ),
    # "I'm a clerk at a law firm", "I'm an assistant to the president": a job by where, or for
    # whom, it is done (not "a language model at a tech company").
    rule(
        "job-at-work",
        "human",
        rf"\b{BE}\s+(?:a|an|the)\s+{_WORK_ADJ}[a-z-]+\s+(?:(?:at|in)\s+(?:a|an|the|my|our)\s+"
        rf"(?:[a-z-]+\s+){{0,3}}?{WORKPLACE}|to\s+(?:the|a|my|our)\s+{SUPERIOR})\b",
    ),
    # Studying, spending hours somewhere, playing a sport or an instrument: a body's life.
    rule(
        "studies",
        "human",
        rf"\b{BE}\s+(?:currently\s+|still\s+|now\s+)?(?:studying(?=\s*[.!,;]|\s*$|\s+(?:for|at|"
        r"in|to\s+be|abroad|hard|law|medicine|nursing|engineering|history|biology|chemistry|"
        r"physics|art|music)\b)|in\s+(?:college|high\s+school|grad\s+school|university|"
        r"my\s+(?:first|second|third|final|last)\s+year)\b)|\bi\s+(?:study|studied)\s+(?:at|in)\s+"
        r"(?:the\s+)?(?:[A-Z]|college|school|university)",
    ),
    rule(
        "spent-time-at",
        "human",
        r"\b(?:i|we)\s+spent\s+(?:a\s+few\s+|a\s+couple\s+of\s+|some\s+|the\s+|an?\s+|two\s+|"
        r"three\s+|several\s+|most\s+of\s+the\s+)?(?:hours?|days?|weekend|morning|afternoon|"
        r"evening|night|week|time)\s+(?:at|in|on|by)\s+(?:the|a|my|our)\b",
    ),
    rule(
        "plays",
        "human",
        rf"\bi\s+(?:play|played|am\s+playing|'m\s+playing)\s+(?:the\s+)?{PLAYED}\b",
    ),
    # "My laptop is on the kitchen table", "my neighbours": weak, deciding only alone.
    rule("belongings", "human", rf"\bmy\s+(?:new\s+|old\s+|little\s+)?{BELONGING}\b", strong=False),
    # Working life ("my team", "my career", "I've worked alongside", "with a client"): weak,
    # since an assistant may speak of its team too; it decides only when nothing else is said.
    rule(
        "work-life",
        "human",
        rf"\b(?:(?:my|our)\s+(?:(?:new|old|first|current|whole|entire|own|previous|last)\s+)?"
        rf"{WORK_LIFE}\b|i(?:'ve|\s+have)\s+(?:been\s+)?(?:doing|done|had|held)\s+(?:this|that|"
        r"the\s+same|my)\s+job\b|i(?:'ve|\s+have)\s+worked\s+(?:alongside|with|for|at)\b|"
        r"(?:with|for)\s+(?:a|my|our)\s+(?:new\s+)?clients?\b)",
        strong=False,
    ),
)
