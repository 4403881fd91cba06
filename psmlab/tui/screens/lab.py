"""The lab screen: its view (`screens.lab_view`) plus every key's action, each a few lines over `Lab`.

Adopt, regenerate, samples, blind, inspect, settings, annotate, help here; save, open, export,
edit, delete and quit in `screens.lab_files`: each calls `psmlab.core.run.lab.Lab`.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding

from psmlab.core.domain.limits import LOGPROB_ALTERNATIVES, MAX_LAB_SAMPLES
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.errors import PsmlabError
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import Column, differing_settings
from psmlab.tui.keys import (
    ACTIONS,
    COLUMN_KEYS,
    FOOTER,
    PALETTE_EXTRA,
    PRIORITY,
)
from psmlab.tui.screens.adopt_picker import AdoptPicker
from psmlab.tui.screens.compare import CompareScreen, RunView
from psmlab.tui.screens.dialogs import AskValue, HelpScreen
from psmlab.tui.screens.inspector import Inspector, inspector_prompts
from psmlab.tui.screens.lab_dialogs import LabDialogs
from psmlab.tui.screens.tree import TreeScreen

# The footer lists keys in binding order, and Quit has always come first there (the lab's ctrl+q
# took the place of Textual's own); the help screen and the palette keep ACTIONS' order.
_FOOTER_ORDER = sorted(ACTIONS, key=lambda row: row[0] != "ctrl+q")


class LabScreen(LabDialogs):
    BINDINGS = [
        Binding(k, a, short, show=k in FOOTER, priority=k in PRIORITY)
        for k, a, short, _ in _FOOTER_ORDER
    ]

    def system_commands(self) -> Iterable[SystemCommand]:
        """The lab's entries in the command palette (the app adds them to Textual's own)."""
        for key, action, _, desc in ACTIONS:
            # The title once; the help line adds only what the title does not say, and the key.
            title, _, rest = desc.partition(" (")
            more = f"{rest.rstrip(')')} · " if rest else ""
            yield SystemCommand(title, f"{more}key {key}", getattr(self, f"action_{action}"))
        for action, desc, where in PALETTE_EXTRA:
            yield SystemCommand(desc, where, lambda a=action: self.run_action(a))

    # --- actions ------------------------------------------------------------------------------

    def action_step_sample(self, delta: int) -> None:
        col = self.focused_column()
        if col is not None:
            col.action_step(delta)

    def action_step_run(self, delta: int) -> None:
        col = self.focused_column()
        if col is not None:
            col.engaged = col.engaged or col.has_focus  # a run stepped to here is looked at
            self.step_run(col.state.model_id, delta)

    def action_tree(self) -> None:
        """The whole tree; choosing a turn continues from it (the branch it ends stays)."""
        if self.busy():
            return

        def done(node: str | None) -> None:
            if node is None or node == self.lab.session.head:
                return
            try:
                self.lab.go(node or None)
            except PsmlabError as exc:
                self.notify(exc.one_line(), severity="error")
                return
            self.reload()
            where = f"turn {len(self.lab.turns)}" if self.lab.turns else "the start"
            self.notify(f"Continuing from {where}; every other branch is kept (F8)")

        self.app.push_screen(TreeScreen(self.lab.session, blind=self.lab.blind), done)

    def action_compare(self) -> None:
        """The focused column's run beside its previous run, or (one run) beside the next column."""
        if self.lab.blind:
            self.notify(
                "Comparing shows each run's model and format: leave blind mode (Ctrl+B) first",
                severity="warning",
            )
            return
        col = self.focused_column()
        if col is None:
            return
        m = col.state.model_id
        runs = self.lab.runs(m)
        if not runs:
            self.notify("Nothing to compare yet", severity="warning")
            return
        k = min(col.state.run_no, len(runs) - 1)
        right = RunView(f"{m} · run {k + 1}/{len(runs)}", runs[k])
        if len(runs) > 1:  # the shown run and the one before it (or after the first), older left
            j = k - 1 if k > 0 else k + 1
            left = RunView(f"{m} · run {j + 1}/{len(runs)}", runs[j])
            if j > k:
                left, right = right, left
        else:
            other = self.order[(self.order.index(m) + 1) % len(self.order)]
            theirs = self.lab.runs(other)
            if other == m or not theirs:
                # Said why the next column is not compared (the README's "with the next
                # column" read as broken to a trial whose next column had no run here).
                why = (
                    "and no other column"
                    if other == m
                    else f"and the next column ({self.display_name(other)}) has none here"
                )
                self.notify(
                    f"Only one run {why}: F5 or r makes another to compare", severity="warning"
                )
                return
            st = self.states[other]
            j = min(st.run_no, len(theirs) - 1)
            left = RunView(f"{other} · run {j + 1}/{len(theirs)}", theirs[j])
        self.app.push_screen(CompareScreen(left, right))

    def action_cancel(self) -> None:
        if self.generating:
            self._cancel.set()
            # Blind: the held answers show as they were cut, and how far each column got can
            # tell the faster model (hiding them would lose them): said, not hidden.
            held = (
                " (blind: how far each column got shows, which can tell the models apart)"
                if self.lab.blind
                else ""
            )
            self.notify(f"Cancelling: what streamed is kept{held}")

    def action_regenerate_all(self) -> None:
        self.start_run()

    def action_regenerate_column(self) -> None:
        col = self.focused_column()
        if col is not None:
            self.start_run([col.state.model_id])

    def action_adopt(self) -> None:
        """Adopt the answer shown in the focused column; from outside a column, pick one (never
        the first column's by default)."""
        if self.focused_column(default=False) is None:
            if self.lab.blind and self.busy():  # the answers are held until the run ends
                return
            choices = self.adoptable()
            if not choices:
                self.notify("Nothing finished to adopt", severity="warning")
                return

            def chosen(pick: str | None) -> None:
                if pick is not None:
                    self._adopt(pick, "picker-blind" if self.lab.blind else "picker")

            self.app.push_screen(
                AdoptPicker(choices, self.last_viewed_id(choices), allow_without=False), chosen
            )
            return
        cur = self.current_sample()
        # Blind, a finished answer is held until the run ends (`ModelColumn.held`): adopting it
        # unseen, or being told only in the slower column to wait, named the faster model.
        if cur is None or cur.record is None or self._held():
            # While a run streams the column shows it: its earlier runs' answers are there,
            # one `{` away, once the run ends (a trial read "nothing finished" of them).
            self.notify(
                "Still generating: Esc cancels (earlier runs' answers: { once it ends)"
                if self.generating
                else "Nothing finished to adopt in this column",
                severity="warning",
            )
            return
        self._adopt(cur.record.id, "key-blind" if self.lab.blind else "key")

    def _adopt(self, gen_id: str, how: str) -> None:
        try:
            turn = self.lab.adopt(gen_id, how)
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        self.refresh_transcript()
        self._count_labels()  # the columns mark which answer went on, and on which branch
        for m in self.states:
            self._refresh(m)
        who = self.display_name(turn.adopted_model or "")
        cut = self.lab.session.adopted_cut(turn, blind=self.lab.blind)
        if cut:  # a fragment, said at once (blind too; max tokens only when not blind)
            self.notify(
                f"Adopted {who}'s answer, {cut} (a fragment); the next message continues from it",
                severity="warning",
            )
            return
        self.notify(f"Adopted {who}'s answer; the next message continues from it")

    def action_probabilities(self) -> None:
        on = not self.lab.logprobs
        self.lab.logprobs = LOGPROB_ALTERNATIVES if on else 0
        for st in self.states.values():
            st.shade = on
            st.cursor = None
        for m in self.states:
            self._refresh(m)
        self._update_subtitle()
        self.notify(
            "Token probabilities on: recorded from the next run; low-probability tokens are "
            "coloured; in a column , and . move the token cursor"
            + (
                " (blind: shown when Ctrl+B reveals, token boundaries name a tokenizer)"
                * self.lab.blind
            )
            if on
            else "Token probabilities off"
        )

    def action_samples(self) -> None:
        def check(v: str) -> str | None:
            ok = v.isdigit() and 1 <= int(v) <= MAX_LAB_SAMPLES
            return None if ok else f"a whole number from 1 to {MAX_LAB_SAMPLES}"

        def done(v: str | None) -> None:
            if v:
                self.lab.n_samples = int(v)
                self._update_subtitle()

        self.app.push_screen(
            AskValue("Samples per model (N)", str(self.lab.n_samples), check), done
        )

    def action_blind(self) -> None:
        self.lab.blind = not self.lab.blind
        if self.lab.blind:  # a notice still on screen may name a model ("Adopted smollm2's…")
            self._take_down_named_notices()
        else:
            self.say_loaded()  # loads held back while blind
        self.order = self.lab.column_order()  # blind: this turn's recorded shuffle
        self._arrange_columns()
        self.refresh_transcript()
        self._update_subtitle()
        self.notify(
            "Blind mode on: names, kinds, formats and labels hidden, settings closed, columns "
            "shuffled; "
            "annotations are recorded as blind"
            if self.lab.blind
            else "Blind mode off"
        )
        if self.lab.blind and self.lab.session.generations:
            # A trial went blind at turn 7 with a column run 4 times and the other twice:
            # "Model B · run 4/4" named it, and the answers seen named before were known.
            runs = {st.run_count for st in self.states.values()}
            self.notify(
                "Going blind mid-session: answers you saw named may still tell the columns apart"
                + (", and so do their different numbers of runs here" if len(runs) > 1 else "")
                + "; for blind labels start blind (psmlab --blind, or Ctrl+B before the first "
                "message)",
                severity="warning",
            )
        if self.lab.blind and (tells := differing_settings(self.lab.columns)):
            # Set per model before going blind: each shows in its column and names it.
            self.notify(
                f"The columns differ in {', '.join(tells)}, which shows in them and can tell "
                "the models apart",
                severity="warning",
            )

    def _take_down_named_notices(self) -> None:
        """Notices on screen that name a model (others, "autosave failed", stay)."""
        names = [m.id for m in self.lab.session.models] + [c.id for c in self.lab.columns]
        for n in list(self.app._notifications):
            if any(name and name in n.message for name in names):
                self.app._unnotify(n)

    def action_inspect(self) -> None:
        """What to show is read here, on the main thread; the prompts render in a worker."""
        if self.lab.blind:  # the exact prompt names the format and holds the control tokens
            self.notify(
                "The inspector would show each model's format and control tokens: "
                "leave blind mode (Ctrl+B) to inspect",
                severity="warning",
            )
            return
        col = self.focused_column()
        here = col.state.model_id if col is not None else None
        columns = []
        for m in self.order:
            st = self.states.get(m)
            # No answer at this turn yet (or a run with none left): the next run's prompt only.
            ok = st is not None and 0 <= st.shown < len(st.samples)
            shown = st.samples[st.shown] if st is not None and ok else None
            rec = shown.record if shown is not None and shown.record is not None else None
            columns.append((self.display_name(m), self.lab.column(m), rec and rec.id, m == here))
        self._inspect(self.lab, columns)

    @work(thread=True, group="inspect")
    def _inspect(self, lab: Lab, columns: list[tuple[str, Column, str | None, bool]]) -> None:
        prompts, at, hints = inspector_prompts(lab, columns)
        self.app.call_from_thread(self._show_inspector, prompts, at, hints)

    def _show_inspector(
        self, prompts: list[tuple[str, RenderedPrompt | str]], at: int, hints: list[str]
    ) -> None:
        self.app.push_screen(Inspector(prompts, at, hints))

    def action_help(self) -> None:
        # Each key by the name the footer gives it ("f3 Setup" read as another key than the
        # help's "Settings of the focused column", a trial).
        rows = [(k, f"{label}: {d}") for k, _, label, d in ACTIONS] + COLUMN_KEYS
        self.app.push_screen(HelpScreen(rows))
