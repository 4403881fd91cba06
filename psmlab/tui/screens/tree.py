"""The conversation tree (F8): every branch as a collapsible outline; Enter continues from a turn."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from psmlab.core.session.schema import Session
from psmlab.tui.widgets.transcript import ROLE_STYLE
from psmlab.views import safe


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
            tree: Tree[str] = Tree(Text("conversation start"), data="", id="turn-tree")
            tree.show_root = True
            yield tree

    def on_mount(self) -> None:
        s = self.session
        tree = self.query_one("#turn-tree", Tree)
        on_branch = {t.id for t in s.turns}
        head: TreeNode[str] | None = None

        def add(parent: TreeNode[str], node_id: str | None) -> None:
            nonlocal head
            for t in s.children(node_id):
                # Not ▶/▼: the tree draws those for collapsed and open turns.
                label = Text("» " if t.id == s.head else "● " if t.id in on_branch else "  ")
                label.append(f"{t.role}: ", style=ROLE_STYLE.get(t.role, ""))
                text = " ".join(t.content.split())
                label.append_text(safe(text[:80] + ("…" if len(text) > 80 else "")))
                n_gen = len(s.generations_at(t.id))
                if t.adopted_model and not self.blind:
                    label.append_text(safe(f"  ← {t.adopted_model}", "dim"))
                if n_gen:
                    label.append(f"  ({n_gen} answer{'s' * (n_gen != 1)})", style="dim")
                kid = parent.add(label, data=t.id, expand=t.id in on_branch)
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
