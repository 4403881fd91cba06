"""The lab screen's file and transcript actions: save, open, export, edit or delete a turn, quit.

`LabScreen` (`screens.lab`) inherits them; each is a few lines over `psmlab.core.run.lab.Lab`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from psmlab.core.errors import PsmlabError
from psmlab.core.run.lab import Lab
from psmlab.core.session.disk import atomic_write
from psmlab.core.session.export import to_markdown
from psmlab.core.session.file import resolve_path, save_target
from psmlab.tui.screens.dialogs import AskValue, Confirm, EditText
from psmlab.tui.screens.lab_send import LabSending
from psmlab.tui.widgets.composer import Composer
from psmlab.tui.widgets.transcript import TranscriptView


class LabFileActions(LabSending):
    """Save, open, export, edit a turn, delete a turn, quit."""

    def action_save(self) -> None:
        try:
            path = self.lab.save()
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        self._update_subtitle()
        self.notify(f"Saved {path}")

    def action_save_as(self) -> None:
        """Save to a file the user names (the session goes on there; the old file is kept)."""

        def target_of(v: str) -> Path:
            # As `ask --save` reads it: a bare name goes to the sessions directory (it was
            # written in the working directory, where `psmlab sessions` does not look).
            t = save_target(v.strip())
            return t if t.suffix.lower() == ".json" else t.with_name(t.name + ".json")

        saved: dict[str, Path] = {}

        def check(v: str) -> str | None:
            """Saved here, so a path that cannot be written is said in the dialog and the
            typed path stays to be corrected (a trial's "Permission denied" came as a toast,
            the dialog gone)."""
            if not v.strip():
                return "give a file name, e.g. sessions/my-run.json"
            given = Path(v.strip())
            if given.suffix.lower() in (".md", ".markdown", ".txt", ".csv", ".jsonl", ".html"):
                # Saved as "X.md.json" it was neither the markdown asked for nor a name asked for.
                return (
                    f"a session is saved as JSON: name it {given.with_suffix('.json')} "
                    "(Ctrl+E exports the markdown)"
                )
            try:
                t = target_of(v)
            except PsmlabError as exc:  # a folder of that name
                return exc.one_line()
            own = self.lab.path is not None and t.resolve() == self.lab.path.resolve()
            if t.exists() and not own:
                return f"{t} exists: give a new file name (the lab never overwrites one)"
            if own:
                return None  # its own file (it holds the lock): a plain save, in `done`
            try:
                saved[v] = self.lab.save(t)
            except PsmlabError as exc:
                return exc.one_line()
            return None

        def done(v: str | None) -> None:
            if not v:
                return
            path = saved.pop(v, None)
            if path is None:
                target = target_of(v)
                self.action_save()
                if not self.lab.dirty and not self.lab.save_error:  # a failed save says so itself
                    self.notify(f"{target} is this session's own file: saved there, nothing copied")
                return
            self._update_subtitle()
            self.notify(f"Saved as {path}; the lab goes on in this file")

        self.app.push_screen(
            AskValue(
                "Save the session as",
                check=check,
                placeholder="sessions/my-run.json",
                enter="saves it there",
            ),
            done,
        )

    def action_open(self) -> None:
        # The run streams into the columns: switched under it, the new session's column showed
        # the old session's answer mid-stream.
        if self.busy("Ctrl+O opens"):
            return
        opened: dict[str, Lab] = {}

        def check(v: str) -> str | None:
            """Opened here, so a wrong path is said in the dialog and the typed path stays to
            be corrected (the error came as a toast and the path was gone)."""
            if not v.strip():
                return "Type the path of a session file (Esc cancels)"
            here = self.lab.path
            path = resolve_path(v.strip())  # a bare name, as `psmlab open NAME` finds it
            if here is not None and path.resolve() == here.resolve():
                return "That is the session open here (Esc goes back to it)"
            try:
                opened[v] = Lab.open(path, pool=self.lab.pool)
            except PsmlabError as exc:
                return exc.one_line()
            return None

        def done(v: str | None) -> None:
            new = opened.pop(v, None) if v else None
            if new is None:
                return
            new.monitor = list(self.lab.monitor)  # the vectors monitored stay monitored
            if self.lab.blind:
                new.blind = True  # blinding holds until Ctrl+B, whichever session is open
            self.lab.release()
            self.lab = new
            self.states = {}
            # The dialog said an unsent message is not kept: left in the box, Enter sent it
            # into the other session.
            self.query_one(Composer).clear()
            self.reload()
            for w in new.warnings:  # as on first opening (labels read again, models moved)
                self.notify(w, severity="warning", timeout=8)
            self._load_all()

        def ask_file() -> None:
            self.app.push_screen(
                AskValue(
                    "Open session file",
                    check=check,
                    placeholder="sessions/….json",
                    enter="opens it",
                ),
                done,
            )

        self._then_leave(ask_file, "open another")

    def _then_leave(self, go: Callable[[], None], what: str) -> None:
        """Run `go` (which leaves this session), asking first if there is unsaved work or an
        unsent message (the message box is not part of the session: leaving loses it)."""
        unsaved = self.lab.dirty or self.lab.save_error
        unsent = bool(self.query_one(Composer).text.strip())
        # A run streaming: Ctrl+Q a moment after F5 stopped it unasked (its answers cut,
        # marked cancelled, a forced choice not scored).
        running = self.generating
        if not (unsaved or unsent or running):
            go()
            return

        def done(v: str | None) -> None:
            if v == "save":
                self.action_save()
                if not (self.lab.dirty or self.lab.save_error):  # a failed save keeps us here
                    go()
            elif v == "leave":
                go()

        lost = "The message box holds a message you have not sent (it is not kept)." * unsent
        stop = (
            "The models are still generating: this stops them (what streamed is kept, marked "
            "cancelled)."
        ) * running
        said = " ".join(x for x in (stop, lost) if x)
        if not unsaved:
            choices = [("leave", f"{what.capitalize()} anyway"), ("cancel", "Cancel")]
            # Enter pressed by reflex keeps the message (and the run): Cancel is the default.
            self.app.push_screen(Confirm(said, choices, default="cancel"), done)
            return
        self.app.push_screen(
            Confirm(
                "There is unsaved work." + (f" {said}" if said else ""),
                [
                    ("save", f"Save and {what}"),
                    ("leave", f"{what.capitalize()} without saving"),
                    ("cancel", "Cancel"),
                ],
            ),
            done,
        )

    def action_export(self) -> None:
        if self.lab.blind:  # the markdown names every model, its kind, labels and forced choice
            self.notify(
                "The export names each model and its labels: leave blind mode (Ctrl+B) first",
                severity="warning",
            )
            return
        try:
            path = self.lab.save()
            out = path.with_suffix(".md")
            atomic_write(out, to_markdown(self.lab.session).encode("utf-8"))
        except PsmlabError as exc:
            self.notify(exc.one_line(), severity="error")
            return
        # The file's body is the current branch; after going back to an earlier turn (or
        # editing one) more turns exist, which its tree section only outlines: say where they
        # are written whole, or they seem lost.
        shown, every = len(self.lab.turns), len(self.lab.session.nodes)
        more = (
            f"; {every - shown} more turn(s) (later turns, other branches) are outlined in its "
            f"tree section, written whole by psmlab export --tree {shlex.quote(str(path))}"
            if every > shown
            else ""
        )
        self.notify(f"Exported {out}: the current branch, {shown} turn(s){more}")

    def _selected_turn(self) -> int | None:
        idx = self.query_one(TranscriptView).highlighted
        return idx if idx is not None and idx < len(self.lab.turns) else None

    def action_edit_turn(self) -> None:
        i = self._selected_turn()
        if i is None:
            return
        if self.busy("e edits"):
            return

        def done(v: str | None) -> None:
            if v is not None and v != self.lab.turns[i].content:
                self.lab.edit_turn(i, v)
                self.reload()
                self.notify(f"Edited turn {i + 1} on a new branch; the old one is kept (F8)")

        self.app.push_screen(
            EditText(f"Edit turn {i + 1} ({self.lab.turns[i].role})", self.lab.turns[i].content),
            done,
        )

    def action_delete_turn(self) -> None:
        i = self._selected_turn()
        if i is None:
            return
        if self.busy("d deletes"):  # said, as the footer offers the key
            return

        # Said as it will be: a last turn nothing hangs on is removed, not kept (a trial read
        # "stays in the tree" and found the adopted answer's turn gone).
        outcome = self.lab.session.delete_outcome(i)
        kept = outcome == "kept"
        if kept:
            fate = "the turn, its answers and anything after them stay in the tree (F8)."
        elif outcome == "removed, answer kept":
            fate = (
                "nothing hangs on the turn, so it is removed; the answer it adopted stays among "
                f"the answers to turn {i} (F8)."
            )
        else:
            fate = "nothing was recorded after the turn, so it is removed."

        def done(v: str | None) -> None:
            if v == "delete":
                self.lab.edit_turn(i, None)
                self.reload()
                self.notify(
                    f"Back to before turn {i + 1}"
                    + ("; anything recorded after it is kept (F8)" if kept else "; it was removed")
                )
            else:  # Enter presses Cancel: said, or it read as a Delete that did nothing
                self.notify(f"Turn {i + 1} not deleted")

        self.app.push_screen(
            # Cancel is what Enter presses: a message typed into the transcript that began
            # with d opened this, and its Enter deleted the turn.
            Confirm(
                # Said before, not only after: nothing recorded is lost (a trial asked).
                f"Delete turn {i + 1}? The conversation goes back to before it; {fate}",
                [("delete", "Delete"), ("cancel", "Cancel")],
                default="cancel",
            ),
            done,
        )

    async def action_quit(self) -> None:
        """Quit, asking first if there is unsaved work (the app's own quit comes here too)."""
        self._then_leave(self._leave, "quit")

    def _leave(self) -> None:
        self._stop_workers()
        self.app.exit()

    def _stop_workers(self) -> None:
        self._cancel.set()
        # A forced choice still scoring holds its model's lock, and closing the lab waits for
        # that lock: on a 1.5B model the terminal sat blank for half a minute after Ctrl+Q.
        self._forced_cancel.set()

    def on_unmount(self) -> None:
        """However the app ends (quit, an error, a test leaving it), running work stops: the
        process otherwise waited for a forced choice to finish scoring before it exited. A
        session opened with Ctrl+O gives its lock up (a clean quit left its .lock behind)."""
        self._stop_workers()
        if self.lab is not self.first_lab:
            self.lab.release()
