"""The lab's actions (adopt, regenerate, samples, blind, inspect, settings, annotate, save, open,
export, edit, help, quit), mixed into the app: each is a few lines over `psmlab.core.lab.Lab`."""

from __future__ import annotations

import getpass
import random
from pathlib import Path

from textual import work

from psmlab.core.errors import PsmlabError
from psmlab.core.export import to_markdown
from psmlab.core.formats import list_formats
from psmlab.core.lab import Lab
from psmlab.core.session import Annotation, Span
from psmlab.core.store import atomic_write
from psmlab.tui.keys import ACTIONS, COLUMN_KEYS
from psmlab.tui.lab_view import LabView
from psmlab.tui.screens.annotate import AnnotateDialog, AnnotationInput
from psmlab.tui.screens.dialogs import AskValue, Confirm, EditText, HelpScreen
from psmlab.tui.screens.inspector import Inspector
from psmlab.tui.screens.settings import SettingsDialog, SettingsResult
from psmlab.tui.widgets.transcript import TranscriptView


class LabActions(LabView):
    # --- actions ------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self.generating:
            self._cancel.set()
            self.notify("Cancelling: what streamed is kept")

    def action_regenerate_all(self) -> None:
        self.start_run()

    def action_regenerate_column(self) -> None:
        col = self.focused_column()
        if col is not None:
            self.start_run([col.state.model_id])

    def action_adopt(self) -> None:
        col = self.focused_column()
        cur = col.current if col is not None else None
        if cur is None or cur.record is None:
            self.notify("Nothing finished to adopt in this column", severity="warning")
            return
        try:
            self.lab.adopt(cur.record.id)
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        self.refresh_transcript()
        self.notify(
            f"Adopted {self.display_name(cur.record.model)}'s answer; the next message continues from it"
        )

    def action_probabilities(self) -> None:
        on = not self.lab.logprobs
        self.lab.logprobs = 5 if on else 0
        for st in self.states.values():
            st.shade = on
            st.cursor = None
        for m in self.states:
            self._refresh(m)
        self.notify(
            "Token probabilities on: recorded from the next run; low-probability tokens are "
            "coloured; in a column , and . move the token cursor"
            if on
            else "Token probabilities off"
        )

    def action_samples(self) -> None:
        def check(v: str) -> str | None:
            return None if v.isdigit() and 1 <= int(v) <= 64 else "a whole number from 1 to 64"

        def done(v: str | None) -> None:
            if v:
                self.lab.n_samples = int(v)
                self._update_subtitle()

        self.push_screen(AskValue("Samples per model (N)", str(self.lab.n_samples), check), done)

    def action_blind(self) -> None:
        self.lab.blind = not self.lab.blind
        self.order = [c.id for c in self.lab.columns]
        if self.lab.blind:
            random.shuffle(self.order)
        self._mount_columns()
        self.refresh_transcript()
        self._update_subtitle()
        self.notify(
            "Blind mode on: names hidden, columns shuffled; annotations are recorded as blind"
            if self.lab.blind
            else "Blind mode off"
        )

    @work(thread=True, group="inspect")
    def action_inspect(self) -> None:
        col = self.focused_column()
        prompts: list[tuple[str, object]] = []
        for m in self.order:
            c = next(x for x in self.lab.columns if x.id == m)
            try:
                prompts.append((self.display_name(m), self.lab.render(c)))
            except PsmlabError as exc:
                prompts.append((self.display_name(m), exc.one_line()))
        at = self.order.index(col.state.model_id) if col is not None else 0
        self.call_from_thread(self.push_screen, Inspector(prompts, at))  # type: ignore[arg-type]

    def action_settings(self) -> None:
        col = self.focused_column()
        if col is None:
            return
        cfg = next(c for c in self.lab.columns if c.id == col.state.model_id)
        formats = [n for n, _, _ in list_formats()]

        def done(r: SettingsResult | None) -> None:
            if r is None:
                return
            try:
                new = self.lab.configure(
                    cfg.id, format=r.format, system=r.system, prefill=r.prefill, params=r.params
                )
            except PsmlabError as exc:
                self.notify(exc.one_line(), severity="error")
                return
            self.lab.seed = r.seed
            self.states[cfg.id].format = new.format_name
            self._refresh(cfg.id)
            self.notify(
                f"Settings saved for {self.display_name(cfg.id)}; they apply to the next run"
            )

        self.push_screen(
            SettingsDialog(cfg, self.display_name(cfg.id), formats, self.lab.seed), done
        )

    def action_annotate(self) -> None:
        col = self.focused_column()
        cur = col.current if col is not None else None
        if cur is None or cur.record is None:
            self.notify("Nothing finished to annotate in this column", severity="warning")
            return
        rec = cur.record
        try:
            who = getpass.getuser()
        except Exception:
            who = "anonymous"

        def done(r: AnnotationInput | None) -> None:
            if r is None:
                return
            span = None
            if r.quote:
                at = rec.full_text.find(r.quote)
                span = Span(start=at, end=at + len(r.quote))
            self.lab.annotate(
                Annotation(
                    generation_id=rec.id,
                    labels=r.labels,
                    confidence=r.confidence,
                    rating=r.rating,
                    note=r.note,
                    evidence=span,
                    annotator=r.annotator,
                )
            )
            self._count_labels()
            self._refresh(rec.model)
            self.notify("Annotation saved" + (" (blind)" if self.lab.blind else ""))

        target = f"{self.display_name(rec.model)} sample {rec.sample + 1}"
        self.push_screen(AnnotateDialog(target, rec.full_text, self.personas, who), done)

    def action_save(self) -> None:
        try:
            path = self.lab.save()
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        self._update_subtitle()
        self.notify(f"Saved {path}")

    def action_open(self) -> None:
        def done(v: str | None) -> None:
            if not v:
                return
            try:
                new = Lab.open(Path(v).expanduser(), pool=self.lab.pool)
            except PsmlabError as exc:
                self.notify(exc.one_line(), severity="error")
                return
            self.lab.release()
            self.lab = new
            self._build_states()
            self._mount_columns()
            self.refresh_transcript()
            for c in self.lab.columns:
                self._load(c.id)
            self._update_subtitle()

        self.push_screen(AskValue("Open session file", placeholder="sessions/….json"), done)

    def action_export(self) -> None:
        try:
            path = self.lab.save()
            out = path.with_suffix(".md")
            atomic_write(out, to_markdown(self.lab.session).encode("utf-8"))
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        self.notify(f"Exported {out}")

    def _selected_turn(self) -> int | None:
        idx = self.query_one(TranscriptView).highlighted
        return idx if idx is not None and idx < len(self.lab.turns) else None

    def action_edit_turn(self) -> None:
        i = self._selected_turn()
        if i is None or self.generating:
            return

        def done(v: str | None) -> None:
            if v is not None:
                self.lab.edit_turn(i, v)
                self.refresh_transcript()

        self.push_screen(
            EditText(f"Edit turn {i + 1} ({self.lab.turns[i].role})", self.lab.turns[i].content),
            done,
        )

    def action_delete_turn(self) -> None:
        i = self._selected_turn()
        if i is None or self.generating:
            return

        def done(v: str | None) -> None:
            if v == "delete":
                self.lab.edit_turn(i, None)
                self.refresh_transcript()

        self.push_screen(
            Confirm(f"Delete turn {i + 1}?", [("delete", "Delete"), ("cancel", "Cancel")]), done
        )

    def action_help(self) -> None:
        rows = [(k, d) for k, _, _, d in ACTIONS] + COLUMN_KEYS
        self.push_screen(HelpScreen(rows))

    async def action_quit(self) -> None:
        if not (self.lab.dirty or self.lab.save_error):
            self._leave()
            return

        def done(v: str | None) -> None:
            if v == "save":
                self.action_save()
                if not self.lab.dirty:
                    self._leave()
            elif v == "quit":
                self._leave()

        self.push_screen(
            Confirm(
                "There is unsaved work.",
                [("save", "Save and quit"), ("quit", "Quit without saving"), ("cancel", "Cancel")],
            ),
            done,
        )

    def _leave(self) -> None:
        self._cancel.set()
        self.exit()
