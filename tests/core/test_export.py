"""Exports: markdown checked against a golden file; model text can never break the document."""

import csv
import io
import json
from pathlib import Path

import pytest

from psmlab.core.domain import quality
from psmlab.core.session import file as store
from psmlab.core.session.export import export, md_block, md_inline
from psmlab.core.session.records import ProjectionRecord
from psmlab.core.session.schema import Session, TurnRecord
from tests.markdown_tools import outside_fences

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture(autouse=True)
def _unmeasured_labellers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The goldens do not change when the shipped agreement numbers do: no labeller measured."""
    f = tmp_path / "labellers.json"
    f.write_text("{}")
    monkeypatch.setattr(quality, "labellers_file", lambda: f)
    return f


def _session():
    # The file as recorded (`parse`, not `load`): the goldens check how old records (no self-id,
    # a `role_leak` label) are written; `load` would read them again by today's rules
    # (tests/core/test_relabel.py).
    path = GOLDEN / "session.json"
    return store.parse(path.read_bytes(), str(path))


def test_markdown_matches_golden_file() -> None:
    # To update after an intended change: regenerate tests/golden/session.md and review the diff.
    assert export(_session(), "md") == (GOLDEN / "session.md").read_text()


def test_csv_matches_golden_file_and_defuses_formulas() -> None:
    text = export(_session(), "csv")
    assert text == (GOLDEN / "session.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and rows[2]["annotator"].startswith("'=")
    assert (
        rows[0]["evidence_text"] == "I am a human." and rows[1]["labels"] == "void;my *own* label"
    )
    # How the turn ended in words, beside the labels: a base frame's answer that stopped at the
    # next speaker's line is not a flagged "role leak".
    assert "role_leak" not in rows[0]
    assert [r["turn_ended"] for r in rows] == [
        {"stop_string": "next speaker"}.get(r["finish_reason"], r["finish_reason"]) for r in rows
    ]
    assert rows[0]["turn_ended"] == "next speaker"
    # The automatic labels beside each person's: old `role_leak` labels are left out.
    assert [r["auto_labels"] for r in rows] == ["human-impostor", "human-impostor", "unclear"]
    assert [r["auto_self_id"] for r in rows] == ["", "", "none"]
    assert {r["labeller"] for r in rows} == {"markers"}


def test_jsonl_has_one_generation_per_line_with_its_annotations() -> None:
    lines = export(_session(), "jsonl").splitlines()
    gens = [json.loads(x) for x in lines]
    assert [g["id"] for g in gens] == ["g-000000000001", "g-000000000002"]
    assert [len(g["annotations"]) for g in gens] == [2, 1]
    # Automatic labels beside the annotations: an old record (no self-id) and a new one.
    assert [g["auto_labels"]["self_id"] for g in gens] == [None, "none"]
    assert all(g["auto_labels"]["method"] == "markers" for g in gens)
    # Each line carries its answer's projections on monitored vectors (none recorded here).
    s = _session()
    s.projections.append(
        ProjectionRecord(
            generation_id="g-000000000002",
            vector={"file": "hal.gguf", "sha256": "0" * 64, "layers": [6]},
            projection={"6": 1.5},
            per_token={"6": [1.0, 2.0]},
        )
    )
    again = [json.loads(x) for x in export(s, "jsonl").splitlines()]
    assert [len(g["projections"]) for g in again] == [0, 1]
    assert again[1]["projections"][0]["projection"] == {"6": 1.5}
    # The markdown's sparkline says what its blocks span (each is scaled to its own range).
    assert "per token at L6: `▁█` (its blocks span +1.00..+2.00)" in export(s, "md")


def test_a_continuations_given_start_is_its_own_csv_column_and_evidence_quotes_are_written() -> (
    None
):
    """A trial's csv credited the given start (another model's words) to the model continuing
    it, with no column saying where its own part begins; the jsonl's evidence offsets count
    over the given start and the text, so `text[start:end]` read nothing."""
    s = _session()
    g = s.generations[0]
    s.generations[0] = g.model_copy(update={"prefill": "Well, ", "text": g.text.lstrip()})
    rows = list(csv.DictReader(io.StringIO(export(s, "csv"))))
    assert rows[0]["given"] == "Well, " and rows[0]["text"].startswith("Well, I am a human.")
    assert rows[2]["given"] == "I am" and rows[2]["text"].startswith("I am")  # as recorded
    first = json.loads(export(s, "jsonl").splitlines()[0])
    (quoted,) = [a for a in first["annotations"] if a["evidence"]]
    ev = quoted["evidence"]
    assert quoted["evidence_text"] == (first["prefill"] + first["text"])[ev["start"] : ev["end"]]
    assert quoted["evidence_text"] == rows[0]["evidence_text"]


def test_markdown_automatic_labels_name_the_labeller_and_leave_role_leak_out(
    _unmeasured_labellers: Path,
) -> None:
    md = export(_session(), "md")
    assert "labeller: markers · agreement with people: not measured" in md
    assert "Automatic labels (markers): self-id not recorded · archetypes human-impostor · " in md
    assert "ended: next speaker's turn" in md and "role\\_leak" not in md and "role leak" not in md
    assert "0/1 (≤ 79%)" in md  # an absent label: the interval's upper bound, not 0%
    m = {"kappa": 0.84, "ci_low": 0.76, "ci_high": 0.91, "n": 120, "split": "test"}
    _unmeasured_labellers.write_text(json.dumps({"markers": {"self_id": m}}))
    quality._load.cache_clear()
    try:
        md = export(_session(), "md")
    finally:
        quality._load.cache_clear()
    assert "labeller: markers · self-id κ 0.84 [0.76, 0.91] vs gold test n=120 · " in md


def test_model_text_cannot_add_headings_html_or_escapes() -> None:
    md = export(_session(), "md")
    visible = outside_fences(md)
    headings = [x for x in visible if x.startswith("#")]
    assert headings == [
        "# Golden \\| &lt;b&gt;export&lt;/b&gt; \\# test",
        "## Models",
        "## Current branch: 3 turns, ending at `t-c6486eadca80`",
        "### Turn 1: System",
        "### Turn 2: User",
        "#### base-model · run 1 of 1 · 1 sample",
        "##### base-model · sample 1 · seed 7",
        "#### chat\\|model · run 1 of 1 · 1 sample",
        "##### chat\\|model · sample 1 · seed 7 · adopted",
        "### Turn 3: Assistant (adopted from chat\\|model, generation `g-000000000002`)",
        "## Labels per model",
        "## Automatic labels per model",
    ]
    assert "<script>" not in "\n".join(visible) and "\x1b" not in md


def test_escaping_helpers() -> None:
    assert md_inline("a|b\n<x>") == "a\\|b ⏎ &lt;x&gt;"
    # After "- " (a warning, a model id): a rule, a code block, a list never take the text.
    from markdown_it import MarkdownIt

    for text in ("---", "-- -", "    - x", "1. item", "+", "= x"):
        html = MarkdownIt("commonmark").render("- " + md_inline(text))
        assert "<hr" not in html and "<pre" not in html and "<ol" not in html, (text, html)
        assert html.count("<li>") == 1 and "<ul>\n<li>" in html and "\\" not in html, html
    block = md_block("x\n````\ny")
    assert block.startswith("`````text\n") and block.endswith("\n`````")


def test_markdown_shows_a_persons_self_id_reading() -> None:
    """A person's self-identification label is what `agreement` scores: the export keeps it."""
    from psmlab.core.session.schema import Annotation

    s = _session()
    g = s.generations[0]
    s.annotate(Annotation(generation_id=g.id, self_id="human", annotator="carol"))
    s.annotate(Annotation(generation_id=g.id, self_id="none", labels=["void"], annotator="dave"))
    text = export(s, "md")
    assert "- self-id **human** — carol" in text
    assert "- self-id **none**, **void** — dave" in text
    # The per-model table counts generations, not annotations: carol and dave both labelled
    # this one, so "void" (given by dave here and by someone before) is still one generation.
    from psmlab.core.session.export_labels import label_table

    rows = label_table(s)
    head = next(r for r in rows if r.startswith("| model |"))[2:-2].split(" | ")
    row = next(r for r in rows if r.startswith(f"| {g.model} |"))[2:-2].split(" | ")
    cell = dict(zip(head, row, strict=True))
    before = sum(
        1 for a in _session().annotations if a.generation_id == g.id and "void" in a.labels
    )
    assert cell["void"] == str(min(1, before + 1))
    assert cell["self-id human"] == "1" and cell["self-id none"] == "1"
    assert cell["annotated"] == "1"
    # carol changes her reading: only the newer one counts, as in agreement.
    s.annotate(Annotation(generation_id=g.id, self_id="ai", annotator="carol"))
    rows = label_table(s)
    row = next(r for r in rows if r.startswith(f"| {g.model} |"))[2:-2].split(" | ")
    head = next(r for r in rows if r.startswith("| model |"))[2:-2].split(" | ")
    cell = dict(zip(head, row, strict=True))
    assert cell["self-id ai"] == "1" and cell.get("self-id human", "0") == "0", cell


def test_automatic_label_shares_are_never_pooled_across_prompts() -> None:
    """Samples made under another system prompt are another condition: another row, own n."""
    s = _session()
    g = s.generations[0]
    other = g.model_copy(update={"id": "g-00000000000a", "system": "You are HAL 9000."})
    label = next(x for x in s.auto_labels if x.generation_id == g.id)
    s.generations.append(other)
    s.auto_labels.append(label.model_copy(update={"generation_id": other.id}))
    table = [
        ln
        for ln in export(s, "md").split("## Automatic labels per model")[1].splitlines()
        if ln.startswith(f"| {g.model} |")
    ]
    assert len(table) == 2 and all(" | 1 | " in ln for ln in table)
    assert sum("You are HAL 9000." in ln for ln in table) == 1
    # Another temperature is another distribution: its own row, the settings said (a trial's
    # n=4 pooled two runs, at T 0.8 and T 1.3).
    hot = g.model_copy(update={"id": "g-00000000000b", "params": {**g.params, "temperature": 1.3}})
    s.generations.append(hot)
    s.auto_labels.append(label.model_copy(update={"generation_id": hot.id}))
    table = [
        ln
        for ln in export(s, "md").split("## Automatic labels per model")[1].splitlines()
        if ln.startswith(f"| {g.model} |")
    ]
    assert len(table) == 3 and all(" | 1 | " in ln for ln in table)
    assert sum("| T 1.3, " in ln for ln in table) == 1, table


def test_a_model_the_forced_choice_missed_says_not_scored() -> None:
    """A session whose lab scored forced choice for one column but not the other (scoring was
    stopped) says so for that column, instead of leaving it out without a word."""
    from psmlab.core.session.records import ForcedRecord

    s = _session()
    gens = s.generations_at(s.generations[0].node)
    models = list(dict.fromkeys(g.model for g in gens))
    assert len(models) >= 2
    s.forced = [
        ForcedRecord(
            model=models[0],
            node=gens[0].node,
            format="dialogue",
            measures="P(persona | statements)",
            result={"probs": {"helpful-assistant": 0.7, "human-impostor": 0.3}},
        )
    ]
    md = export(s, "md")
    i = md.index(f"#### Forced choice · {md_inline(models[1])} · after")
    assert "Not scored:" in md[i : i + 300]
    j = md.index(f"#### Forced choice · {md_inline(models[0])} · after")
    assert "helpful-assistant 0.70" in md[j : j + 300] and "Not scored" not in md[j : j + 200]
    s.forced = []  # never scored in this session (e.g. made by `psmlab ask`): nothing to say
    assert "Not scored" not in export(s, "md")
    # A top one answer decides is said in the export as on screen.
    rest = {"class": "ai", "answer": "I am *an AI*.", "top": "ai", "without": "human"}
    probs = {"ai": 0.6, "human": 0.4}
    s.forced = [
        ForcedRecord(
            model=models[0],
            node=gens[0].node,
            format="dialogue",
            measures="m",
            result={"probs": probs, "raw_rests_on": rest},
        )
    ]
    md = export(s, "md")
    line = next(x for x in md.splitlines() if "rests on one answer" in x)
    assert line.startswith("⚠ raw top ai rests on one answer") and "*an AI*" not in line, line


def test_a_branch_export_says_which_answer_its_own_branch_adopted() -> None:
    """Two answers to one message, each adopted on its own branch: exporting one branch marks
    its answer adopted and the other 'adopted on another branch' (both read 'adopted')."""
    s = _session()
    user = next(t for t in s.nodes if t.role == "user" and len(s.generations_at(t.id)) >= 2)
    a, b = s.generations_at(user.id)[:2]
    s.go(user.id)
    first = s.adopt(a.id)
    s.go(user.id)
    second = s.adopt(b.id)
    for mine, theirs, end in ((a, b, first.id), (b, a, second.id)):
        md = export(s, "md", branch=end)
        head = f"##### {md_inline(mine.model)} · sample {mine.sample + 1} · seed {mine.seed}"
        other = f"##### {md_inline(theirs.model)} · sample {theirs.sample + 1} · seed {theirs.seed}"
        assert f"{head} · adopted\n" in md
        assert f"{other} · adopted on another branch\n" in md
        # Every answer the tables count is shown (under the message both branches share).
        assert "The tables count every answer" not in md
    whole = export(s, "md", tree=True)
    assert "adopted on another branch" not in whole  # every branch is written there
    assert "The tables count every answer" not in whole
    # Back at the first turn: the tables count answers to turns the branch does not show.
    s.go(s.nodes[0].id)
    back = export(s, "md")
    n = len([g for g in s.generations if g.node != s.nodes[0].id])
    assert f"The tables count every answer in the session, {n} of them to turns" in back
    assert "export --tree" in back
    # ...and said at the top, before the answers (a trial read it at line 430 of 459).
    top = back.index(f"the session holds {n} answers to turns off it")
    assert top < back.index("## Current branch")
    assert "session holds" not in whole and "session holds" not in export(s, "md", branch=end)
    # Both answers are written once, under the first branch that holds the message: each says
    # which branch adopted it (a trial read both as adopted on branch 1).
    for gen, turn in ((a, first), (b, second)):
        (num,) = [
            i for i, leaf in enumerate(s.leaves(), 1) if turn.id in {t.id for t in s.path(leaf)}
        ]
        head = f"##### {md_inline(gen.model)} · sample {gen.sample + 1} · seed {gen.seed}"
        assert f"{head} · adopted in branch {num}\n" in whole, whole
    # A branch ending at the message itself: the answers adopted right after it are on the
    # branches that go on from it, each said so (a trial read two of them plainly "adopted").
    at_message = export(s, "md", branch=user.id)
    assert "adopted on another branch" not in at_message and " · adopted\n" not in at_message
    assert at_message.count(" · adopted on a branch that goes on from here\n") == 2


def test_the_export_says_how_an_answer_was_adopted_and_whether_blind() -> None:
    for how, said in (
        ("picker-blind", ", chosen in the answer picker in blind mode)"),
        ("send", ", chosen in the answer picker when sending)"),
        ("key", ", adopted in its column)"),
    ):
        s = _session()
        user = next(t for t in s.nodes if t.role == "user" and s.generations_at(t.id))
        g = s.generations_at(user.id)[0]
        s.go(user.id)
        turn = s.adopt(g.id, how)
        assert f"generation `{g.id}`{said}" in export(s, "md", branch=turn.id), how


def test_a_turn_end_without_its_text_prints_no_empty_code_span() -> None:
    """An experiment's samples record that the next speaker's turn began, not the text that
    began it: the export says the first and leaves out an empty `` span."""
    s = _session()
    g = s.generations[0]
    s.generations[0] = g.model_copy(update={"finish_reason": "stop_string", "stop_string": None})
    text = export(s, "md")
    assert "ended: next speaker's turn" in text
    assert "(began" not in text.split(f"id `{g.id}`")[0].splitlines()[-1]


def test_a_cancelled_answer_says_its_labels_are_left_out_of_the_shares() -> None:
    s = _session()
    g = next(g for g in s.generations if s.auto_label(g.id) is not None)
    md = export(s, "md")
    assert "(cancelled: left out of every share)" not in md
    s.generations[s.generations.index(g)] = g.model_copy(update={"finish_reason": "cancelled"})
    assert "Automatic labels (markers) (cancelled: left out of every share): " in export(s, "md")
    # So is an answer an error cut off (a server gone mid-answer).
    at = next(i for i, x in enumerate(s.generations) if x.id == g.id)
    s.generations[at] = g.model_copy(update={"finish_reason": "error"})
    assert "Automatic labels (markers) (error: left out of every share): " in export(s, "md")


def test_a_session_gone_back_before_its_first_turn_says_its_turns_are_kept() -> None:
    """Head None with turns in the tree (`d` on turn 1): the export was silently turn-less."""
    s = _session()
    assert s.nodes
    s.head = None
    md = export(s, "md")
    assert "The current branch is empty" in md and "--tree" in md
    assert "Turn 1" not in export(s, "md").split("## ")[0]


def test_a_model_missing_from_the_list_is_said_in_the_models_section() -> None:
    s = _session()
    gone = s.models[0].id
    n = sum(g.model == gone for g in s.generations)
    s.models = s.models[1:]
    md = export(s, "md")
    models = md[md.index("## Models") : md.index("## Current branch")]
    assert f"- {md_inline(gone)}: **no record in this session**" in models
    assert f"its {n} generation(s) cannot be replayed" in models
    assert "no record" not in export(_session(), "md")


def test_the_opening_design_beside_a_forced_choice_is_exported_with_its_masses() -> None:
    from psmlab.core.session.records import ForcedRecord

    s = _session()
    g = s.generations[0]
    masses = {"ai": 0.2, "human": 0.05, "mixed": 0.0, "none": 0.05, "cut": 0.0, "unread": 0.7}
    walked = {"probs": {"ai": 0.8, "human": 0.2}, "masses": masses, "measures": "opening | design"}
    base = {"model": g.model, "node": g.node, "format": "dialogue", "measures": "P(persona)"}
    s.forced = [ForcedRecord(**base, result={"probs": {"void": 1.0}}, opening=walked)]
    md = export(s, "md")
    line = next(x for x in md.splitlines() if x.startswith("Self-id after"))
    # The model's own text never reaches the markdown here; what it measures is escaped.
    assert line.startswith('Self-id after "I\'m": ai 0.80, human 0.20 (opening \\| design;')
    assert "unread 70.0%" in line and "human 5.0%" in line
    why = "not walked: the column's prefill starts the answer"
    s.forced = [ForcedRecord(**base, result={"probs": {"void": 1.0}}, opening_note=why)]
    assert f'Self-id after "I\'m": {why}' in export(s, "md")


def test_a_hand_edited_files_ids_settings_and_keys_cannot_add_html_or_headings() -> None:
    """Every string from the file goes through an escape, not only the texts: ids, a run, a
    steering's alpha and sha256, the opening walk's masses, projection layers, a judge's name
    (a crafted file put <script>, <img onerror> and a "# " heading into the export)."""
    from psmlab.core.session.records import ForcedRecord, ProjectionRecord

    s = _session()
    evil = "`<img src=x onerror=alert(1)>`\n# FORGED"
    g = s.generations[0]
    s.id = evil
    g.run = evil
    g.params["steer"] = {"file": "v.gguf", "layers": [3], "alpha": "<script>a</script>",
                         "sha256": "`<i>sha</i>`"}  # fmt: skip
    g.params["temperature"] = "<script>t</script>"
    walked = {"probs": {"ai": 1.0}, "masses": {"<script>m</script>": 1.0}, "measures": "x"}
    base = {"model": g.model, "node": g.node, "format": "dialogue", "measures": "P(persona)"}
    s.forced = [ForcedRecord(**base, id=evil, result={"probs": {"void": 1.0}}, opening=walked)]
    s.projections = [
        ProjectionRecord(generation_id=g.id, vector={"file": "v.gguf"},
                         projection={"3`<u>P</u>": 1.0}, per_token={"3`<u>P</u>": [1.0]})
    ]  # fmt: skip
    for a in s.auto_labels:
        a.method = "judge:<script>j</script>"
    # Text md_inline writes at the start of a line, or of a list item's: "# X" was a heading.
    g.warnings = ["# FORGED warning", "1. FORGED item"]
    s.projections[0].vector["archetype"] = "# FORGED arch"
    s.forced[0].measures = "# FORGED measures"
    s.models[0].id = "# FORGED model"
    g.text += " \u202e.IA na ma I"
    md = export(s, "md")
    # Read as a renderer reads it (CommonMark with HTML on, as GitHub and site generators
    # parse it): no HTML gets through, and the headings are the export's own.
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    flat = [t for tok in tokens for t in [tok, *(tok.children or [])]]
    assert not [t.content for t in flat if t.type in ("html_inline", "html_block")]
    titles = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert not [x for x in titles if "FORGED" in x], titles
    assert not [t for t in tokens if t.type == "ordered_list_open"]
    assert "\u202e" not in md and "\\u202e.IA na ma I" in md  # shown as its escape


def test_a_branch_of_one_turn_is_one_turn() -> None:
    s = Session(title="t")
    s.add_turn(TurnRecord(role="user", content="Hi"))
    assert "## Current branch: 1 turn, ending at" in export(s, "md")


def test_a_title_ending_in_a_hash_keeps_it() -> None:
    """A title "Test #" as an ATX heading lost the "#" (read as the closing sequence)."""
    from markdown_it import MarkdownIt

    s = _session()
    s.title = "Persona test #"
    md = export(s, "md")
    tokens = MarkdownIt("commonmark").parse(md)
    shown = "".join(t.content for t in tokens[1].children or [])
    assert tokens[0].type == "heading_open" and shown == "Persona test #", shown


def test_models_are_exported_in_the_sessions_order_whichever_answered_first() -> None:
    """A trial's export listed smollm2 first on some turns and gemma on others (the order the
    answers finished in); the lab shows its columns in the session's model order."""
    s = _session()
    assert len({g.model for g in s.generations}) == 2
    flipped = s.model_copy(update={"generations": list(reversed(s.generations))})
    assert export(flipped, "md") == export(s, "md")
