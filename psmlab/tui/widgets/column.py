"""One model's column: header (id, kind, format, steering, tok/s, how the turn ended), streamed text,
labels, projections on monitored vectors, sample stepper."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.scalar import Unit
from textual.widgets import Static

from psmlab.tui.widgets.column_parts import body_text, footer_text, header_text
from psmlab.tui.widgets.column_state import (
    ColumnState,
    Sample,
)
from psmlab.tui.widgets.column_text import cut_note, distribution_text
from psmlab.tui.widgets.composer import TypingStartsMessage, own_keys

SHORT_COLUMN = 24  # rows: below this the labeller is named in brief
PANEL_WIDTH = 1 << 12  # `p`: nothing cut to a column's width (the screen wraps it)


class _Header(Static):
    """A column's header: its height decides the room of the panels below it."""

    def on_resize(self, event: events.Resize) -> None:
        if isinstance(self.parent, ModelColumn):
            self.parent.header_resized(self.outer_size.height)


class ModelColumn(TypingStartsMessage, Vertical, can_focus=True):
    """Focus a column (Tab) to act on it: adopt, regenerate, step samples, annotate, inspect."""

    BINDINGS = [
        # None of a column's keys joins the footer: with r and l, F5, Ctrl+A and F8 fell off it
        # at 80 columns, and its a read "Adopt" twice beside Ctrl+A's (F1 lists every key).
        Binding("a", "screen.adopt", "Adopt", show=False),
        Binding("r", "screen.regenerate_column", "Regenerate", show=False),
        Binding("left_square_bracket,left", "step(-1)", "Prev sample", show=False),
        Binding("right_square_bracket,right", "step(1)", "Next sample", show=False),
        Binding("left_curly_bracket", "screen.step_run(-1)", "Prev run", show=False),
        Binding("right_curly_bracket", "screen.step_run(1)", "Next run", show=False),
        Binding("c", "screen.compare", "Compare", show=False),
        Binding("l", "screen.annotate", "Label", show=False),
        Binding("i", "screen.inspect", "Inspect", show=False),
        Binding("s", "screen.settings", "Settings", show=False),
        Binding("p", "panel", "Whole panel", show=False),
        Binding("comma", "token(-1)", "Prev token", show=False),
        Binding("full_stop", "token(1)", "Next token", show=False),
        # The answer scrolls from the column itself: its body is not a second Tab stop.
        Binding("up", "scroll_body(-1)", "Scroll up", show=False),
        Binding("down", "scroll_body(1)", "Scroll down", show=False),
        Binding("pageup", "scroll_body(-10)", "Page up", show=False),
        Binding("pagedown", "scroll_body(10)", "Page down", show=False),
    ]

    # Keys a column acts on; any other printable key goes to the message box.
    OWN_KEYS = own_keys(BINDINGS)

    def nothing_to_act_on(self, key: str) -> bool:
        """The column key would only say it cannot act (no answer to adopt or label, no message
        to answer): then it is a letter of a message, never neither ('are you sure?' typed into
        a fresh column lost its 'ar')."""
        if key in ("a", "l", "p"):  # no sample yet (a sample streaming still gets the key's word)
            return not self.state.samples
        if key == "r":
            return not getattr(getattr(self.screen, "lab", None), "turns", True)
        if key in ("left_square_bracket", "right_square_bracket"):
            # One sample, nothing to step to: a trial's "[bold]x[/]" lost its "[" unsaid.
            return len(self.state.samples) <= 1
        return False

    def __init__(self, state: ColumnState, display_name: str, *, blind: bool = False) -> None:
        super().__init__(classes="column")
        self.state = state
        self.display_name = display_name
        # Blind: nothing that gives the model away (kind, format, how its turn ended, template
        # warnings) and no earlier labels or forced-choice numbers on screen.
        self.blind = blind
        self._shown: dict[str, Text] = {}  # what each part shows now (see _put)
        self._dist_rows = 0  # lines the labels panel shows now (the footer gets the rest)
        self._foot_want = 3  # lines the footer would take whole (the panel leaves it up to 3)
        self._fit_header = 0  # the header's height the panels were last fitted below
        # The answer shown last while the user was in this column (None: an unfinished one):
        # the answer picker highlights it, and never one the user was not shown here.
        self.looked: str | None = None
        # Whether the user acted in the column since focus came (a key of its own, a click, a
        # scroll): focus that only passes through on Tab is not looking (a trial Tabbed past
        # a column and the picker offered its answer "looked at last").
        self.engaged = False

    def compose(self) -> ComposeResult:
        yield _Header(classes="col-header")
        with VerticalScroll(classes="col-body", can_focus=False):
            yield Static(classes="col-text")
        yield Static(classes="col-dist")
        yield Static(classes="col-footer")

    def on_mount(self) -> None:
        self.refresh_view()

    def on_resize(self, event: events.Resize) -> None:
        """The forced choice's bars are shown only when they fit: redraw at the new width (as
        `refresh_view` draws it: blind, the panel stays hidden)."""
        self._shown.clear()  # every part was fitted to the old width and height (_fit)
        # A short column names its labeller in brief (distribution_text); the panels' heights
        # follow the column's (_fit).
        self.set_class(event.size.height < SHORT_COLUMN, "-short")
        self.refresh_view()
        # Once more after the layout: the parts' new widths and heights apply then.
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        self._shown.clear()
        self.refresh_view()

    def note_looked(self) -> None:
        """The user is in the column and has acted in it (the screen says so as focus moves
        here, `refresh_view` while it stays): the answer on screen is the one they looked at
        last. Focus alone, passing through, changes nothing."""
        if not self.engaged or self.held:  # a held answer is not on screen
            return
        cur = self.current
        self.looked = cur.record.id if cur is not None and cur.record is not None else None

    def _scoring_any(self) -> bool:
        """Some column's forced choice is being scored (this one's, or, on a lab screen, any)."""
        states = getattr(self.screen, "states", None) if self.is_attached else None
        if isinstance(states, dict):
            return any(st.forced_pending for st in states.values())
        return self.state.forced_pending

    @property
    def held(self) -> bool:
        """Blind, during a run: the answers wait until every column's run has ended."""
        return self.blind and self.state.running

    @property
    def current(self) -> Sample | None:
        s = self.state
        return s.samples[s.shown] if 0 <= s.shown < len(s.samples) else None

    def engage(self) -> None:
        """The user acts in the column: what it shows now is looked at."""
        self.engaged = True
        self.note_looked()

    def on_blur(self) -> None:
        # A later visit looks again only when the user acts then: a column Tabbed past after
        # new answers came never offers them as looked at.
        self.engaged = False

    def on_click(self) -> None:
        self.engage()

    def on_mouse_scroll_down(self) -> None:
        self.engage()

    def on_mouse_scroll_up(self) -> None:
        self.engage()

    def action_step(self, delta: int) -> None:
        self.engaged = True  # refresh_view notes the sample stepped to
        n = len(self.state.samples)
        if n:
            self.state.shown = (self.state.shown + delta) % n
            self.refresh_view()

    def action_token(self, delta: int) -> None:
        self.engage()
        if self.blind:
            self.app.notify(
                "Tokens are hidden in blind mode: their boundaries name the tokenizer "
                "(Ctrl+B reveals)",
                severity="warning",
            )
            return
        cur = self.current
        toks = cur.record.token_logprobs if cur is not None and cur.record is not None else None
        if not toks:
            self.app.notify(
                "No token probabilities for this sample (F7 records them)", severity="warning"
            )
            return
        # The answer's own tokens: the stop string's after them are not on screen (a trial's
        # cursor sat on "token ':'" of the next speaker's "User:").
        k = min(len(toks), cur.record.answer_tokens()) if cur is not None and cur.record else 0
        if k == 0:
            self.app.notify(
                "This answer has no token of its own: its tokens are the stop string's",
                severity="warning",
            )
            return
        at = -1 if self.state.cursor is None else self.state.cursor
        self.state.cursor = max(0, min(k - 1, at + delta))
        self.refresh_view()

    def action_scroll_body(self, lines: int) -> None:
        self.engage()
        self.query_one(".col-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def _put(self, selector: str, content: Text) -> None:
        """Show `content` in one part of the column. While tokens stream, most parts do not change
        and the text grows within its last line most of the time: an unchanged part is left
        alone, and a layout pass (the costly part of a redraw with two columns, ~14 ms here)
        is asked for only when the part's height changes."""
        widget = self.query_one(selector, Static)
        if self._shown.get(selector) == content:
            return
        self._shown[selector] = content
        widget.update(self._fit(widget, content), layout=False)
        width, height = widget.content_size
        # Textual's own measure of the new content (the widget's content-height cache was
        # cleared by the update); a part not laid out yet always gets a layout.
        if not width or widget.get_content_height(widget.size, widget.size, width) != height:
            widget.refresh(layout=True)

    def action_panel(self) -> None:
        """The labels panel and the sample's details whole, scrollable: a short window cuts
        them ("… 21 more lines cut"), and they held the forced choice and the archetypes."""
        self.engage()
        from psmlab.tui.screens.dialogs import TextScreen

        parts = [self._shown.get(p) for p in (".col-dist", ".col-footer")]
        if not self.blind and parts[0] is not None:
            # Said whole here: a column said its labeller in brief ("self-id (κ 0.59)"),
            # without what the kappa was measured against or on how many texts.
            parts[0] = distribution_text(self.state, 1 << 16, short=False)
        if parts[1] is not None and not self.held:
            # Whole too: the column's footer cut each warning to one line (a trial's "⚠ the
            # messages contain <|im_end|>, ‹|im_start…" was cut here as well).
            parts[1] = footer_text(self.state, self.current, self.blind, PANEL_WIDTH, whole=True)
        body = Text("\n\n").join(p for p in parts if p is not None and p.plain.strip())
        self.app.push_screen(TextScreen(f"{self.display_name}: labels and details", body))

    def header_resized(self, height: int) -> None:
        """The panels below were fitted to the header's height (_fit): once a taller or shorter
        one is laid out (a "next run: …" line added), they are fitted again."""
        if height != self._fit_header:
            self._shown.pop(".col-dist", None)
            self._shown.pop(".col-footer", None)
            self.refresh_view()

    def _fit(self, widget: Static, content: Text) -> Text:
        """`content` as it fits the part (app.tcss max-height, and what the column leaves it):
        a part taller than that ends in a line saying how much was cut, never silently."""
        limit = widget.styles.max_height
        width = widget.content_size.width or self.content_size.width
        panel = widget.has_class("col-dist") or widget.has_class("col-footer")
        capped = limit is not None and limit.unit == Unit.CELLS
        if (not capped and not panel) or width <= 0:
            return content
        lines = content.wrap(self.app.console, width)
        # The labels panel has no cap of its own: the column's height alone bounds it (below),
        # so a taller window shows all of it.
        rows = int(limit.value) if capped and limit is not None else len(lines)
        if self.content_size.height and panel:
            # Below the header (as last laid out) and a third of the column for the answer (at
            # least 3 lines), the labels panel comes first (leaving the footer a line), then the
            # footer: in a 10-row column the layout would otherwise drop the footer, warnings and
            # all, unsaid; in a 20-row one fixed short panels left the answer blank lines.
            header = self.query_one(".col-header")
            answer = max(3, self.content_size.height // 3)
            self._fit_header = header.outer_size.height
            space = self.content_size.height - self._fit_header - answer
            # The panel leaves the footer up to 3 lines (which sample is shown, its label, a
            # prompt warning: a trial at 100x30 had the forced choice's lines push the label
            # out, leaving "sample 1/1 · seed … (+1 line cut)"), but in a short column keeps 3
            # of its own (its heading, the self-id shares, what it cut) before the footer gets
            # more than one.
            other = (
                min(3, self._foot_want, max(1, space - 3))
                if widget.has_class("col-dist")
                else self._dist_rows
            )
            rows = max(1, min(rows, space - other))
        if len(lines) > rows:
            if widget.has_class("col-footer"):
                # Its first lines are which sample is shown ("sample 2/3 …") and its label:
                # kept, the last one saying how much was cut (a trial at 120x40 with N=3 saw
                # only "2 lines cut"; a line of its own took the label's place).
                left = len(lines) - rows
                more = f" (+{left} line{'s' if left > 1 else ''} cut)"
                last = lines[rows - 1].copy()
                last.truncate(max(1, width - len(more)), overflow="ellipsis")
                last.append(more, style="dim")
                content = Text("\n").join([*lines[: rows - 1], last])
            elif rows == 1:
                part = "labels panel" if widget.has_class("col-dist") else "sample details"
                note = f"… {part}: {len(lines)} lines cut"
                content = Text(note if len(note) <= width else f"… +{len(lines)}", "dim")
            else:
                content = cut_note(
                    content,
                    lines,
                    rows - 1,
                    width,
                    self.app.console,
                    shares=widget.has_class("col-dist"),
                )
        if widget.has_class("col-dist"):
            fitted = min(len(lines), rows)
            if fitted != self._dist_rows:  # the footer's room changed: fit it again
                self._dist_rows = fitted
                self._shown.pop(".col-footer", None)
        return content

    def refresh_view(self, *, follow: bool = False) -> None:
        if not self.query(".col-header"):  # removed (a reload) before it was drawn
            return
        s = self.state
        cur = self.current
        if cur is not None and self.held:
            # Blind while the run goes on: nothing of the answer, nor that it has finished.
            cur = Sample(given=cur.record.prefill if cur.record is not None else cur.given)
        self._put(".col-header", header_text(s, cur, self.display_name, self.blind))
        # F5 before any message only says "Send a message first": not offered then.
        # Read only when the column shows neither an answer nor an error, as before the split
        # (a column being removed has no screen).
        asked = (
            cur is not None
            or bool(s.error)
            or bool(getattr(getattr(self.screen, "lab", None), "turns", True))
        )
        self._put(".col-text", body_text(s, cur, self.blind, asked))
        foot = footer_text(s, cur, self.blind, self.content_size.width)
        dist = self.query_one(".col-dist", Static)
        foot_width = self.query_one(".col-footer", Static).content_size.width
        want = max(1, len(foot.wrap(self.app.console, foot_width or self.content_size.width or 1)))
        if want != self._foot_want:  # the panel's room changed: fit it again
            self._foot_want = want
            self._shown.pop(".col-dist", None)
        if self.blind:
            hidden = Text("labels and forced choice hidden in blind mode (Ctrl+B reveals)", "dim")
            if self._scoring_any():
                # Said even blind (every column is scored, whatever its model): hidden, a quick
                # next message stopped the scoring with nothing on screen to say wait. Said in
                # every column until the last is scored: the columns are scored one by one, and
                # the first one done would name the faster model.
                hidden.append("\nforced choice: scoring…", "dim italic")
            self._put(".col-dist", hidden)
            dist.tooltip = None
        else:
            self._put(
                ".col-dist",
                distribution_text(
                    self.state, self.content_size.width, short=self.has_class("-short")
                ),
            )
            dist.tooltip = s.forced.measures if s.forced else None
        self._put(".col-footer", foot)  # after the panel: it gets the rows the panel leaves
        # Another sample, run or a finished answer, seen here (a column being removed has no screen).
        if self.is_attached and self.screen.focused is self:
            self.note_looked()
        if follow:
            self.query_one(".col-body", VerticalScroll).scroll_end(animate=False)
