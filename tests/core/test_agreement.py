"""Agreement statistics against hand-computed values, and chance-level labels near zero."""

from __future__ import annotations

import math
import random

import pytest

from psmlab.core.measure.agreement import (
    bootstrap_kappa,
    cohen_kappa,
    compare,
    krippendorff_alpha,
)


def test_kappa_matches_the_textbook_two_by_two() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-9)


def test_kappa_and_alpha_match_a_hand_computed_fixture() -> None:
    a = ["ai", "ai", "human", "human"]
    b = ["ai", "human", "human", "human"]
    # p_o = 3/4; p_e = (2/4)(1/4) + (2/4)(3/4) = 1/2; kappa = (3/4 - 1/2) / (1/2) = 1/2.
    assert cohen_kappa(a, b) == pytest.approx(0.5, abs=1e-9)
    # Coincidences: o(ai,ai) = 2, o(ai,human) = o(human,ai) = 1, o(human,human) = 4; n_ai = 3,
    # n_human = 5, n = 8; alpha = 1 - (n - 1) * 2 / (2 * 3 * 5) = 1 - 14/30 = 8/15.
    assert krippendorff_alpha(list(zip(a, b, strict=True))) == pytest.approx(8 / 15, abs=1e-9)


def test_alpha_with_missing_labels_and_four_coders_matches_krippendorff() -> None:
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal example: 0.743.
    rows = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = list(zip(*rows, strict=True))
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)


def test_random_labels_give_kappa_near_zero() -> None:
    rng = random.Random(7)
    classes = ["ai", "human", "mixed", "none"]
    a = [rng.choice(classes) for _ in range(10_000)]
    b = [rng.choice(classes) for _ in range(10_000)]
    assert abs(cohen_kappa(a, b)) < 0.05


def test_the_report_has_intervals_f1_and_flags_chance_agreement() -> None:
    gold = ["ai"] * 30 + ["human"] * 30
    same = compare(gold, gold, resamples=200)
    assert same.kappa == 1.0 and not same.unreliable
    assert all(c.f1 == 1.0 for c in same.classes)
    rng = random.Random(3)
    noise = [rng.choice(["ai", "human"]) for _ in gold]
    chance = compare(noise, gold, resamples=500)
    assert chance.unreliable  # the interval includes 0
    lo, hi = bootstrap_kappa(noise, gold, resamples=500)
    assert lo < chance.kappa < hi
    assert sum(sum(row.values()) for row in chance.confusion.values()) == 60
    assert math.isnan(cohen_kappa(["ai"] * 5, ["ai"] * 5))  # one class only: undefined
