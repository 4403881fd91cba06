"""The conversation tree (F8): every branch as a collapsible outline; Enter continues from a turn."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from psmlab.core.domain.stats import answer_count
from psmlab.core.session.authorship import edited_note, given_by
from psmlab.core.session.schema import Session
from psmlab.tui.widgets.transcript import ROLE_STYLE
from psmlab.views import safe

# The cells of a turn's text a row keeps before its marks are cut: enough to tell turns apart.
MESSAGE_FLOOR = 12


class TurnTree(Tree[str]):
    """The turns, each row fitted to the tree's width: a long message is cut with "…" down to
    its start, then the row's marks (who answered, how many answers) are cut at the edge."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: dict[str, tuple[Text, str, Text]] = {}  # turn id: head, message, tail

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        row = self.rows.get(node.data or "")
        if row is None:
            return super().render_label(node, base_style, style)
        head, message, tail = row
        depth, up = 0, node.parent
        while up is not None:
            depth, up = depth + 1, up.parent
        # The tree's guides take guide_depth cells a level; its expand icon (a branch's only) two.
        width = self.scrollable_content_region.width
        room = max(4, width - depth * self.guide_depth - (2 if node.allow_expand else 0))
        label = head.copy()
        # Measured as drawn: safe() shows a control character as a wider escape.
        text = safe(message)
        keep = room - head.cell_len - tail.cell_len
        if width and keep < text.cell_len:  # (0 wide: not laid out yet)
            # The message gives way first, but keeps its start: the marks say who wrote the
            # turn, its words which turn it is (at 80 columns a lone "…" left sibling branches
            # alike, a trial). The marks are cut after that.
            floor = min(text.cell_len, MESSAGE_FLOOR, max(1, room - head.cell_len))
            text.truncate(max(floor, keep), overflow="ellipsis")  # by cells: wide count twice
        label.append_text(text)
        label.append_text(tail)
        if width:  # too narrow for the marks too: they are cut last, so the row ends in "…"
            label.truncate(room, overflow="ellipsis")
        return self._with_icon(node, label, base_style, style)

    def _with_icon(self, node: TreeNode[str], label: Text, base_style: Style, style: Style) -> Text:
        was = node._label
        node._label = label  # Tree draws the label it holds, with the expand icon before it
        try:
            return super().render_label(node, base_style, style)
        finally:
            node._label = was


class TreeScreen(ModalScreen[str | None]):
    """Returns the id of the turn to continue from (None: stay where you are)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Back")]

    def __init__(self, session: Session, *, blind: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.session = session
        self.blind = blind  # adopted answers are not attributed to a model

    def compose(self) -> ComposeResult:
        s = self.session
        with Vertical(classes="dialog full"):
            yield Static(
                f"{len(s.leaves())} branch{'es' * (len(s.leaves()) != 1)} · ● the current "
                "branch · » where you are · Enter: continue from that turn · Esc: back",
                classes="dialog-title",
            )
            tree = TurnTree(Text("conversation start"), data="", id="turn-tree")
            tree.show_root = True
            yield tree

    def on_mount(self) -> None:
        s = self.session
        tree = self.query_one("#turn-tree", TurnTree)
        on_branch = {t.id for t in s.turns}
        head: TreeNode[str] | None = None

        def add(parent: TreeNode[str], node_id: str | None) -> None:
            nonlocal head
            for t in s.children(node_id):
                # Not ▶/▼: the tree draws those for collapsed and open turns.
                lead = Text("» " if t.id == s.head else "● " if t.id in on_branch else "  ")
                lead.append(f"{t.role}: ", style=ROLE_STYLE.get(t.role, ""))
                text = " ".join(t.content.split())
                text = text[:200] + ("…" if len(text) > 200 else "")
                tail = Text()
                gens = s.generations_at(t.id)
                if t.adopted_model and not self.blind:
                    tail.append_text(safe(f"  ← {t.adopted_model}", "dim"))
                if w := given_by(s, t, blind=self.blind):  # as the transcript says it
                    tail.append_text(safe(f" · {w}", "dim"))
                if edit := edited_note(s, t, blind=self.blind):  # as the transcript says it
                    tail.append_text(safe(f"  {edit}", "dim"))
                elif cut := s.adopted_cut(t, blind=self.blind):
                    tail.append_text(safe(f"  ✂ {cut}", "dim"))
                if gens:  # a cancelled or cut-off fragment is not an answer: counted apart
                    tail.append(f"  ({answer_count(g.finish_reason for g in gens)})", style="dim")
                tree.rows[t.id] = (lead, text, tail)
                label = lead + safe(text) + tail
                # A turn with nothing after it is a leaf: no ▶/▼ as if a branch were folded there.
                kid = parent.add(
                    label,
                    data=t.id,
                    expand=t.id in on_branch,
                    allow_expand=bool(s.children(t.id)),
                )
                if t.id == s.head:
                    head = kid
                add(kid, t.id)

        add(tree.root, None)
        tree.root.expand()
        tree.focus()
        if head is not None:  # once the tree has laid out its lines
            self.call_after_refresh(tree.move_cursor, head)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        self.dismiss(event.node.data)  # "" is the start: an empty transcript

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
