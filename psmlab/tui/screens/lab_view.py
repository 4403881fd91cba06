"""The lab screen's view: a shared transcript, one streaming column per model, the message box.

All lab work happens in `psmlab.core.run.lab.Lab`; this module only renders it, runs generation in
worker threads, and shows what comes back (tokens are batched, not one redraw per token). UI state
(focus, the columns' states) is read on the main thread only: workers get plain values, and only
`post_message` crosses back.
"""

from __future__ import annotations

import threading

from textual import events, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from psmlab.core.domain.personas import load_personas
from psmlab.core.domain.types import TokenEvent
from psmlab.core.errors import PsmlabError
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import (
    GenerationDone,
    ModelFailed,
    ModelLoading,
    ModelReady,
)
from psmlab.core.session.authorship import edited_note, given_by
from psmlab.tui.keys import PALETTE_FROM, in_lab_words
from psmlab.tui.messages import LabEvent, ModelLoaded, RunFinished
from psmlab.tui.screens.lab_loading import LoadingView
from psmlab.tui.states import (
    build_states,
    count_labels,
    one_run_here,
    run_differs,
    show_forced,
    show_run,
    subtitle,
)
from psmlab.tui.widgets.column import ModelColumn
from psmlab.tui.widgets.column_state import ColumnState, Sample, blind_error
from psmlab.tui.widgets.column_text import no_columns_text
from psmlab.tui.widgets.composer import Composer
from psmlab.tui.widgets.transcript import TranscriptView, adopted_which


class LabView(LoadingView):
    """Layout, column states and the worker threads; the keys' actions are in `screens.lab`."""

    def __init__(self, lab: Lab) -> None:
        super().__init__(id="lab")
        self.lab = lab
        self.first_lab = lab  # its owner closes it; a lab opened here (Ctrl+O) is ours to release
        self.states: dict[str, ColumnState] = {}
        self.order: list[str] = []
        self.generating = False
        self._picking = False  # an answer picker is open (or opening) for a sent message
        self._cancel = threading.Event()
        self._forced_cancel = threading.Event()
        self._forced_key: tuple[tuple[str, str], ...] | None = None  # what is being scored
        self._loaded: dict[str, ModelLoaded] = {}  # blind: loads said once all are in
        self._buf: dict[tuple[str, int], list[str]] = {}
        self._speed: dict[tuple[str, int], float] = {}
        self._buf_lock = threading.Lock()
        self.personas, self._persona_errors = load_personas()
        self._last_column: ModelColumn | None = None  # the column the user was in last
        # The answers shown in columns the user left, oldest first: the picker's default falls
        # back on them when the last column's answer cannot be adopted (a trial looked at
        # sample 3 of one column, Tabbed through another whose answer was cancelled, and the
        # picker highlighted nothing).
        self._looks: list[str] = []

    # --- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield TranscriptView(id="transcript")
        yield Horizontal(id="columns")
        yield Composer(
            id="composer",
            soft_wrap=True,
            show_line_numbers=False,
            compact=True,
            placeholder="Type a message for every model; Enter sends",
        )
        yield Footer(compact=True)  # fits the most used keys in 80 columns

    def on_resize(self, event: events.Resize) -> None:
        """Below PALETTE_FROM columns the footer leaves out "^p palette" (Ctrl+P still works,
        F1 says so): docked on the right, it covered the last keys when the transcript's own
        `e Edit turn` came first (a trial at 80x24 saw "^a Ad▏^p palette" and no F8)."""
        footer = self.query_one(Footer)
        show = event.size.width >= PALETTE_FROM
        if footer.show_command_palette != show:
            footer.show_command_palette = show
            footer.refresh(recompose=True)

    def on_mount(self) -> None:
        self._build_states()
        self._mount_columns()
        self.refresh_transcript()
        self.set_interval(1 / 20, self._flush_tokens)
        # The title follows the session's state (unsaved, save failed) however it changed; setting
        # an unchanged title draws nothing.
        self.set_interval(0.5, self._update_subtitle)
        self.query_one(Composer).focus()
        for w in self.lab.warnings:
            self.notify(w, severity="warning", timeout=8)
        for e in self._persona_errors:  # a broken persona file: labels are made without it
            self.notify(e.one_line(), severity="warning", timeout=10, markup=False)
        self._load_all()
        self._update_subtitle()

    def _build_states(self) -> None:
        self.states = build_states(self.lab, self.states, self._transcript_key())
        self.order = self.lab.column_order()

    def step_run(self, model_id: str, delta: int) -> None:
        """Show another run of a column at this turn (runs are never replaced, only added)."""
        st = self.states[model_id]
        runs = self.lab.runs(model_id)
        if self.generating or len(runs) < 2:
            self.notify(
                "Still generating" if self.generating else one_run_here(self.lab, len(runs)),
                severity="warning",
            )
            return
        st.run_count = len(runs)
        k = st.run_no + delta
        if not 0 <= k < len(runs):
            # Said, and nothing moves (it showed the run's first sample again, silently).
            end = "first" if k < 0 else "newest"
            self.notify(f"Run {st.run_no + 1} of {len(runs)} is the {end} run here")
            return
        show_run(st, runs, k)
        if not st.forced_pending:  # the score made with this run's settings, if one was
            show_forced(self.lab, st, runs, self._transcript_key())
        self._count_labels()
        self._refresh(model_id)

    def reload(self) -> None:
        """Everything from the lab again: after moving in the tree or opening a session."""
        self._build_states()
        self._mount_columns()
        self.refresh_transcript()
        self._update_subtitle()
        # Moved to a message whose runs are over but never scored (a new run, a quit or a move
        # stopped its scoring): the panel promises a score once the runs are over, so score it.
        if all(st.status != "loading model…" for st in self.states.values()):
            self._score_what_was_left()

    def display_name(self, model_id: str) -> str:
        if not self.lab.blind:
            return model_id
        # Blind: named by position in this turn's shuffled order, so a name says nothing.
        order = self.order if model_id in self.order else sorted(self.states)
        return f"Model {chr(ord('A') + order.index(model_id))}"

    def _mount_columns(self) -> None:
        box = self.query_one("#columns", Horizontal)
        box.remove_children()
        if not self.order:
            # A session none of whose models opened (a file changed or moved): the notice said
            # why and went; a blank screen said nothing of the answers kept in the file.
            said = no_columns_text(self.lab.path, len(self.lab.session.models))
            box.mount(Static(said, id="no-columns"))
            return
        box.mount_all(
            [
                ModelColumn(self.states[m], self.display_name(m), blind=self.lab.blind)
                for m in self.order
            ]
        )

    def _arrange_columns(self) -> None:
        """The columns in `self.order`, named and shown as blind mode says now. The widgets on
        screen are kept, moved and redrawn at once, so the focus stays where it was (a column
        mounted anew would take it away); only other columns are mounted anew."""
        box = self.query_one("#columns", Horizontal)
        shown = {w.state.model_id: w for w in box.query_children(ModelColumn)}
        if len(shown) != len(self.order) or any(
            m not in shown or shown[m].state is not self.states[m] for m in self.order
        ):
            self._mount_columns()
            return
        for i, m in enumerate(self.order):
            w = shown[m]
            if i:
                box.move_child(w, after=shown[self.order[i - 1]])
            w.blind, w.display_name = self.lab.blind, self.display_name(m)
            w.refresh_view()

    def column_widget(self, model_id: str) -> ModelColumn | None:
        for w in self.query(ModelColumn):
            if w.state.model_id == model_id:
                return w
        return None

    def focused_column(self, default: bool = True) -> ModelColumn | None:
        """The column in focus, else (`default`) the one the user was in last, else the first,
        as the answer picker chooses (F2, F3 and F4 from the message box acted on the first
        column while the picker offered the last one's answer). Main thread only."""
        f = self.focused
        while f is not None and not isinstance(f, ModelColumn):
            f = f.parent  # type: ignore[assignment]
        if isinstance(f, ModelColumn) or not default:
            return f if isinstance(f, ModelColumn) else None
        last = self._last_column
        if last is not None and last.is_attached:
            return last
        cols = list(self.query(ModelColumn))
        return cols[0] if cols else None

    def _held(self) -> bool:
        """Blind during a run: every column's answers are held until it ends."""
        return self.lab.blind and self.generating

    def current_sample(self) -> Sample | None:
        """The sample shown in the focused column (else the first column), if any."""
        col = self.focused_column()
        return col.current if col is not None else None

    def refresh_transcript(self) -> None:
        # Blind: letters are shuffled every turn, so an earlier turn's "Model A" is not the
        # column called Model A now: an adopted answer says only that it was adopted.
        names = {m: self.display_name(m) for m in self.states}
        turns = self.lab.turns
        blind = self.lab.blind
        s = self.lab.session
        cuts = {t.id: c for t in turns if (c := s.adopted_cut(t, blind=blind))}
        given = {t.id: w for t in turns if (w := given_by(s, t, blind=blind))}
        which = {} if blind else {t.id: w for t in turns if (w := adopted_which(s, t))}
        edits = {t.id: w for t in turns if (w := edited_note(s, t, blind=blind))}
        self.query_one(TranscriptView).show(
            turns, names, blind=self.lab.blind, cuts=cuts, given=given, which=which, edits=edits
        )
        self._drop_stale_forced()

    def _update_subtitle(self) -> None:
        self.sub_title = subtitle(self.lab)

    # --- loading and generation (worker threads get plain values) ---------------------------

    def busy(self, then: str = "") -> bool:
        """While a run streams, say so (and what the key does once it ends): the footer offers
        the key, so it is never silent."""
        if self.generating:
            self.notify(
                f"Still generating: Esc cancels{then and ', then ' + then}", severity="warning"
            )
        return self.generating

    def start_run(self, only: list[str] | None = None) -> None:
        if self.busy():
            return
        if not self.lab.turns:
            self.notify("Send a message first", severity="warning")
            return
        if self.lab.seed is not None and any(
            self.lab.runs(m) for m in self.states if only is None or m in only
        ):
            # A trial's F5 with a fixed seed made a copy of the run before, token for token,
            # and nothing said why.
            self.notify(
                f"Seed fixed at {self.lab.seed} (F3): a run with unchanged settings repeats the "
                "one before token for token; clear the seed for new samples",
                timeout=8,
            )
        self.generating = True
        self._forced_cancel.set()  # scoring stops for the run; it starts again after it
        due = self.lab.awaiting_answer()
        for st in self.states.values():
            st.forced_pending = False
            # Said from the run's start: a column that finished first said its message was
            # "not scored" (as of the states built before the message was sent).
            st.forced_due = due
        self._drop_stale_forced()
        self._cancel = threading.Event()
        if self.lab.blind:  # a new turn gets its own shuffled order, recorded before it shows
            order = self.lab.column_order()
            if order != self.order:
                self.order = order
                self._arrange_columns()
        for m, st in self.states.items():
            if only is None or m in only:
                # A new run beside the old ones: they stay a step away ({ }).
                st.run_count = self.lab.next_run_number(m)
                st.run_no = st.run_count - 1
                st.run_differs = ()  # said once the run is recorded (show_run)
                st.format = self.lab.column(m).format_name
                st.samples = [Sample() for _ in range(self.lab.n_samples)]
                st.shown, st.error, st.warnings, st.status = 0, None, (), "waiting…"
                st.running = True
                st.error_blind = st.error_format = None
                # The shares are the shown run's: the run before's stayed on screen under the
                # new run's streaming text as if they were its own (a trial read "human 3/3").
                st.auto, st.auto_self_id, st.ends = [], [], []
                st.cancelled = st.failed = 0
            self._refresh(m)  # every column: the scoring stopped for all (said blind in each)
        self._generate(self.lab, only, self._cancel)

    @work(thread=True, group="gen")
    def _generate(self, lab: Lab, only: list[str] | None, cancel: threading.Event) -> None:
        try:
            result = lab.run(only, cancel=cancel, on_event=self._from_worker)
            self.post_message(RunFinished(result))
        except PsmlabError as exc:
            self.post_message(RunFinished(None, in_lab_words(exc.one_line())))
        except Exception as exc:  # keep the lab alive whatever happens in a run
            self.post_message(RunFinished(None, f"{type(exc).__name__}: {exc}"))

    def _from_worker(self, ev: object) -> None:
        """Runner events, in the run's threads: tokens go to a locked buffer, the rest is posted."""
        if isinstance(ev, TokenEvent):
            with self._buf_lock:
                self._buf.setdefault((ev.model_id, ev.sample), []).append(ev.text)
                self._speed[(ev.model_id, ev.sample)] = ev.tokens_per_s
        else:
            self.post_message(LabEvent(ev))  # type: ignore[arg-type]

    def _flush_tokens(self) -> None:
        """Apply batched tokens: at most 20 redraws a second per column, however fast tokens come."""
        with self._buf_lock:
            buf, self._buf = self._buf, {}
            speed = dict(self._speed)
        touched = set()
        for (m, i), parts in buf.items():
            st = self.states.get(m)
            if st is None or i >= len(st.samples):
                continue
            st.samples[i].text += "".join(parts)
            st.samples[i].tokens_per_s = speed.get((m, i), 0.0)
            touched.add(m)
        for m in touched:
            self._refresh(m, follow=True)

    def on_lab_event(self, msg: LabEvent) -> None:
        ev = msg.event
        if isinstance(ev, ModelLoading):
            self._status(ev.model_id, "loading model…")
        elif isinstance(ev, ModelReady):
            st = self.states[ev.model_id]
            st.warnings = ev.prompt.warnings
            for x in st.samples:
                if x.record is None:
                    x.given = ev.prompt.prefill
            self._status(ev.model_id, f"generating… (prompt: {ev.prompt.tokens_label})")
        elif isinstance(ev, GenerationDone):
            self._flush_tokens()
            g = ev.generation
            st = self.states[g.model]
            rec = next((r for r in self.lab.session.generations if r.id == g.id), None)
            if g.sample < len(st.samples):
                st.samples[g.sample] = Sample(
                    g.text, rec, g.timings.tokens_per_s if g.timings else 0.0
                )
            self._count_labels()
            self._refresh(g.model)
        elif isinstance(ev, ModelFailed):
            st = self.states[ev.model_id]
            st.error, st.error_blind = in_lab_words(ev.error.one_line()), blind_error(ev.error)
            st.error_format = st.format  # set to the run's own when the run began
            self._refresh(ev.model_id)

    def on_run_finished(self, msg: RunFinished) -> None:
        self._flush_tokens()
        self.generating = False
        if msg.error:
            self.notify(msg.error, severity="error", timeout=10)
        # A column that recorded nothing (the run never began, or it failed before a word):
        # the run counted for it ("run 1/1" over "no answer here yet") is taken back, and its
        # newest real run, if any, shown again; its error stays said.
        for m, st in self.states.items():
            if any(x.record is not None or x.text for x in st.samples):
                # The new run on screen: what it was made with unlike the run before.
                st.run_differs = run_differs(self.lab.runs(m), st.run_no)
                continue
            runs = self.lab.runs(m)
            if runs:
                show_run(st, runs, len(runs) - 1)
                st.run_count = len(runs)
            else:
                st.run_count = st.run_no = 0
        if self.lab.save_error:
            self.notify(f"autosave failed: {self.lab.save_error}", severity="error", timeout=10)
        for w in self.lab.monitor_warnings:
            self.notify(w, severity="warning", timeout=8)
        for st in self.states.values():  # samples that never started (cancelled) are dropped
            st.running = False  # blind: every column's answers show now, together
            if st.status != "failed":
                st.status = "ready"  # not "generating…" over a turn that has no answers yet
            st.samples = [s for s in st.samples if s.record is not None or s.text] or st.samples[:0]
            st.shown = min(st.shown, max(0, len(st.samples) - 1))
        self._count_labels()
        for m in self.states:
            self._refresh(m)
        # One full layout of every column as the run ends, whatever the parts' measures said: a
        # trial twice saw a finished answer cut to its first line (or blank) until Tab redrew it
        # (not reproduced here; `_put` skips a layout when a part's height looks unchanged).
        for col in self.query(ModelColumn):
            col.refresh(layout=True)
            for part in col.query(".col-text"):
                part.refresh(layout=True)
        self._update_subtitle()
        self._start_forced_choice()

    def _status(self, model_id: str, status: str) -> None:
        self.states[model_id].status = status
        self._refresh(model_id)

    def _refresh(self, model_id: str, *, follow: bool = False) -> None:
        w = self.column_widget(model_id)
        if w is not None:
            w.refresh_view(follow=follow)

    def _count_labels(self) -> None:
        count_labels(self.lab, self.states)
