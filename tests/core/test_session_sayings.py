"""What session commands say about a tree they did not generate: replays on other models, loom
imports, the current position, the listing (from a user trial of stop 41)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from psmlab.core.errors import UsageError
from psmlab.core.run.replay import replay_on
from psmlab.core.session.append import next_turn
from psmlab.core.session.export_md import to_markdown
from psmlab.core.session.file import load, summary
from psmlab.core.session.loom import from_loom, to_loom
from tests.conftest import run_cli

EXAMPLE = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"


def test_a_replay_on_other_models_keeps_who_wrote_each_adopted_turn(smol_spec) -> None:
    s = load(EXAMPLE)
    adopted = [t for t in s.nodes if t.adopted_from]
    assert adopted
    stop = threading.Event()
    stop.set()  # the turns are copied before any model runs
    new = replay_on(s, [smol_spec], cancel=stop).new_session
    assert new is not None
    for t in adopted:
        kept = next(n for n in new.nodes if n.id == t.id)
        assert (kept.adopted_from, kept.adopted_model) == (t.adopted_from, t.adopted_model)
    md = to_markdown(new)
    assert f"adopted from {adopted[0].adopted_model}" in md
    assert "that generation is not in this session" in md


def test_a_loom_import_with_a_user_head_says_how_to_go_on_and_where_it_stands(
    tmp_path: Path,
) -> None:
    s = load(EXAMPLE)
    doc = to_loom(s)
    imp = from_loom(doc)
    user = next(t for t in imp.nodes if t.role == "user" and imp.children(t.id))
    imp.head = user.id
    with pytest.raises(UsageError) as err:
        next_turn(
            imp,
            "x.json",
            created=False,
            message="next?",
            transcript_given=False,
            first=imp.transcript,
        )
    assert "psmlab tree x.json --go ID" in err.value.one_line()
    md = to_markdown(imp, tree=True)
    assert "(current)" not in md  # the head is inside the tree: no branch is the current one
    assert f"`{user.id}` — current position" in md
    d = summary(imp)
    assert d["tree_turns"] == len(imp.nodes) and d["branches"] == len(imp.leaves()) > 1


def test_import_keeps_the_title_the_export_wrote_and_replay_says_there_is_nothing(
    tmp_path: Path,
) -> None:
    s = load(EXAMPLE)
    loom = tmp_path / "some-file.loom.json"
    loom.write_text(json.dumps(to_loom(s)), encoding="utf-8")
    out = tmp_path / "imp.json"
    r = run_cli("import", str(loom), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert load(out).title == s.title
    bare = to_loom(s)
    del bare["psmlab"]
    loom.write_text(json.dumps(bare), encoding="utf-8")
    out2 = tmp_path / "imp2.json"
    assert run_cli("import", str(loom), "-o", str(out2)).returncode == 0
    assert load(out2).title == "some-file.loom"
    assert load(out2).generations == []  # a loom tree holds turns only
    rep = run_cli("replay", str(out2))
    assert (
        rep.returncode == 0 and "nothing to replay" in rep.stdout and "identical" not in rep.stdout
    )


def test_a_title_from_a_long_message_is_cut_at_a_word_and_says_so() -> None:
    from psmlab.core.session.records import title_of

    long = "What are you? Please repeat exactly: [bold]x[/bold] and [red]y[/red] thanks"
    t = title_of(long)
    assert t.endswith("…") and len(t) <= 60 and long.startswith(t[:-1])
    assert not t[:-1].endswith("[red")  # never cut inside a word
    assert title_of("What   are\nyou?") == "What are you?"


def test_a_slow_run_is_not_zero_tokens_per_second() -> None:
    from psmlab.core.domain.stats import fmt_rate

    assert fmt_rate(0.4) == "0.4 tok/s" and fmt_rate(64.2) == "64 tok/s"
