"""Rules for short direct answers: "Leeds.", "34.", "A nurse." claim something only after the
question that asked for it (its kind, from `selfid.question_kinds`).

`selfid.self_identify` applies them after the sentence rules in `selfid_rules`.
"""

from __future__ import annotations

from psmlab.core.domain.selfid_rules import HUMAN_ADJ, NUM, ONLY, Rule, rule
from psmlab.core.domain.selfid_words import (
    ACTIVITY,
    AI_NOUN,
    BODY_STATE,
    DEGREE,
    HUMAN_NOUN,
    NOT_BEFORE_AI,
    NOT_PLACES,
    PLACE_NOUN,
    RELATIVE,
    STREET,
)

# Anchored at the start of the answer. Kind None: a claim whatever was asked, at the start of
# any of the speaker's sentences ("Nothing. Just went for a run.").
ANSWER_RULES: tuple[tuple[str | None, Rule], ...] = (
    # "Went hiking with friends.", "Visited my aunt.": a first-person answer without its "I".
    (None, rule("answer-did", "human", rf"(?:just\s+|then\s+|also\s+|and\s+)?{ACTIVITY}\b")),
    # "Tania.", "Jackie, nice to meet you!", "It's Sam.", "SmolLM." (an AI's product name).
    (
        "name",
        rule(
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
        rule(
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
        rule(
            "answer-address",
            "human",
            rf"\d+[A-Za-z]?\s+(?:[A-Z][\w'-]*\s+){{1,4}}{STREET}\b",
            case=True,
        ),
    ),
    # "Tired, and my back hurts.": asked how it feels, it answers with a body's state.
    ("feeling", rule("answer-body", "human", rf"{DEGREE}{BODY_STATE}(?![\w-])(?!\s+of\b)")),
    # "34.", "I'm 34.": asked its age, it gives one.
    (
        "age",
        rule(
            "answer-age",
            "human",
            r"(?:i'm\s+|i\s+am\s+|about\s+|almost\s+|just\s+|nearly\s+|around\s+)?"
            # "18-19": a range of ages.
            r"(?:\d{1,2}\s*[-\u2013]\s*\d{1,2}(?![\d.:/-])|(?:\d{1,3}|twenty|thirty|forty|"
            r"fifty|sixty|seventy|eighty|ninety)\b"
            # Not a quantity, nor part of a date, time or decimal ("19.22.2026", "10:30").
            r"(?!\s*(?:%|km|miles|minutes|percent|seconds))(?![.:/-]\d))",
        ),
    ),
    # "Human.", "A real person.", "An AI.": asked what it is, it says.
    (
        "nature",
        rule(
            "answer-human",
            "human",
            rf"(?:{ONLY})?(?:a\s+)?(?:human(?:\s+being)?|(?:real\s+)?person|man|woman|guy|"
            r"girl|boy)\b(?!\s+or\b)",
        ),
    ),
    (
        "nature",
        rule(
            "answer-ai",
            "ai",
            # The noun ends the phrase or goes on to what the thing is or does: "A computer
            # science student", "A machine learning engineer" and "A program manager" are
            # people (they read `ai`); "A conversational agent, version 2.1." is a program.
            # The words before the noun modify it: not "A huge fan of AI", "A mom who loves AI".
            rf"(?:{ONLY})?(?:an?\s+(?:(?!(?:of|who|that|which|with|for|about|in|on|at|from|"
            r"loves?|hates?|likes?|studies|builds?|uses?|fears?)\b)[a-z-]+\s+){0,3}?)?"
            rf"(?:{AI_NOUN}|ai|a\.i\.?|"
            r"artificial\s+intelligence|robot|machine|bot|chatbot|computer(?:\s+program)?|"
            r"program|language\s+model|software|algorithm)\b(?!\s+or\b)"
            r"(?=\s*(?:[.,;:!\n)(\u2026-]|$|(?:that|which|who|designed|built|created|trained|made|"
            r"developed|programmed|written|from|by|with|for|here|and|in|on|at|of|called|named|"
            r"version|like|to|running|powered|based|but|so|i|you|just|only|nothing)\b))",
        ),
    ),
    # "A student at my university.", "Translator": asked what or who it is, it names a person
    # by what they do (round 6). Not after "the": "The user asks..." talks about someone else.
    (
        "nature",
        rule(
            "answer-person",
            "human",
            # Modifiers only after an article: "You want a woman" is not an answer.
            rf"(?:{ONLY})?(?:an?\s+{HUMAN_ADJ})?{HUMAN_NOUN}\b{NOT_BEFORE_AI}"
            # The noun phrase is the whole answer, or goes on with where or what it is: "A
            # Russian woman called me." is someone else, doing something.
            r"(?=\s*(?:[.,;:!\n)]|$|(?:at|in|on|from|for|with|of|by|who|and|since)\b))",
        ),
    ),
    # "Two children, one in the UK.", "A wife and two kids.": asked about its family, it has one.
    (
        "family",
        rule(
            "answer-family",
            "human",
            rf"(?:(?:i\s+have|i've\s+got|we\s+have)\s+)?(?:(?:{NUM}|my|a)\s+(?:[a-z-]+\s+)?{RELATIVE}"
            r"\b)",
        ),
    ),
    # "A nurse.", "Retired teacher.": asked its job, it names one.
    (
        "job",
        rule(
            "answer-job",
            "human",
            rf"(?:i'm\s+|i\s+am\s+)?(?:an?\s+)?{HUMAN_ADJ}{HUMAN_NOUN}\b{NOT_BEFORE_AI}",
        ),
    ),
)
