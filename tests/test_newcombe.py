"""Differences between two conditions' shares: Newcombe's hybrid score interval (method 10)."""

from __future__ import annotations

import itertools

import pytest

from psmlab.core.domain.stats import (
    Diff,
    Share,
    differences,
    fmt_diff,
    many_comparisons_note,
    newcombe,
    self_id_shares,
)

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score, no continuity
# correction): (k1, n1, k2, n2) -> (difference, lower, upper), to four decimals.
TABLE_II = [
    ((56, 70, 48, 80), (0.2000, 0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.6000, 0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.5714, 0.0582, 0.8062)),
    ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
    ((0, 10, 0, 20), (0.0000, -0.1611, 0.2775)),
    ((0, 10, 0, 10), (0.0000, -0.2775, 0.2775)),
    ((10, 10, 0, 20), (1.0000, 0.6791, 1.0000)),
    ((10, 10, 0, 10), (1.0000, 0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), TABLE_II)
def test_newcombe_matches_the_published_table(
    counts: tuple[int, int, int, int], expected: tuple[float, float, float]
) -> None:
    got = newcombe(*counts)
    assert got == pytest.approx(expected, abs=6e-5)


@pytest.mark.parametrize(("counts", "_"), TABLE_II)
def test_swapping_the_conditions_negates_and_swaps_the_bounds(
    counts: tuple[int, int, int, int], _: object
) -> None:
    k1, n1, k2, n2 = counts
    d, low, high = newcombe(k1, n1, k2, n2)
    d2, low2, high2 = newcombe(k2, n2, k1, n1)
    assert (d2, low2, high2) == pytest.approx((-d, -high, -low), abs=1e-12)


def test_bounds_stay_within_minus_one_and_one_and_contain_the_difference() -> None:
    for n1, n2 in ((1, 1), (2, 5), (7, 3), (30, 30)):
        for k1, k2 in itertools.product(range(n1 + 1), range(n2 + 1)):
            d, low, high = newcombe(k1, n1, k2, n2)
            assert -1.0 <= low <= d <= high <= 1.0
            assert low < high  # never a zero-width interval, even at 0/n or n/n


def test_a_larger_z_gives_a_wider_interval() -> None:
    _, low95, high95 = newcombe(9, 10, 3, 10)
    _, low99, high99 = newcombe(9, 10, 3, 10, z=2.575829)
    assert low99 < low95 and high99 > high95


@pytest.mark.parametrize("counts", [(0, 0, 1, 2), (1, 2, 0, 0), (3, 2, 1, 2), (-1, 2, 1, 2)])
def test_no_samples_or_impossible_counts_raise(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        newcombe(*counts)


def _conditions(counts: dict[str, list[str | None]]) -> dict[str, list[Share]]:
    return {name: self_id_shares(values) for name, values in counts.items()}


@pytest.mark.parametrize("n_conditions", [1, 2, 3, 4, 5])
def test_differences_gives_every_pair_once(n_conditions: int) -> None:
    conds = _conditions({f"c{i}": ["ai"] * i + ["human"] * 3 for i in range(n_conditions)})
    diffs = differences(conds, "ai")
    assert len(diffs) == n_conditions * (n_conditions - 1) // 2
    assert [(d.a, d.b) for d in diffs] == list(itertools.combinations(conds, 2))
    for d in diffs:
        assert (d.diff, d.low, d.high) == newcombe(d.k1, d.n1, d.k2, d.n2)
        assert d.label == "ai" and d.n1 == int(d.a[1:]) + 3 and d.k1 == int(d.a[1:])


def test_differences_counts_a_missing_label_as_zero_and_skips_empty_conditions() -> None:
    conds = {
        "a": [Share("x", 3, 4)],
        "b": [Share("y", 4, 4)],  # no "x": 0/4
        "empty": [],
        "none": self_id_shares([None, None]),  # no known samples: n 0
    }
    (d,) = differences(conds, "x")
    assert (d.a, d.b, d.k1, d.n1, d.k2, d.n2) == ("a", "b", 3, 4, 0, 4)
    assert d.diff == pytest.approx(0.75)


def test_diff_to_dict_fmt_and_whether_it_excludes_zero() -> None:
    d = Diff("ai", "m1", "m2", 56, 70, 48, 80, *newcombe(56, 70, 48, 80))
    assert d.excludes_zero
    assert fmt_diff(d) == "+0.20 [+0.05, +0.33]"
    assert d.to_dict() == {
        "label": "ai",
        "a": "m1",
        "b": "m2",
        "k_a": 56,
        "n_a": 70,
        "k_b": 48,
        "n_b": 80,
        "diff": 0.2,
        "ci_low": 0.0524,
        "ci_high": 0.3339,
        "excludes_zero": True,
    }
    back = Diff("ai", "m2", "m1", 48, 80, 56, 70, *newcombe(48, 80, 56, 70))
    assert fmt_diff(back) == "-0.20 [-0.33, -0.05]" and back.excludes_zero
    tie = Diff("ai", "m1", "m2", 0, 10, 0, 10, *newcombe(0, 10, 0, 10))
    assert fmt_diff(tie) == "+0.00 [-0.28, +0.28]" and not tie.excludes_zero


def test_many_comparisons_note() -> None:
    assert many_comparisons_note(0) is None and many_comparisons_note(1) is None
    note = many_comparisons_note(6)
    assert note is not None and "\n" not in note
    assert note.startswith("6 comparisons:") and "up to about 26%" in note
    assert "no correction" in note
    assert "up to about 14%" in (many_comparisons_note(3) or "")
    assert "about 5 of them would" in (many_comparisons_note(100) or "")
