"""The lab's two forms on a column: its settings (F3) and an annotation of its answer (l)."""

from __future__ import annotations

from psmlab.core.domain.formats import list_formats
from psmlab.core.domain.stats import FRAGMENT_ENDS
from psmlab.core.errors import PsmlabError
from psmlab.core.inside.vector_checks import steering_doubts
from psmlab.core.models.steering import too_strong
from psmlab.core.session.records import Annotation
from psmlab.core.session.schema import default_annotator
from psmlab.tui.screens.annotate import AnnotateDialog, AnnotationInput
from psmlab.tui.screens.lab_files import LabFileActions
from psmlab.tui.screens.settings import SettingsDialog, SettingsResult
from psmlab.tui.states import set_next


class LabDialogs(LabFileActions):
    """F3 and l: each opens its dialog on the focused column and applies what it returns."""

    def action_settings(self) -> None:
        if self.busy("F3"):  # the running answers would record the settings they were made with
            return
        if self.lab.blind:  # the format, system prompt and steering name the model's kind
            self.notify(
                "Settings show each column's format and prompt: leave blind mode (Ctrl+B) first",
                severity="warning",
            )
            return
        col = self.focused_column()
        if col is None:
            return
        cfg = self.lab.column(col.state.model_id)
        formats = [n for n, _, _ in list_formats()]

        def done(r: SettingsResult | None) -> None:
            if r is None:
                return
            try:
                new = self.lab.configure(
                    cfg.id,
                    format=r.format,
                    system=r.system,
                    prefill=r.prefill,
                    params=r.params,
                    steering=r.steering,
                )
            except PsmlabError as exc:
                self.notify(exc.one_line(), severity="error")
                return
            seed_changed = r.seed != self.lab.seed
            self.lab.seed = r.seed
            set_next(self.states[cfg.id], new)
            for mid, st in self.states.items():  # the seed is every column's next run's
                st.seed = r.seed
                if mid != cfg.id and seed_changed:
                    self._refresh(mid)
            self._refresh(cfg.id)
            # The seed is the lab's: said when it changed, as it changes every column's run.
            seed = (
                f"; the seed ({'random' if r.seed is None else r.seed}) applies to every column"
                if seed_changed
                else ""
            )
            self.notify(
                f"Settings saved for {self.display_name(cfg.id)}; they apply to the next run{seed}"
            )
            if r.steering is not None:
                doubts = [w for w in (too_strong(r.steering),) if w] + steering_doubts(r.steering)
                for why in doubts:
                    self.notify(why, severity="warning", timeout=10, markup=False)

        self.app.push_screen(
            SettingsDialog(cfg, self.display_name(cfg.id), formats, self.lab.seed), done
        )

    def action_annotate(self) -> None:
        cur = self.current_sample()
        if cur is None or cur.record is None or self._held():
            self.notify(
                "Still generating: Esc cancels, then l annotates what streamed"
                if self.generating
                else "Nothing finished to annotate in this column",
                severity="warning",
            )
            return
        rec = cur.record
        if rec.finish_reason in FRAGMENT_ENDS and not rec.text.strip():
            # Cut off before a word: the dialog showed only the prefill, the user's own text.
            self.notify(
                "This sample has nothing the model wrote (it was cut off before a word): "
                "nothing of the model's to annotate",
                severity="warning",
            )
            return

        def done(r: AnnotationInput | None) -> None:
            if r is None:
                return
            try:
                given, notes = r.annotation(rec)
                if earlier is not None and same_annotation(earlier, given, blind=self.lab.blind):
                    # Saved as filled in: a second, identical record would count it twice.
                    self.notify("Annotation unchanged: nothing added")
                    return
                notes += self.lab.session.annotation_notes(given)
                self.lab.annotate(given)
            except PsmlabError as exc:
                self.notify(exc.one_line(), severity="error")
                return
            self._count_labels()
            self._refresh(rec.model)
            if self.lab.save_error:
                # Said as Ctrl+S says it: "saved" over a failed autosave read as safe on disk.
                self.notify(
                    f"Annotation kept in the lab but not on disk: {self.lab.save_error}",
                    severity="error",
                    timeout=10,
                )
                return
            # The same notes `psmlab annotate` prints: a case-alike name, a replaced self-id.
            # What was saved, said back: blind, the column shows no label, and a trial's
            # mislabel was found only in the export.
            said = [f"self-id {given.self_id}"] if given.self_id else []
            said += [", ".join(given.labels)] if given.labels else []
            self.notify(
                "Annotation saved"
                + (" (blind)" if self.lab.blind else "")
                + (": " + " · ".join(said) if said else "")
                + "".join(f"; {n}" for n in notes)
            )

        # Which run too: runs 1 and 2 both have a sample 3.
        st = self.states.get(rec.model)
        run = f"run {st.run_no + 1}/{st.run_count} · " if st is not None and st.run_count else ""
        target = f"{self.display_name(rec.model)} {run}sample {rec.sample + 1}"
        # Blind, as the column shows it: a base frame's answer starts with a space a chat
        # template's does not, and the dialog's excerpt showed it (a trial told the kinds apart).
        shown = rec.full_text.lstrip() if self.lab.blind and not rec.prefill else rec.full_text
        who = default_annotator()
        earlier = next(
            (
                a
                for a in reversed(self.lab.session.annotations)
                if a.generation_id == rec.id and a.annotator == who
            ),
            None,
        )
        if earlier is not None and self.lab.blind and not earlier.blind:
            # Made with the names shown: filled in blind, a save copied it as a blind label
            # (a trial). A blind label starts from nothing.
            earlier = None
        ev = earlier.evidence if earlier is not None else None
        self.app.push_screen(
            AnnotateDialog(
                target,
                shown,
                self.personas,
                who,
                given=rec.prefill or "",
                earlier=earlier,
                earlier_quote=rec.full_text[ev.start : ev.end] if ev is not None else "",
            ),
            done,
        )


def same_annotation(a: Annotation, b: Annotation, *, blind: bool) -> bool:
    """Whether `b`, about to be added, says what `a` says (its blindness included)."""
    keys = ("confidence", "note", "rating", "evidence", "annotator", "self_id")
    same_labels = sorted(a.labels) == sorted(b.labels)  # the order ticked says nothing
    return a.blind == blind and same_labels and all(getattr(a, k) == getattr(b, k) for k in keys)
