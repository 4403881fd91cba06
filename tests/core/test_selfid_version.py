"""The rules' fingerprint follows the rules, not the layout of the modules that hold them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from psmlab.core.domain import selfid, selfid_speaker, selfid_words
from psmlab.core.domain.selfid_version import rules_fingerprint


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    rules_fingerprint.cache_clear()
    yield
    rules_fingerprint.cache_clear()


def test_moving_a_pattern_to_another_module_keeps_the_fingerprint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = rules_fingerprint()
    # _SENTENCE moved from selfid_speaker into selfid (and imported back, as a split leaves it).
    monkeypatch.setattr(selfid, "_SENTENCE", selfid_speaker._SENTENCE, raising=False)
    assert rules_fingerprint() == before
    monkeypatch.delattr(selfid_speaker, "_SENTENCE")
    rules_fingerprint.cache_clear()
    assert rules_fingerprint() == before


def test_changing_a_pattern_or_a_word_changes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rules_fingerprint()
    monkeypatch.setattr(selfid_speaker, "_SENTENCE", re.compile(r"[^.!?\n]+[.!?]*"))
    rules_fingerprint.cache_clear()
    assert rules_fingerprint() != before
    monkeypatch.undo()
    rules_fingerprint.cache_clear()
    assert rules_fingerprint() == before
    monkeypatch.setattr(selfid_words, "NOT_NAMES", frozenset({*selfid_words.NOT_NAMES, "zork"}))
    rules_fingerprint.cache_clear()
    assert rules_fingerprint() != before
