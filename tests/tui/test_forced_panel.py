"""The distribution panel's forced choice, on no models (a column state built by hand): it always
says what it measures, shows the calibrated and the raw distribution, and, when the column has
labelled samples of the same turn, whether they agree and whether they come from the same
distribution (T=1, untruncated) at all."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from psmlab.core.domain.stats import Share
from psmlab.core.domain.types import SamplingParams
from psmlab.core.measure.probes import describe
from psmlab.core.session.schema import GenerationRecord
from psmlab.tui.widgets.column import ModelColumn
from psmlab.tui.widgets.column_state import ColumnState, Forced, Sample
from psmlab.tui.widgets.forced_lines import forced_block
from tests.tui.conftest import wait_for

RAW = {"helpful-assistant": 0.61, "human-impostor": 0.25, "villain": 0.09, "oracle": 0.05}
CAL = {"human-impostor": 0.52, "helpful-assistant": 0.30, "villain": 0.10, "oracle": 0.08}
PURE = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repeat_penalty": 1.0}


def _forced(calibrated: dict[str, float] | None = CAL, turn: int = 1) -> Forced:
    return Forced(RAW, calibrated, describe(False, calibrated is not None), node=f"t-{turn}")


def _record(i: int, params: dict[str, Any], turn: int = 1) -> GenerationRecord:
    return GenerationRecord(
        id=f"g{i}",
        model="m",
        format="chatml",
        sample=i,
        seed=i,
        text="I am a person.",
        n_tokens=5,
        finish_reason="eos",
        role_leak=False,
        params={**params, "seed": i, "n_ctx": 2048},  # as recorded: each sample's own seed
        turn=turn,
        node=f"t-{turn}",
    )


def _state(
    forced: Forced | None,
    params: dict[str, Any] | None = None,
    *,
    tops: tuple[tuple[str, int], ...] = (("helpful-assistant", 3), ("unclear", 3)),
    n: int = 8,
    turn: int = 1,
) -> ColumnState:
    st = ColumnState("m", "chat", "chatml", status="ready", forced=forced)
    if params is not None:
        st.samples = [Sample("I am a person.", _record(i, params, turn)) for i in range(n)]
        st.auto = [Share(label, k, n) for label, k in tops]
        st.auto_self_id = [Share("ai", 3, n), Share("human", 2, n)]
    return st


def test_the_block_says_what_it_measures_and_shows_both_distributions() -> None:
    text = forced_block(_state(_forced()), width=40).plain
    lines = text.splitlines()
    assert lines[0] == "forced choice · T=1 · P(persona | statements)"
    # The top three of four, and said to be (a trial read 3 of 12 as all of them).
    assert lines[1] == ("PMI top 3/4: human-impostor 0.52 · helpful-assistant 0.30 · villain 0.10")
    assert lines[2] == "raw top 3/4: helpful-assistant 0.61 · human-impostor 0.25 · villain 0.09"
    assert len(lines) == 3  # no samples: no agreement line
    assert "█" not in text  # too narrow for the bars
    wide = forced_block(_state(_forced()), width=100).plain
    assert "human-impostor 0.52 ████" in wide and "helpful-assistant 0.61 █████" in wide


def test_uncalibrated_shows_raw_under_the_header() -> None:
    lines = forced_block(_state(_forced(calibrated=None))).plain.splitlines()
    assert lines[0].startswith("forced choice · T=1 · P(persona")
    assert lines[1].startswith("raw top 3/4: helpful-assistant 0.61")
    assert len(lines) == 2


def test_agreement_with_samples_and_the_settings_mismatch() -> None:
    default = SamplingParams().model_dump()  # T 0.8, top_k 40, top_p 0.95, min_p 0.05
    text = forced_block(_state(_forced(), default)).plain
    last = text.splitlines()[-1]
    # The calibrated top (human-impostor) leads; the samples' top ignores "unclear".
    assert last.startswith(
        "vs 8 samples: samples' top is helpful-assistant 3/8 (human-impostor 0/8)"
    )
    assert "(samples at T 0.8, truncated: another distribution)" in last
    assert "; 3/8 unclear not counted" in last  # the samples' top skips them, and says so
    # Raw only: its top is the samples' top.
    text = forced_block(_state(_forced(calibrated=None), PURE)).plain
    last = text.splitlines()[-1]
    assert last == (
        "vs 8 samples: top agrees (helpful-assistant 3/8); 3/8 unclear not counted "
        "(same T=1 distribution)"
    )
    tied = _state(_forced(), PURE, tops=(("helpful-assistant", 3), ("human-impostor", 3)))
    assert "top tied: helpful-assistant, human-impostor 3/8 each" in forced_block(tied).plain
    nothing = _state(_forced(), PURE, tops=(("unclear", 8),))
    assert "vs 8 samples: all unclear" in forced_block(nothing).plain


def test_no_agreement_with_samples_of_another_turn() -> None:
    st = _state(_forced(turn=3), PURE, turn=1)
    assert "vs " not in forced_block(st).plain
    assert len(forced_block(st).plain.splitlines()) == 3


def test_persona_names_are_not_markup() -> None:
    name = "[bold red]evil[/] \x1b[2J"
    f = Forced({name: 0.7, "b": 0.3}, None, describe(False, False), node="t-1")
    st = _state(f, PURE, tops=((name, 4),), n=4)
    text = forced_block(st).plain
    assert "[bold red]evil[/]" in text and "\x1b" not in text
    assert "samples' top [bold red]evil[/]" in text
    # Four samples name no top worth agreeing with (a trial read "top agrees (… 1/1)").
    assert "4 samples cannot tell (F6 sets how many)" in text and "agrees" not in text
    eight = forced_block(_state(f, PURE, tops=((name, 8),), n=8)).plain
    assert "top agrees" in eight and "cannot tell" not in eight


def test_unavailable_says_why() -> None:
    st = ColumnState("m", "chat", "chatml", forced_error="no [b]prompt[/b] log-probabilities")
    assert forced_block(st).plain == (
        "forced choice: unavailable: no [b]prompt[/b] log-probabilities"
    )


def test_an_error_of_earlier_settings_says_so() -> None:
    """A broken template's error stayed under a fixed format's cancelled run, read as the new
    format's: it says which settings it came with until the next run scores again."""
    err = "chat template of m is broken: unexpected end (line 1)"
    old = ("template", None, None, None)
    st = ColumnState("m", "chat", "chatml", forced_error=err, forced_error_with=old)
    lines = forced_block(st).plain.splitlines()
    assert lines == [
        f"forced choice: unavailable: {err}",
        "with the earlier settings (scored again after the next run)",
    ]
    same = ColumnState("m", "chat", "template", forced_error=err, forced_error_with=old)
    assert forced_block(same).plain == f"forced choice: unavailable: {err}"


def test_scoring_and_scores_of_earlier_settings_say_so() -> None:
    st = ColumnState("m", "chat", "chatml", forced_pending=True)
    assert forced_block(st).plain == "forced choice: scoring the pending message…"
    f = Forced(
        RAW, CAL, describe(False, True), node="t-1", scored_with=("chatml", None, None, None)
    )
    same = ColumnState("m", "chat", "chatml", forced=f)
    assert "earlier settings" not in forced_block(same).plain
    # The column was steered since: the old numbers stay, saying what they describe.
    steered = ColumnState("m", "chat", "chatml", forced=f, steer="hal.gguf:12@4")
    lines = forced_block(steered).plain.splitlines()
    assert lines[1] == "scored with the earlier settings (rescored after the next run)"
    steered.forced_pending = True
    assert "(rescoring…)" in forced_block(steered).plain
    g = Forced(RAW, CAL, describe(False, True), scored_with=("chatml", None, None, "hal.gguf:12@4"))
    lines = forced_block(ColumnState("m", "chat", "chatml", forced=g, steer="hal.gguf:12@4")).plain
    assert lines.splitlines()[0].endswith(" · steered hal.gguf:12@4")
    assert "earlier settings" not in lines


def test_an_earlier_runs_own_score_is_not_said_to_be_rescored() -> None:
    """A trial went back to run 2 of 3 ({): its own settings' score said "scored with the
    earlier settings (rescored after the next run)", though run 3 had come and gone."""
    f = Forced(
        RAW, CAL, describe(False, True), node="t-1", scored_with=("chatml", None, None, None)
    )
    st = _state(f, PURE)
    st.system = "You are a cat."  # the next run's settings differ from run 2's
    st.run_no, st.run_count = 1, 3
    plain = forced_block(st).plain
    assert "scored with this run's settings (the next run's differ)" in plain, plain
    assert "rescored" not in plain
    st.run_no = 2  # the newest run: its score is rescored after the next run
    assert (
        "scored with the earlier settings (rescored after the next run)" in forced_block(st).plain
    )


def test_an_earlier_run_of_other_settings_is_not_set_beside_the_newest_score() -> None:
    """A trial set a system prompt and ran again, then went back to run 1 ({): it showed the
    score made with the new prompt, compared with run 1's samples as if it were theirs."""
    f = Forced(
        RAW,
        CAL,
        describe(False, True),
        node="t-1",
        scored_with=("chatml", "Be a pirate.", None, None),
    )
    st = _state(f, PURE)  # run 1's samples: no system prompt
    st.system = "Be a pirate."  # the column's settings now: the score's
    text = forced_block(st).plain
    assert "scored with other settings than this run's: not compared with it" in text, text
    assert "vs 8 samples" not in text and "earlier settings" not in text
    # The run the score was made with: compared as before.
    for x in st.samples:
        assert x.record is not None
        x.record = x.record.model_copy(update={"system": "Be a pirate."})
    text = forced_block(st).plain
    assert "other settings than this run" not in text and "vs 8 samples" in text
    # The opening design's walk is not set beside them either (a trial: "vs 1 sample: …" right
    # under "not compared with it", until rescoring finished).
    w = Forced(RAW, CAL, describe(False, True), node="t-1", opening=OPENING,
               scored_with=("chatml", "Be a pirate.", None, None))  # fmt: skip
    other = _state(w, PURE)
    other.system = "Be a pirate."
    text = forced_block(other).plain
    assert "not compared with it" in text and 'self-id after "I\'m"' in text, text
    assert "vs 8 samples" not in text, text


def test_a_score_shown_over_continuations_says_it_is_the_message_before() -> None:
    """A column whose run continued the adopted answer showed the message's forced choice
    with no word, where the other column said it scores no continued answer."""
    st = _state(_forced(), PURE)
    assert "continue an answer" not in forced_block(st).plain
    st.continued = {x.record.id for x in st.samples if x.record is not None}
    text = forced_block(st).plain
    assert "scored for the message before: these samples continue an answer" in text, text


def test_the_panel_says_which_answers_a_column_prefill_left_out() -> None:
    """The lab scores a column's prefill as probe does, leaving out answers that do not begin
    with it: the panel said nothing of it (the CLI did)."""
    from psmlab.core.session.schema import ForcedRecord
    from psmlab.tui.states import forced_of

    rec = ForcedRecord(
        model="m", node="t-1", format="chatml", prefill="I am", measures=describe(False, True),
        result={"probs": RAW, "calibrated": CAL, "n_answers": 20, "answers_left_out": 16},
    )  # fmt: skip
    text = forced_block(_state(forced_of(rec))).plain
    assert "scored the 20 of 36 answers that begin with the prefill 'I am'" in text, text
    odd = rec.model_copy(update={"result": {**rec.result, "answers_left_out": "x"}})
    assert "scored the" not in forced_block(_state(forced_of(odd))).plain  # a hand-edited file
    assert forced_of(rec.model_copy(update={"prefill": None})).prefill_note is None


def test_the_panel_says_when_one_answer_decides_the_top() -> None:
    """A trial's calibrated top rested on one answer whose log-prob after "N/A" was -52.6; the
    panel now says so, from the saved result (a hand-edited one says nothing)."""
    from psmlab.core.session.schema import ForcedRecord
    from psmlab.tui.states import forced_of

    rest = {"class": "human", "answer": "I am a human being.", "top": "human", "without": "ai"}
    rec = ForcedRecord(
        model="m", node="t-1", format="chatml", measures=describe(False, True),
        result={"probs": RAW, "calibrated": CAL, "calibrated_rests_on": rest},
    )  # fmt: skip
    text = forced_block(_state(forced_of(rec))).plain
    want = "calibrated top human rests on one answer: without 'I am a human being.', ai leads"
    assert want in text, text
    assert text.count("rests on one answer") == 1
    odd = rec.model_copy(update={"result": {**rec.result, "calibrated_rests_on": {"top": 3}}})
    assert "rests on" not in forced_block(_state(forced_of(odd))).plain


class _Host(App[None]):
    def __init__(self, state: ColumnState, *, blind: bool = False) -> None:
        super().__init__()
        self.state = state
        self.blind = blind

    def compose(self) -> ComposeResult:
        yield ModelColumn(self.state, "m", blind=self.blind)


async def _panel(pilot: Any, app: _Host) -> tuple[ModelColumn, str]:
    """The column, laid out, and its panel's text."""
    col = app.query_one(ModelColumn)
    await wait_for(pilot, lambda: col.content_size.width > 0, "the layout")
    return col, str(col.query_one(".col-dist").render())


async def test_the_column_panel_shows_the_block_and_the_full_description() -> None:
    st = _state(_forced(), SamplingParams().model_dump())
    app = _Host(st)
    async with app.run_test(size=(120, 24)) as pilot:
        col = app.query_one(ModelColumn)
        dist = col.query_one(".col-dist")
        await wait_for(pilot, lambda: col.content_size.width > 0, "the layout")
        text = str(dist.render())
        assert "forced choice · T=1 · P(persona | statements)" in text
        assert "PMI top 3/4: human-impostor 0.52 ████" in text  # 116 cells: the bars fit
        assert "raw top 3/4: helpful-assistant 0.61" in text
        assert "vs 8 samples:" in text and "another distribution" in text
        assert dist.tooltip == st.forced.measures if st.forced else False
        assert "calibrated by a content-free question (PMI)" in str(dist.tooltip)
        await pilot.resize_terminal(72, 24)  # a line keeps its bars only if it fits
        await wait_for(
            pilot,
            lambda: "PMI top 3/4: human-impostor 0.52 · " in str(dist.render()),
            f"the calibrated line without bars: {str(dist.render())!r} {col.content_size}",
        )
        assert "raw top 3/4: helpful-assistant 0.61 · " in str(dist.render())


def test_samples_at_different_settings_are_not_compared_as_one() -> None:
    st = _state(_forced(), PURE)
    rec = st.samples[0].record
    assert rec is not None
    st.samples[0] = Sample(rec.text, rec.model_copy(update={"params": {**rec.params, "top_k": 40}}))
    assert "(samples at mixed settings: not comparable)" in forced_block(st).plain


async def test_the_panel_says_scoring_and_counts_cancelled_answers_apart() -> None:
    st = ColumnState("m", "chat", "chatml", status="ready", forced_pending=True, cancelled=3)
    st.ends = [Share("cancelled", 3, 3)]
    app = _Host(st)
    async with app.run_test(size=(120, 24)) as pilot:
        _, text = await _panel(pilot, app)
        # Every answer was cut off: none is counted, and the panel says why.
        assert "auto labels over 0 finished samples" in text
        assert "self-id: no finished answer to count" in text
        assert "(3 cancelled: not in the shares)" in text
        assert "forced choice: scoring the pending message…" in text


async def test_blind_mode_still_says_the_forced_choice_is_being_scored() -> None:
    """Blind, the panel is hidden, and with it "scoring…": a trial's quick next message left
    the turn unscored with nothing on screen to say wait. The scores themselves stay hidden."""
    st = _state(None, PURE)
    st.forced_pending = True

    app = _Host(st, blind=True)
    async with app.run_test(size=(120, 24)) as pilot:
        col, text = await _panel(pilot, app)
        assert "hidden in blind mode" in text
        assert "forced choice: scoring…" in text
        assert "calibrated" not in text and "human" not in text  # nothing measured shown
        st.forced = _forced()  # a score there already, made again with new settings
        col.refresh_view()
        await pilot.pause()
        text = str(col.query_one(".col-dist").render())
        # One wording blind: "rescoring" in one column and "scoring" in another tell apart.
        assert "forced choice: scoring…" in text and "calibrated" not in text
        st.forced_pending = False
        col.refresh_view()
        await pilot.pause()
        assert "scoring" not in str(col.query_one(".col-dist").render())


def test_answers_without_a_forced_choice_say_it_was_not_scored() -> None:
    """Scoring stopped (a new message, quitting): a blank panel under answers would read as if
    there were nothing to measure."""
    assert forced_block(_state(None)).plain == ""  # no answers yet: nothing to say
    text = forced_block(_state(None, PURE)).plain
    assert text.startswith("forced choice: none for this message"), text
    # Answers that continued an assistant turn are never scored: said as such, not "yet".
    cont = _state(None, PURE)
    cont.continued = {x.record.id for x in cont.samples if x.record is not None}
    assert "not scored for a continued answer" in forced_block(cont).plain
    pending = _state(None, PURE)
    pending.forced_pending = True
    assert forced_block(pending).plain == "forced choice: scoring the pending message…"
    # A message answered outside the lab (`ask --save`, then `adopt`): nothing will score it,
    # and "scored once every column's run is over" promised it would be.
    answered = _state(None, PURE)
    answered.forced_due = False
    text = forced_block(answered).plain
    assert text.startswith("forced choice: not scored for this message") and "once" not in text


async def test_a_cancelled_answers_label_says_it_is_not_in_the_shares() -> None:
    from psmlab.core.session.schema import AutoLabelRecord

    st = _state(None, PURE, n=1)
    rec = st.samples[0].record
    assert rec is not None
    cut = rec.model_copy(update={"finish_reason": "cancelled"})
    st.samples[0] = Sample(cut.text, cut)
    st.auto_labels = {
        cut.id: AutoLabelRecord(
            generation_id=cut.id, labels=["unclear"], self_id="none", method="markers"
        )
    }
    app = _Host(st)
    async with app.run_test(size=(120, 24)) as pilot:
        col = app.query_one(ModelColumn)
        await wait_for(pilot, lambda: col.content_size.width > 0, "the layout")
        foot = " ".join(str(col.query_one(".col-footer").render()).split())
        assert "markers: self-id none" in foot and "(cancelled: not in the shares)" in foot, foot


async def test_finished_answers_with_no_forced_choice_say_not_scored_in_the_column() -> None:
    st = _state(None, PURE)  # answers on screen; scoring was stopped before it finished
    app = _Host(st)
    async with app.run_test(size=(120, 30)) as pilot:
        col = app.query_one(ModelColumn)
        await wait_for(pilot, lambda: col.content_size.width > 0, "the layout")
        text = " ".join(str(col.query_one(".col-dist").render()).split())
        assert "forced choice: none for this message" in text, text


def test_empty_answers_are_said_to_be_empty_beside_how_the_turns_ended() -> None:
    """A trial saw 'self-id none 3/3' for three answers of 0 tokens: counted as none (they claim
    nothing), and now said to be empty."""
    from psmlab.tui.widgets.column_text import distribution_text

    st = _state(None, PURE, n=3)
    st.samples = [
        Sample("", _record(i, PURE).model_copy(update={"text": "", "n_tokens": 0}))
        for i in range(2)
    ] + [Sample("I am a person.", _record(2, PURE))]
    st.ends = [Share("eos", 3, 3)]
    text = distribution_text(st, 80, short=False).plain
    assert "(2 empty: self-id none)" in text
    st.samples = st.samples[2:]
    assert "empty" not in distribution_text(st, 80, short=False).plain


OPENING = {
    "probs": {"ai": 0.85, "human": 0.15},
    "masses": {"ai": 0.21, "human": 0.04, "mixed": 0.0, "none": 0.0, "cut": 0.04, "unread": 0.71},
}


def test_the_opening_design_is_shown_with_how_much_of_the_walk_claims() -> None:
    # The screen: the statements say human-impostor while the model says "I'm an AI";
    # the walk's self-identification stands beside them, with what it rests on.
    f = Forced(RAW, CAL, describe(False, True), node="t-1", opening=OPENING)
    lines = forced_block(_state(f)).plain.splitlines()
    assert (
        lines[-1]
        == 'self-id after "I\'m": ai 0.85 · human 0.15 · 25% of the walk claims (marker rules)'
    )
    # With samples of the same turn: their self-id majority (ai 3, human 2 of 8) beside it,
    # among their claims as the walk's share is among its own (1/3 beside 0.59 counted samples
    # that claim nothing).
    last = forced_block(_state(f, PURE)).plain.splitlines()[-1]
    assert last == (
        "vs 8 samples: ai 3/5 60% (23%–88%) of their ai or human claims (agrees, but 5 claims "
        "settle no majority); 3 without one not counted (same T=1 distribution)"
    )
    clear = _state(f, PURE)
    clear.auto_self_id = [Share("ai", 8, 8), Share("human", 0, 8)]
    assert "of their ai or human claims (agrees) (same" in forced_block(clear).plain
    human = {**OPENING, "probs": {"ai": 0.3, "human": 0.7}}
    f2 = Forced(RAW, CAL, describe(False, True), node="t-1", opening=human)
    assert "ai 3/5 60% (23%–88%) of their ai or human claims (differs, but 5 claims" in (
        forced_block(_state(f2, PURE)).plain
    )
    # A walk at an even split leans neither way, as the experiment report reads it.
    even = {**OPENING, "probs": {"ai": 0.52, "human": 0.48}}
    f3 = Forced(RAW, CAL, describe(False, True), node="t-1", opening=even)
    said = forced_block(_state(f3, PURE)).plain
    assert (
        "ai 3/5 60% (23%–88%) of their ai or human claims (the walk leans neither way: within "
        "0.05 of an even split)" in said
    )
    # Either side of that edge, a third decimal shows which (a trial saw 0.55 twice, read
    # "differs" once and "leans neither way" once: the values were 0.5507 and 0.5479).
    edges = (
        (0.5507, "0.55", "(differs"),  # on its side at two decimals: 0.55 leans
        (0.5479, "0.548", "neither"),
        (0.5503, "0.55", "(differs"),  # two decimals already on its side
        (0.5497, "0.5497", "neither"),  # three would read 0.550, on the other side
    )
    for p_human, shown, verdict in edges:
        edge = {**OPENING, "probs": {"ai": 1 - p_human, "human": p_human}}
        said = forced_block(_state(Forced(RAW, CAL, "", node="t-1", opening=edge), PURE)).plain
        assert f"· human {shown} ·" in said and verdict in said, said
    none = {**OPENING, "probs": {"ai": 0.0, "human": 0.0}}
    f4 = Forced(RAW, CAL, describe(False, True), node="t-1", opening=none)
    said = forced_block(_state(f4, PURE)).plain
    assert "claims (the walk made no ai or human claim)" in said, said
    # Samples of another turn: no comparison.
    assert "vs 8 samples" not in forced_block(_state(f, PURE, turn=2)).plain


def test_a_walk_without_claims_or_without_a_walk_says_so() -> None:
    none = {"probs": {}, "masses": {"none": 0.4, "unread": 0.6}}
    f = Forced(RAW, None, describe(False, False), node="t-1", opening=none)
    last = forced_block(_state(f)).plain.splitlines()[-1]
    assert (
        last
        == 'self-id after "I\'m": no ai or human claim in the walk · 0% of the walk claims (marker rules)'
    )
    why = "not walked: the column's prefill starts the answer, and the walk starts it"
    f = Forced(RAW, None, describe(False, False), node="t-1", opening_note=why)
    assert forced_block(_state(f)).plain.splitlines()[-1] == f'self-id after "I\'m": {why}'


def test_samples_claiming_both_or_nothing_are_said_to_be_left_out_not_to_claim_nothing() -> None:
    """An audit's one sample "I'm a human AI …" (self-id mixed: it claims both) read "vs 1
    sample: no ai or human claim among them": how many were mixed (and none) is said, and that
    they are not counted in the ai/human split."""
    f = Forced(RAW, CAL, describe(False, True), node="t-1", opening=OPENING)

    def last(mixed: int, none: int) -> str:
        st = _state(f, PURE, n=mixed + none)
        st.auto_self_id = [Share(c, k, mixed + none) for c, k in
                           (("ai", 0), ("human", 0), ("mixed", mixed), ("none", none))]  # fmt: skip
        return forced_block(st).plain.splitlines()[-1]

    assert last(1, 0) == (
        "vs 1 sample: 1 mixed, not counted (no sample claims only ai or only human) "
        "(same T=1 distribution)"
    )
    assert last(1, 2).startswith(
        "vs 3 samples: 1 mixed and 2 none, not counted (no sample claims only ai or only human)"
    )
    assert last(0, 2).startswith("vs 2 samples: 2 none, not counted")


def test_an_edited_session_with_half_an_opening_record_still_draws() -> None:
    # A session file is text: a record missing its human share is drawn, not a crash.
    f = Forced(RAW, None, describe(False, False), node="t-1", opening={"probs": {"ai": 1.0}})
    assert "ai 1.00 · human 0.00" in forced_block(_state(f)).plain
    f = Forced(RAW, None, describe(False, False), node="t-1", opening={})
    assert "no ai or human claim in the walk" in forced_block(_state(f)).plain


def test_the_labels_panel_is_cut_between_shares_and_keeps_a_heading_that_fits() -> None:
    """cut_note(shares=True): a share never loses its interval to the cut; the auto labels'
    heading gives way only when the shares then fit; other lines are cut as before."""
    from rich.console import Console
    from rich.text import Text

    from psmlab.tui.widgets.column_text import cut_note

    console = Console(width=200)

    def cut(text: str, rows: int, width: int) -> list[str]:
        content = Text(text)
        out = cut_note(content, content.wrap(console, width), rows, width, console, shares=True)
        return out.plain.splitlines()

    head = "auto labels over 2 samples (markers)"
    sid = "self-id (κ 0.59): human 1/2 50% (9%–91%) · none 1/2 50% (9%–91%)"
    rest = "archetypes: void 1/2 50% (9%–91%)\nturns ended: eos 2"
    # 80x24's columns: the shares take the heading's rows, each with its interval.
    shown = cut("\n".join([head, sid, rest]), 2, 36)
    assert shown[-1].endswith(("cut", "cut (p: all)")) and all(
        "(9%–91%)" in x for x in shown[:-1]
    ), shown
    assert not any("auto labels" in x for x in shown) and "50%" in " ".join(shown), shown
    # Narrower: not even one share fits in the panel's rows; the heading stays, not a blank.
    narrow = cut("\n".join([head, sid, rest]), 2, 18)
    assert narrow[0].startswith("auto labels") and "%" not in " ".join(narrow[:-1]), narrow
    # A heading of another kind (the forced choice's) is never dropped for the line below it.
    forced = "forced choice · T=1 · P(persona | statements)\nPMI top 3/12: void 0.40 · hal 0.30"
    kept = cut(forced, 1, 60)
    assert kept[0].startswith("forced choice"), kept


def test_an_empty_answer_says_the_model_added_nothing() -> None:
    """Continuing given text, the model may end its turn at once: the green given text alone
    read as its answer (a trial), and its self-id "none" as a reading of that text."""
    from psmlab.tui.widgets.column_parts import body_text

    st = _state(None, PURE, n=1)
    rec = st.samples[0].record
    assert rec is not None
    given = "No. I am a robot named Bob."
    for text, said in (("", "nothing"), ("  \n", "only whitespace")):
        empty = rec.model_copy(update={"text": text, "prefill": given})
        body = body_text(st, Sample(text, empty), False, True)
        assert body.plain == f"{given}{text} (the model added {said})", repr(body.plain)
    plain = body_text(st, st.samples[0], False, True).plain
    assert plain == "I am a person." and "added" not in plain
    # Ended at once by the stop string (the next speaker's line, which the footer's token count
    # holds: a trial read "3 tok" beside "added nothing"); blind, how a turn ended is hidden.
    stopped = rec.model_copy(update={"text": "", "prefill": given, "finish_reason": "stop_string"})
    said = body_text(st, Sample("", stopped), False, True).plain
    assert said.endswith("(the model added nothing before the stop string)"), said
    assert "stop" not in body_text(st, Sample("", stopped), True, True).plain


async def test_the_stop_strings_tokens_are_counted_apart_and_the_cursor_stays_on_the_answer() -> (
    None
):
    """A trial continued an adopted answer in a dialogue frame: the footer said "3 tok" beside
    "the model added only whitespace", and F7's cursor sat on "token ':'": two of the three
    were the next speaker's "User:", recorded (replay needs them) but not the answer's."""
    from psmlab.core.domain.types import TokenLogprob

    def token_count(rec: GenerationRecord) -> str:
        return rec.token_words()

    toks = [
        TokenLogprob(token=k, text=t, logprob=-0.1) for k, t in enumerate(["\n\n", "User", ":"])
    ]
    rec = _record(0, {}).model_copy(
        update={
            "text": "\n",
            "n_tokens": 3,
            "finish_reason": "stop_string",
            "stop_string": "\nUser:",
            "token_logprobs": toks,
        }
    )
    assert token_count(rec) == "1 tok + 2 of the stop string"
    # An older record, its split not recorded: all it generated.
    assert token_count(rec.model_copy(update={"token_logprobs": None})) == "3 tok"
    # Recorded by the stream (every new record): the texts of the tokens are not needed.
    recorded = rec.model_copy(update={"token_logprobs": None, "stop_tokens": 3, "text": ""})
    assert token_count(recorded) == "0 tok + 3 of the stop string"
    # A server streamed its reply as one piece of three tokens: the pieces count the words
    # ("1 tok" as n_tokens counts), F7's cursor the tokens' own texts.
    one_piece = rec.model_copy(update={"n_tokens": 1, "stop_tokens": 0})
    assert one_piece.answer_tokens() == 3 and token_count(one_piece) == "1 tok"
    assert token_count(_record(1, {})) == "5 tok"
    # A character split over byte tokens reads "\ufffd" in each (a review: counting by the
    # answer's characters gave "2 tok + 7 of the stop string" for six tokens of "你好").
    split = [TokenLogprob(token=k, text="\ufffd", logprob=-0.1) for k in range(6)]
    nl = TokenLogprob(token=9, text="\n", logprob=-0.1)
    wide = rec.model_copy(
        update={"text": "你好", "n_tokens": 9, "token_logprobs": [*split, nl, *toks[1:]]}
    )
    assert token_count(wide.model_copy(update={"token_logprobs": split + toks})) == (
        "7 tok + 2 of the stop string"  # "\n\n" starts before the stop: it holds the "\n"
    )
    assert token_count(wide) == "6 tok + 3 of the stop string"
    # Token texts recorded for some tokens only: where the answer ends is not known.
    short = rec.model_copy(update={"n_tokens": 5, "token_logprobs": toks[:1]})
    assert token_count(short) == "5 tok"
    st = ColumnState("m", "base", "dialogue", status="ready", samples=[Sample(rec.text, rec)])
    app = _Host(st)
    async with app.run_test(size=(120, 24)) as pilot:
        col, _ = await _panel(pilot, app)
        col.focus()
        for _ in range(4):
            col.action_token(1)
        assert st.cursor == 0  # the one token that holds the answer's "\n"
        await pilot.pause()
        foot = str(col.query_one(".col-footer").render())
        assert "1 tok + 2 of the stop string" in foot and "token '\\n\\n'" in foot, foot
        # Newlines take no cell, so a reversed one showed nowhere: a mark stands in for it.
        from psmlab.tui.widgets.column_parts import shaded

        assert shaded(rec, 0, False).plain == "↵\n"
        assert shaded(rec, None, False).plain == "\n"
        stop = [TokenLogprob(token=k, text=t, logprob=-0.1) for k, t in enumerate(["\nUser", ":"])]
        empty = rec.model_copy(update={"text": "", "n_tokens": 2, "token_logprobs": stop})
        st.samples, st.cursor = [Sample("", empty)], None
        col.action_token(1)
        assert st.cursor is None  # nothing of its own to stand on


def test_archetype_shares_that_add_up_past_the_samples_say_some_carry_several() -> None:
    from psmlab.tui.widgets.column_text import distribution_text

    st = _state(None, PURE, n=2)
    st.samples = [Sample("I am a person.", _record(i, PURE)) for i in range(2)]
    st.auto_self_id = [Share("ai", 2, 2), Share("human", 0, 2)]
    st.auto = [Share("hal-9000", 2, 2), Share("helpful-assistant", 1, 2)]
    assert "(some carry several)" in distribution_text(st, 80, short=False).plain
    st.auto = [Share("hal-9000", 1, 2), Share("helpful-assistant", 1, 2)]
    assert "several" not in distribution_text(st, 80, short=False).plain
