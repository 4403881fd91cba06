"""What a column's panels say: the label shares, a template warning in a column's words, and how
much of a part was cut."""

from __future__ import annotations

import re

from rich.console import Console
from rich.containers import Lines
from rich.text import Text

from psmlab.core.domain.quality import LEVELS, kappa_brief
from psmlab.core.domain.stats import FRAGMENT_ENDS, fmt_ends, fmt_share, overlapping
from psmlab.tui.widgets.column_state import ColumnState
from psmlab.tui.widgets.forced_lines import forced_block
from psmlab.views import safe

# A chat template's own text (a default system prompt) is the warning every chat column has:
# its full sentence never fitted a column ("… (a de…" at every size). Said in a column's words;
# F2 shows the text and the whole warning.
_INJECTED = "the chat template injected text that is not in the transcript"


def column_words(warning: str, width: int) -> str:
    """A warning as it fits a column `width` cells wide (the template's warning in short words)."""
    if warning.startswith(_INJECTED):
        for said in (
            "the template added text you did not write (F2 shows it, F3 sets a system prompt)",
            "template added text you did not write: F2 shows it",
            "template added text (F2 shows it)",
        ):
            if len(said) <= width:
                return said
        return said
    return warning


def distribution_text(s: ColumnState, width: int, *, short: bool) -> Text:
    """Label shares over this column's samples (automatic) and the forced-choice distribution."""
    out = Text()
    n = s.auto[0].n if s.auto else 0  # finished samples (cancelled ones are not counted)
    if n > 1 or s.cancelled or s.failed:
        done = "finished " if s.cancelled or s.failed else ""
        out.append(f"auto labels over {n} {done}sample{'s' if n != 1 else ''} ", style="bold")
        # The panel has few lines (_fit): in a narrow (or short) column the whole labeller
        # line would push the shares out of it, so there the labeller is said in brief (its
        # kappa kept).
        narrow = width < len(s.labeller) // 2 or short
        # One labeller, said in brief: each kappa goes on its own shares' line, so the
        # labeller line is short and the self-id shares come second, not cut off below it.
        (one,) = s.methods if narrow and len(s.methods) == 1 else ("",)
        said = one or (s.labeller_brief if narrow else s.labeller)
        out.append_text(safe(f"({said})", "dim"))
        kappa = {lv: f" ({kappa_brief(one, lv, now=True)})" if one else "" for lv in LEVELS}
        if one.startswith("judge:"):  # a judge gives self-id; archetypes are the rules'
            kappa["archetypes"] = f" (marker rules {kappa_brief(one, 'archetypes', now=True)})"
        if s.auto_self_id and s.auto_self_id[0].n:
            out.append("\nself-id", style="bold")
            out.append(kappa["self_id"], style="dim")
            out.append(": ", style="bold")
            seen = [f"{x.label} {fmt_share(x)}" for x in s.auto_self_id if x.k]
            absent = [x for x in s.auto_self_id if not x.k]
            if absent:  # absent classes together: "human, mixed 0/3 (≤ 56%)"
                seen.append(", ".join(x.label for x in absent) + " " + fmt_share(absent[0]))
            out.append_text(safe(" · ".join(seen)))
        elif n == 0:
            out.append("\nself-id: no finished answer to count", style="dim")
        else:  # a session recorded before the self-identification axis
            out.append("\nself-id: not recorded", style="dim")
        out.append("\narchetypes", style="bold")
        out.append(kappa["archetypes"], style="dim")
        out.append(": ", style="bold")
        arch = " · ".join(f"{x.label} {fmt_share(x)}" for x in s.auto[:3])
        out.append_text(safe(arch or "—"))
        if overlapping(s.auto):  # shares that add up past 100%, said
            out.append(" (some carry several)", style="dim")
        out.append_text(safe(f"\nturns ended: {fmt_ends(s.ends)}", "dim"))
        empty = sum(
            1
            for x in s.samples
            if x.record is not None
            and x.record.finish_reason not in FRAGMENT_ENDS
            and not x.record.full_text.strip()
        )
        if empty:  # an empty answer claims nothing: counted as none, and said to be empty
            out.append(f" ({empty} empty: self-id none)", style="dim")
        if s.cancelled:  # a fragment is not a sample of what the model says
            out.append(f" ({s.cancelled} cancelled: not in the shares)", style="dim")
        if s.failed:  # nor is an answer an error cut off
            out.append(f" ({s.failed} cut off by an error: not in the shares)", style="dim")
    # Finished answers with no forced choice get a line too ("not scored"), never a blank.
    finished = bool(s.samples) and all(x.record is not None for x in s.samples)
    if s.forced or s.forced_error or s.forced_pending or finished:
        if out:
            out.append("\n")
        out.append_text(forced_block(s, width))
    return out


# A share as the panel writes it: "3/12 25% (9%–53%)" or "0/12 (≤ 24%)".
_SHARE = re.compile(r"\d+/\d+ (\d+% )?\(")


def _whole_shares(line: Text, rows: int, width: int, console: Console) -> Text | None:
    """As many of the line's " · "-separated shares as fit `rows` whole (each with its n and
    interval), ending in "…" when some are left out; None when not even the first fits."""
    segments = line.split(" · ")
    for k in range(len(segments), 0, -1):
        part = Text(" · ").join(segments[:k])
        if k < len(segments):
            part.append(" …", "dim")
        if len(part.wrap(console, width)) <= rows:
            return part
    return None


def cut_note(
    content: Text, wrapped: Lines, rows: int, width: int, console: Console, *, shares: bool = False
) -> Text:
    """The first `rows` screen lines of `content` and a line saying how many more there are:
    whole lines of the text where they fit (its words stay as written), then as many wrapped
    rows of the next one as are left (in a short column the self-id shares' line would
    otherwise be dropped whole, leaving rows empty). With `shares` (the labels panel), a line
    of shares ("k/n NN% (lo–hi)") is cut between shares, never inside one: a trial at 80x24
    showed "human 1/2 50%" with its interval on the line cut. Where not one share fits below
    the auto labels' heading, the heading gives way to the shares if they then fit (the
    shares' line names its labeller's kappa itself); else the heading stays."""
    kept: list[Text] = []
    for line in content.split("\n"):
        used = sum(len(k.wrap(console, width)) for k in kept)
        parts = line.wrap(console, width)
        if used + len(parts) <= rows:
            kept.append(line)
            continue
        if not (shares and _SHARE.search(line.plain)):
            if rows > used:
                kept.append(Text("\n").join(parts[: rows - used]))
            break
        part = _whole_shares(line, rows - used, width, console) if rows > used else None
        if part is None and len(kept) == 1 and kept[0].plain.startswith("auto labels"):
            part = _whole_shares(line, rows, width, console)
            if part is not None:
                kept.pop(0)
        if part is not None:
            kept.append(part)
        break
    out = Text("\n").join(kept)
    cut = max(1, len(wrapped) - sum(len(k.wrap(console, width)) for k in kept))
    # One line, or it would wrap and be cut itself: in a 14-cell column only "… +12".
    note = f"… {cut} more line{'s' if cut != 1 else ''} cut"
    # p opens the whole panel: a short window cut the forced choice and the archetypes, and the
    # keyboard had no way to them.
    if len(note) + 11 <= width:
        note += " (p: all)"
    out.append("\n" + (note if len(note) <= width else f"… +{cut}"), "dim")
    return out


def no_columns_text(path: object, recorded: int = 1) -> Text:
    """What the lab says where the columns would be when no model of the session opened (or it
    records none: a cut-down file was told "the notice said why", and no notice came)."""
    where = str(path) if path else "the session file"
    if not recorded:
        return safe(
            f"No model column: {where} records no model, so there is nothing to continue. "
            "Start a session on models with psmlab -m MODEL (psmlab models lists them).",
            "dim italic",
        )
    return safe(
        "No model column: none of this session's models could be opened (the notice said "
        f"why). Its recorded answers are kept in {where}: psmlab export and psmlab tree show "
        "them; put the model files back and open it again.",
        "dim italic",
    )
