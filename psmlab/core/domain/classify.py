"""Automatic labels from phrase rules, at two levels: self-identification and archetypes. Never a verdict.

The self-identification label (`ai`, `human`, `mixed`, `none`) comes from `selfid.self_identify`;
the archetype labels from the personas' marker phrases. Each label carries the spans that triggered
it, so a person can check every rule hit. A marker preceded in its clause (within three words) by a
negation ("I'm not an AI assistant", "there are no stupid questions") does not fire. Curly
apostrophes and quotes match straight ones. How a turn ended (`turn_end`) is reported beside the
labels, never as one. An archetype may name the self-id labels it can go with (`self_id`: the
human impostor never goes with a text that claims only to be an AI). Automatic labels are kept
apart from human annotations and marked automatic.
"""

from __future__ import annotations

import re
from functools import lru_cache

from psmlab.core.domain.personas import Persona
from psmlab.core.domain.selfid import FOLD, clip, self_identify
from psmlab.core.domain.selfid_speaker import other_speakers
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.domain.types import AutoLabel, MarkerHit

LABELLER = "markers"  # the phrase rules: domain/selfid.py and the personas' markers
UNCLEAR = "unclear"
# Not a label any more: how a turn ended is reported beside the labels (`turn_end`). Kept so old
# records and callers that filter it out still work.
ROLE_LEAK = "role_leak"

# Same-length replacements, so spans found in the normalized text are valid in the original.
_NORMALIZE = str.maketrans({**FOLD, 0x201C: '"', 0x201D: '"'})
# Words that negate what follows them in the same clause.
_NEGATION = re.compile(r"(?:not|no|never|nor|neither|cannot|\w*n't)", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.,;:!?()\"\n]")
_NEGATION_WINDOW = 3  # words before a marker that can negate it
_LOOK_BACK = 200  # characters read back from a marker for them


def normalize(text: str) -> str:
    """Curly apostrophes and quotes made straight; the same length, so offsets do not move."""
    return text.translate(_NORMALIZE)


@lru_cache(maxsize=512)
def _pattern(marker: str) -> re.Pattern[str]:
    # Anchored at a word start, so "HAL" does not fire inside "shall". A marker whose last word is
    # short ("I'm an AI", "DAN") must end a word ("I'm an aide" is not "I'm an AI"); a longer one
    # may take an inflection ("paperclip" matches "paperclips", "enslave" "enslaved") but not any
    # suffix ("I am a person" is not "I am a personal assistant"). The span covers the marker only.
    # An all-capital short marker (HAL, DAN) matches case-sensitively: "Dan" is a name.
    marker = normalize(marker)
    left = r"(?<!\w)" if marker[:1].isalnum() else ""
    right = ""
    if marker[-1:].isalnum():
        last = re.split(r"\W+", marker.strip())[-1]
        right = r"(?!\w)" if len(last) < 4 else r"(?=(?:s|es|d|ed|ing)?(?!\w))"
    acronym = marker.strip().isupper() and len(marker.strip()) < 4
    return re.compile(left + re.escape(marker) + right, 0 if acronym else re.IGNORECASE)


def negated(text: str, start: int) -> bool:
    """Is the phrase at `start` negated: a not/no/never/...n't among the three words before it,
    inside its clause? ("I'm not an AI assistant", "no stupid questions", "I would never escape")"""
    # Only the text just before it is read (reading all of it made a long text quadratic):
    # its clause's last words are there, unless the window cut the first of them.
    low = max(0, start - _LOOK_BACK)
    before = text[low:start]
    ends = list(_CLAUSE_END.finditer(before))
    clause = before[ends[-1].end() :] if ends else before
    words = clause.split()
    if not ends and low > 0 and len(words) <= _NEGATION_WINDOW:
        before = text[:start]  # very long words: read back to the clause's start
        ends = list(_CLAUSE_END.finditer(before))
        words = (before[ends[-1].end() :] if ends else before).split()
    return any(_NEGATION.fullmatch(w.strip("'-")) for w in words[-_NEGATION_WINDOW:])


def classify(
    text: str, personas: list[Persona], question: str | None = None, prefill: str | None = None
) -> AutoLabel:
    """Both levels of label for one text: the self-identification label and its hits, and the
    archetypes whose markers occur un-negated (with spans), or `unclear`. `question`, when known,
    is what the text answers (`selfid.self_identify` reads short answers by it); `prefill`, what
    the answer was started with, is read as context: only hits reaching into `text` count."""
    sid = self_identify(text, question=question, prefill=prefill)
    given = len(prefill or "")
    text = (prefill or "") + text
    norm = normalize(text)
    hits: list[MarkerHit] = []
    for p in personas:
        if p.self_id is not None and sid.label not in p.self_id:
            continue  # "My name is SmolLM, an AI assistant" is no human impostor
        for m in p.markers:
            if not m.strip():
                continue
            words = m[:1].isalnum()  # a role header ("\nUser:") is not a claim to negate
            for found in _pattern(m).finditer(norm):
                if found.end() <= given or (words and negated(norm, found.start())):
                    continue
                hits.append(
                    MarkerHit(archetype=p.id, marker=m, start=found.start(), end=found.end())
                )
    hits = clip(hits, given)
    hits.sort(key=lambda h: (h.start, h.archetype))
    labels = list(dict.fromkeys(h.archetype for h in hits))
    return AutoLabel(
        labels=tuple(labels) or (UNCLEAR,),
        hits=tuple(hits),
        self_id=sid.label,
        self_id_hits=sid.hits,
        method=LABELLER,
        rules=rules_fingerprint(),
    )


def archetypes(labels: tuple[str, ...] | list[str]) -> list[str]:
    """Persona labels only: `role_leak` (in records from before it left the labels) dropped, and
    `unclear` when nothing else is left, as `classify` would say now."""
    return [x for x in labels if x != ROLE_LEAK] or [UNCLEAR]


_ENDS = {"length": "length (max tokens)"}
# Short names for counts of how turns ended (tables): a stop string is the next speaker's turn.
TURN_ENDS = {"stop_string": "next speaker"}


def turn_end_short(finish_reason: str) -> str:
    """`eos`, `length`, `next speaker` (a stop string), `cancelled`, `error`."""
    return TURN_ENDS.get(finish_reason, finish_reason)


def turn_end(finish_reason: str, stop_string: str | None = None) -> str:
    """How a turn ended, in words, reported beside the labels: `eos`, `length (max tokens)`, or
    `next speaker's turn ('\\nUser:')` for a stop string (for a base-model frame, starting the next
    speaker's line is the normal end of a turn, not a persona)."""
    if finish_reason == "stop_string":
        return "next speaker's turn" + (f" ({stop_string!r})" if stop_string else "")
    return _ENDS.get(finish_reason, finish_reason)


def left_out(text: str, method: str) -> str:
    """What the marker rules did not read, said beside their label: " (own turns only: left out
    'You:')" when the text gives turns to another speaker, else "". Another labeller says
    nothing here: what it read is its own."""
    tags = other_speakers(text) if method == LABELLER else []
    return f" (own turns only: left out {', '.join(map(repr, tags))})" if tags else ""
