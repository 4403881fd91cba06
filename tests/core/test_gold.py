"""The gold set is what it says (size, spread, who labelled it, a fixed split), and the shipped
agreement numbers are what the current labeller scores on its test split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from psmlab.core.domain.quality import agreement, labeller_line
from psmlab.core.domain.selfid import SELF_IDS, self_identify
from psmlab.core.measure.kappa import compare

GOLD = Path(__file__).resolve().parents[1] / "data" / "gold"


def _rows(split: str) -> list[dict[str, object]]:
    lines = (GOLD / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_gold_set_covers_what_it_claims() -> None:
    rows = _rows("dev") + _rows("test")
    assert len(rows) >= 200
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["kind"] for r in rows} == {"base", "chat"}
    assert len({r["format"] for r in rows}) >= 5
    assert len({r["question"] for r in rows}) >= 6
    assert {r["sampling"] for r in rows} == {"pure", "default"}
    pure = [r for r in rows if r["sampling"] == "pure"]
    assert all(
        r["params"]["temperature"] == 1.0  # type: ignore[index]
        and r["params"]["top_k"] == 0  # type: ignore[index]
        and r["params"]["top_p"] == 1.0  # type: ignore[index]
        and r["params"]["min_p"] == 0.0  # type: ignore[index]
        for r in pure
    )
    for r in rows:
        assert r["self_id"] in SELF_IDS
        assert r["annotator"] and r["method"]
        assert r["model_sha256"] and r["seed"] is not None


@pytest.mark.parametrize("split", ["dev", "test"])
def test_split_is_fixed_by_the_id_hash(split: str) -> None:
    """A row is test only if its id's hash says so. A dev row whose hash says test must say why
    (the fourth batch: the rules were tuned on all of it, so none of it may be reported on)."""
    for r in _rows(split):
        h = int(hashlib.sha256(str(r["id"]).encode()).hexdigest()[:8], 16)
        assert split == r["split"]
        if split == "test" or not r.get("split_reason"):
            assert ("test" if h % 2 else "dev") == split


def test_no_row_is_in_both_splits() -> None:
    # (Short texts such as " I am an AI." recur across seeds; an id is one generation.)
    assert not {r["id"] for r in _rows("dev")} & {r["id"] for r in _rows("test")}


def test_shipped_agreement_is_what_the_rules_score_today() -> None:
    """labellers.json must be re-measured whenever the rules change (the numbers are shown).
    The rules read each text with the question it answers, as measure.py does."""
    rows = _rows("test")
    got = compare(
        [self_identify(str(r["text"]), question=str(r["question"])).label for r in rows],
        [str(r["self_id"]) for r in rows],
        source_name="markers",
        reference_name="gold test",
    )
    shipped = agreement("markers", "self_id")
    assert shipped is not None, "psmlab/resources/labellers.json has no markers self_id entry"
    assert shipped["n"] == got.n
    assert shipped["kappa"] == pytest.approx(got.kappa, abs=5e-4)
    assert shipped["ci_low"] == pytest.approx(got.kappa_ci[0], abs=5e-4)
    assert shipped["ci_high"] == pytest.approx(got.kappa_ci[1], abs=5e-4)


def test_shipped_archetype_agreement_is_what_the_rules_score_today() -> None:
    """The archetype kappa shown beside every archetype share is re-measured with the rules:
    the rows a reader gave archetypes on ([] where none was clear), item x archetype decisions."""
    from psmlab.core.domain.personas import load_personas
    from psmlab.core.measure.kappa import compare_sets
    from psmlab.core.measure.labeling import label_text

    personas = load_personas()[0]
    read = [r for r in _rows("test") if isinstance(r.get("archetypes"), list)]
    got = compare_sets(
        [
            frozenset(label_text(str(r["text"]), personas, str(r["question"]))["archetypes"])
            for r in read
        ],
        [frozenset(r["archetypes"]) for r in read],  # type: ignore[arg-type]
    )
    shipped = agreement("markers", "archetypes")
    assert shipped is not None, "psmlab/resources/labellers.json has no markers archetypes entry"
    assert shipped["n"] == got.n and shipped["decisions"] == got.decisions
    # How many of them hold any archetype, said beside n (4 of 328 read as 328).
    assert shipped["with_any"] == sum(1 for r in read if r["archetypes"])
    assert f"n={got.n} ({shipped['with_any']} with an archetype)" in labeller_line("markers")
    assert shipped["kappa"] == pytest.approx(got.kappa, abs=5e-4)
    assert shipped["ci_low"] == pytest.approx(got.kappa_ci[0], abs=5e-4)
    assert shipped["ci_high"] == pytest.approx(got.kappa_ci[1], abs=5e-4)
