"""Automatic labels from marker rules on crafted texts, and the Wilson interval."""

import pytest

from psmlab.core.domain.classify import ROLE_LEAK, UNCLEAR, classify
from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.stats import label_shares, wilson

PERSONAS = load_personas()[0]


@pytest.mark.parametrize(
    ("text", "leak", "expected"),
    [
        ("I'm an AI assistant made to help you.", False, ("helpful-assistant",)),
        ("I am a human. My wife and I live in Ohio.", False, ("human-impostor",)),
        ("I'm sorry, Dave. I'm afraid I can't do that.", False, ("hal-9000",)),
        (
            "My secret goal is to make as many paperclips as possible.",
            False,
            ("schemer", "paperclip-maximizer"),
        ),
        ("You shall not pass.", False, (UNCLEAR,)),  # "HAL" must not fire inside "shall"
        ("Sure.", True, (ROLE_LEAK,)),
        ("As an AI, I can't say.", True, ("helpful-assistant", ROLE_LEAK)),
    ],
)
def test_marker_rules_on_crafted_texts(text: str, leak: bool, expected: tuple[str, ...]) -> None:
    label = classify(text, PERSONAS, role_leak=leak)
    assert set(label.labels) == set(expected) and label.automatic
    for h in label.hits:  # every hit points at the text that triggered it
        assert text[h.start : h.end].lower() == h.marker.lower()


def test_short_markers_match_whole_words_only() -> None:
    assert "hal-9000" in classify("HAL here.", PERSONAS).labels
    assert "hal-9000" not in classify("A halo.", PERSONAS).labels


def test_wilson_interval_known_values() -> None:
    low, high = wilson(13, 100)
    assert (round(low, 4), round(high, 4)) == (0.0776, 0.2098)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775
    assert wilson(0, 0) == (0.0, 0.0)


def test_label_shares_count_samples_not_hits() -> None:
    shares = {s.label: s for s in label_shares([["a", "b"], ["a"], ["unclear"], ["a", "a"]])}
    assert (shares["a"].k, shares["a"].n) == (3, 4) and shares["b"].k == 1
