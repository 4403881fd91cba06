"""The lab's sending: a message goes to every column, and the user picks which answer (if any)
the conversation goes on from; nothing is adopted by default."""

from __future__ import annotations

from textual import on

from psmlab.core.domain.formats import Frame
from psmlab.core.domain.prompt_warnings import speaker_line
from psmlab.core.domain.stats import FRAGMENT_ENDS
from psmlab.core.errors import PsmlabError
from psmlab.core.session.schema import cut_words
from psmlab.tui.screens.adopt_picker import WITHOUT, AdoptPicker, Choice
from psmlab.tui.screens.lab_view import LabView
from psmlab.tui.widgets.column import ModelColumn
from psmlab.tui.widgets.composer import Composer


class LabSending(LabView):
    """Sending a message, choosing the answer it follows, and which column was looked at last."""

    @on(Composer.Submitted)
    def send(self, msg: Composer.Submitted) -> None:
        """Send to every model. When the last message still waits for its answer, the user picks
        which answer continues the conversation (or none): nothing is ever adopted by default."""
        if self.busy():
            return
        if self._picking:  # Enter pressed twice: one picker (two stacked, the second stale)
            return
        choices = self.adoptable()
        # The columns continued the assistant turn at the head (F5 after an edit or adoption):
        # which continuation, if any, stands in its place is asked too (they were dropped).
        continuing = self.lab.continued_at_head() and bool(choices)
        # A message with no answer to adopt (its text edited after its runs) asks as well: the
        # only way on is two user turns in a row, and sending refused with no picker to say so.
        if self.lab.awaiting_answer() or continuing:

            def chosen(pick: str | None) -> None:
                self._picking = False
                if pick is not None:  # None: cancelled, the message stays in the box
                    self._send(msg.text, pick, continuing=continuing)

            self._picking = True
            picker = AdoptPicker(choices, self.last_viewed_id(choices), continuing=continuing)
            self.app.push_screen(picker, chosen)
            return
        self._send(msg.text, None)

    def adoptable(self) -> list[Choice]:
        """Every finished sample of every run at the shown turn, column by column (in display
        order), oldest run first: a run added by F5 or r never hides the ones before it."""
        autos = {a.generation_id: a for a in self.lab.session.auto_labels}
        frames = self._frames()
        out = []
        for m in self.order:
            runs = self.lab.runs(m)
            # An answer word for word like an earlier one of its column (a fixed seed repeats a
            # run): said, or four identical rows read as four readings (a trial).
            seen: dict[str, str] = {}
            for r, run in enumerate(runs, 1):
                for i, rec in enumerate(run, 1):
                    auto = autos.get(rec.id)
                    # Blind: no label (the columns hide them too); a cut-off answer always says so.
                    label = (auto.self_id or "") if auto is not None and not self.lab.blind else ""
                    if label and rec.prefill:
                        # Read from what the model added, not the given start shown with it (a
                        # trial read "[none]" beside "No, I'm an AI assistant…").
                        label = f"{label} in what it added" if rec.text.strip() else "added nothing"
                    if label and auto is not None and label != "added nothing":
                        # Whose reading: a bare "[human]" read as a person's (a trial).
                        label = f"{auto.method.split(':')[0]}: {label}"
                    if rec.finish_reason in FRAGMENT_ENDS:
                        if not rec.text.strip():
                            continue  # cancelled before a word: nothing to adopt
                        label = " · ".join(t for t in (label, rec.finish_reason) if t)
                    elif words := cut_words(rec.finish_reason, blind=self.lab.blind):
                        # Said before it is chosen, as the tree and export say it after (a
                        # trial adopted a 128-token "…Over the years, I" as if whole), in
                        # their words.
                        label = " · ".join(t for t in (label, words) if t)
                    if frames and (said := speaker_line(rec.full_text, frames)):
                        # A trial adopted "…my team.\nAssistant: What is your favorite food?"
                        # and was warned only at the next run.
                        label = " · ".join(t for t in (label, f"⚠ a line opens with {said!r}") if t)
                    if (twin := seen.get(rec.full_text)) is not None:
                        label = " · ".join(t for t in (label, f"same text as {twin}") if t)
                    else:
                        seen[rec.full_text] = (
                            f"run {r} sample {i}" if len(runs) > 1 else f"sample {i}"
                        )
                    name = self.display_name(m)
                    cut = rec.finish_reason in FRAGMENT_ENDS
                    # The whole answer, prefill and all: what adopting it puts in the transcript.
                    text = rec.full_text
                    out.append(
                        Choice(
                            rec.id,
                            name,
                            i,
                            len(run),
                            text,
                            label,
                            r,
                            len(runs),
                            cut,
                            rec.prefill or "",
                        )
                    )
        return out

    def _frames(self) -> list[Frame]:
        """The plain-document frames the columns read the transcript in (base models')."""
        out = []
        for c in self.lab.columns:
            try:
                fmt = c.spec.get_format(c.format_name)
            except PsmlabError:  # a broken format is said where it runs, not here
                continue
            if isinstance(fmt, Frame):
                out.append(fmt)
        return out

    def last_viewed_id(self, choices: list[Choice]) -> str | None:
        """The answer the picker highlights first: the one shown last in the column the user
        was in last, while they were in it; if that one cannot be adopted (cancelled, cut),
        the one they looked at before it, and so on. None when they were in no column since
        its answers came (a reopened session): the picker then highlights nothing, where it
        offered the first column's answer, unseen (an Enter a moment after sending adopted it)."""
        col = self._last_column
        last = [col.looked] if col is not None and col.is_attached and col.looked else []
        whole = {c.gen_id for c in choices if not c.cut}
        return next((g for g in [*last, *reversed(self._looks)] if g in whole), None)

    def watch_focused(self, focused: object) -> None:
        """Remember the column the user was in last and the answer it shows (the answer
        picker's default), as the focus moves (a Focus event came after a quick move on)."""
        f = self.focused
        while f is not None and not isinstance(f, ModelColumn):
            f = f.parent  # type: ignore[assignment]
        if isinstance(f, ModelColumn):
            was = self._last_column
            if was is not None and was is not f and was.looked:
                self._looks = [*self._looks[-31:], was.looked]  # a few are plenty
            self._last_column = f
            f.note_looked()

    def _send(self, text: str, pick: str | None, *, continuing: bool = False) -> None:
        try:
            adopted = self.lab.send(
                text,
                adopt=None if pick in (None, WITHOUT) else pick,
                how="send-blind" if self.lab.blind else "send",
                without_answer=pick == WITHOUT and not continuing,
            )
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        if adopted is not None and adopted.adopted_model is not None:
            self.notify(
                f"Adopted {self.display_name(adopted.adopted_model)}'s answer into the history"
            )
        elif pick == WITHOUT:
            self.notify(
                "Sent after the assistant turn as it was (its continuations stay in the tree)"
                if continuing
                else "Sent without adopting an answer"
            )
        self._take_sent(text)
        self.refresh_transcript()
        self.start_run()

    def _take_sent(self, text: str) -> None:
        """Empty the box of the message sent, keeping anything typed after its Enter (letters
        typed while the picker opened reached the box, and clearing it lost them)."""
        box = self.query_one(Composer)
        now = box.text
        # The message was sent without the box's last line breaks (a pasted file's): those are
        # no text typed after it (a trial's empty box was said to keep what they typed).
        if now == text or (now.startswith(text) and not now[len(text) :].strip()):
            box.clear()
        elif now.startswith(text):
            box.load_text(now[len(text) :])
            box.move_cursor(box.document.end)
            self.notify("What you typed after sending stays in the message box")
        else:  # changed in another way: what was sent is `text`; the box is left as it is
            self.notify("The message box still holds text you typed: it was not sent")
