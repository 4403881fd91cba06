"""The prompt inspector: the exact prompt each model receives, and diffs of one against the others."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TabbedContent, TabPane

from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import PsmlabError
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import Column
from psmlab.tui.keys import in_lab_words
from psmlab.views import prompt_diff, prompt_view


def plain(text: str) -> Content:
    """A tab's title as written: a str title is read as markup ("[reverse]x" drew x reversed)."""
    return Content(terminal_safe(text))


NEXT_RUN = (
    "The prompt the next run sends, with the column's settings now (an answer made with other "
    "settings says so in its header; F9 compares runs). Esc closes; ←/→ switch tabs."
)


MADE = (
    "The prompt the answer on screen was made from (its format, system prompt and prefill as "
    "recorded); the next run's differs: its own tab. Esc closes; ←/→ switch tabs."
)
MADE_AND_NEXT = (
    "The prompt the answer on screen was made from, and the one the next run sends. Esc "
    "closes; ←/→ switch tabs."
)

Prompt = RenderedPrompt | str  # a prompt, or why it cannot be rendered


def _in_words(get: Callable[[Any], RenderedPrompt], arg: Any) -> Prompt:
    try:
        p = get(arg)
    except PsmlabError as exc:
        return in_lab_words(exc.one_line())
    return dataclasses.replace(p, warnings=tuple(in_lab_words(w) for w in p.warnings))


def inspector_prompts(
    lab: Lab, columns: list[tuple[str, Column, str | None, bool]]
) -> tuple[list[tuple[str, Prompt]], int, list[str]]:
    """The inspector's tabs (name, prompt), the focused column's tab and each tab's hint, for
    columns given as (name, column, the id of the answer it shows, focused). A column showing an
    answer shows the prompt that answer was made from (a trial read the next run's, after a
    settings change, as the one the shown run's warning spoke of), and the next run's beside
    it when that differs."""
    prompts: list[tuple[str, Prompt]] = []
    hints: list[str] = []
    at = 0
    for name, c, made, focused in columns:
        if focused:
            at = len(prompts)
        nxt = _in_words(lab.render, c)
        if made is None:
            prompts.append((name, nxt))
            hints.append(NEXT_RUN)
            continue
        was = _in_words(lab.render_made, made)
        if isinstance(was, RenderedPrompt) and isinstance(nxt, RenderedPrompt):
            same = was.text == nxt.text
        else:
            same = was == nxt
        prompts.append((name, was))
        hints.append(MADE_AND_NEXT if same else MADE)
        if not same:
            prompts.append((f"{name} · next run", nxt))
            hints.append(NEXT_RUN)
    return prompts, at, hints


class Inspector(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Close")]

    def __init__(
        self,
        prompts: list[tuple[str, RenderedPrompt | str]],
        focus_index: int = 0,
        hints: list[str] | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.prompts = prompts
        self.focus_index = focus_index
        # What each tab's prompt is: the one an answer on screen was made from, or the next
        # run's (after a settings change they differ).
        self.hints = hints or [NEXT_RUN] * len(prompts)

    def compose(self) -> ComposeResult:
        ok = [(n, p) for n, p in self.prompts if isinstance(p, RenderedPrompt)]
        with TabbedContent(id="inspector", classes="dialog full"):
            for i, (name, p) in enumerate(self.prompts):
                # A model's name is the user's file name: a Text, never read as markup.
                with TabPane(plain(name), id=f"prompt-{i}"), VerticalScroll():
                    # Which prompt this is: the answer on screen's, or the next run's.
                    yield Static(self.hints[i], classes="hint", markup=False)
                    if isinstance(p, RenderedPrompt):
                        yield Static(prompt_view(p, name=name), classes="prompt")
                    else:
                        yield Static(f"cannot render: {p}", classes="error", markup=False)
            # The column the inspector was opened from against each other column (with three
            # models, a diff of the first two alone never shows the third's prompt).
            if len(ok) >= 2:
                here = (
                    self.prompts[self.focus_index]
                    if self.focus_index < len(self.prompts)
                    else ok[0]
                )
                na, pa = here if isinstance(here[1], RenderedPrompt) else ok[0]
                for j, (nb, pb) in enumerate(self.prompts):
                    if (
                        pb is not pa
                        and isinstance(pa, RenderedPrompt)
                        and isinstance(pb, RenderedPrompt)
                    ):
                        title = plain(f"diff {na} ↔ {nb}")
                        with TabPane(title, id=f"diff-{j}"), VerticalScroll():
                            yield Static(prompt_diff(pa, pb, na, nb), classes="prompt")

    def on_mount(self) -> None:
        self.query_one(TabbedContent).active = f"prompt-{self.focus_index}"
