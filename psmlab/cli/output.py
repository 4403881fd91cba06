"""Rich rendering for the CLI: side-by-side columns, model and label-share tables. Model text is never markup."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from psmlab.core.domain.classify import LABELLER, classify, left_out, turn_end, turn_end_short
from psmlab.core.domain.personas import Persona, load_personas
from psmlab.core.domain.stats import (
    FRAGMENT_ENDS,
    Diff,
    LabelShares,
    fmt_diff,
    fmt_rate,
    fmt_share,
    many_comparisons_note,
    overlapping,
)
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.domain.types import AutoLabel, Generation
from psmlab.core.errors import PsmlabError
from psmlab.core.models.spec import ModelSpec
from psmlab.core.session.records import added_note, failed_layers, reference_note
from psmlab.views import safe


def generation_cell(
    g: Generation | None,
    streamed: str = "",
    error: str | None = None,
    question: str | None = None,
    auto: AutoLabel | None = None,
) -> Text:
    """One sample: its text, how the turn ended, and its labels (`auto`: the run's final labels,
    e.g. a judge's; else the rules', computed here while the run streams)."""
    if error:
        return safe(f"error: {error}", "bold red")
    out = Text()
    if g is None:
        out.append_text(safe(streamed))
        out.append("▌", style="dim")
        return out
    if g.prefill:
        out.append_text(safe(g.prefill, "italic green"))
    out.append_text(safe(g.text))
    out.append("\n")
    # How the turn ended sits beside the labels: for a base-model frame, starting the next
    # speaker's line is the normal end of a turn, not a persona.
    meta = f"{g.token_words()} · {turn_end(g.finish_reason, g.stop_string)}"
    if g.timings:
        meta += f" · {fmt_rate(g.timings.tokens_per_s)}"
    meta += f" · seed {g.seed}"
    if g.prefill:  # green above; said in words too, for a terminal or pipe without colour
        meta += f" · starts with the prefill {g.prefill!r} (given, not generated: read as context, only claims reaching past it are labelled)"
    out.append_text(safe(meta, "dim"))
    if auto is None:
        auto = _labels(g.text, question, g.prefill)
    arch = ", ".join(auto.labels)
    # A judge gives self-id only; the archetypes are still the rules': say so.
    by = "" if auto.method == LABELLER else f"{LABELLER}: "
    out.append_text(safe(f"\n{auto.method}: self-id {auto.self_id} · {by}{arch}", "cyan"))
    out.append_text(safe(left_out(g.text, auto.method), "dim"))
    return out


@lru_cache(maxsize=1)
def _personas() -> tuple[Persona, ...]:
    return tuple(load_personas()[0])


@lru_cache(maxsize=256)
def _labels(text: str, question: str | None, prefill: str | None = None) -> AutoLabel:
    """A finished sample's automatic labels (the live view redraws often: computed once). The
    question matters: "34." answers "How old are you?" with an age, the same as the shares."""
    return classify(text, list(_personas()), question=question, prefill=prefill)


def side_by_side(
    columns: Sequence[tuple[str, str]],
    n: int,
    done: dict[tuple[str, int], Generation],
    streaming: dict[tuple[str, int], str],
    errors: dict[str, PsmlabError],
    status: dict[str, str] | None = None,
    question: str | None = None,
    labels: dict[str, AutoLabel] | None = None,
) -> Table:
    """One column per model (header: id · kind · format), one row per sample; `question` is the
    last user turn, which the labels under each sample read; `labels` (by generation id) are the
    run's final labels, so the cells say what the shares count (a judge's, when one labels)."""
    table = Table(show_lines=True, expand=True)
    if n > 1:
        # Samples counted from 1, as the lab ("sample 1/3") and the markdown number them.
        table.add_column("#", width=3, justify="right", style="dim")
    for model_id, header in columns:
        table.add_column(safe(f"{model_id}\n{header}", "bold"), ratio=1, overflow="fold")
    for i in range(n):
        row: list[Any] = [str(i + 1)] if n > 1 else []
        for model_id, _ in columns:
            err = errors.get(model_id)
            key = (model_id, i)
            if err is not None and key not in done:
                row.append(generation_cell(None, error=err.one_line()) if i == 0 else Text(""))
            elif key in done:
                g = done[key]
                auto = (labels or {}).get(g.id)
                row.append(generation_cell(g, question=question, auto=auto))
            elif key in streaming:
                row.append(generation_cell(None, streaming[key]))
            else:
                row.append(Text((status or {}).get(model_id, "…"), style="dim"))
        table.add_row(*row)
    return table


def models_table(specs: Sequence[ModelSpec]) -> Table:
    table = Table(expand=False)
    for col in ("id", "kind", "default format", "template", "size", "source", "path"):
        # Ids are copied into -m, formats into -f: never broken over lines; paths fold.
        table.add_column(col, overflow="fold", no_wrap=col not in ("source", "path"))
    for s in specs:
        kind = s.kind + (" (override)" if s.kind_overridden else "")
        table.add_row(
            safe(s.id),
            kind,
            safe(s.default_format),
            "yes"
            if s.has_chat_template
            else ("unknown" if s.is_remote and not s.vocab_path else "no"),
            "server" if s.is_remote else f"{s.size / 1e6:.0f} MB",
            safe(s.source),
            safe(s.path),
        )
    return table


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


# In a pipe or a file rich assumes 80 columns and folds every cell ("bias-correcte" / "d",
# "helpful-assist…"): wide enough for the tables whole, unless COLUMNS says otherwise.
PIPE_WIDTH = 240
SPARK_W = 24  # blocks of a per-token sparkline in `ask --monitor`'s table


def out_console(**kwargs: Any) -> Console:
    """The console a command prints its tables on: the terminal's width, or in a pipe
    `PIPE_WIDTH` columns (COLUMNS, when set, wins either way)."""
    piped = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    # Piped, a line of prose stays one line (folded at 240 it split "alpha 0.56 (0.18 to
    # 0.84)" over two, and a grep for it lost the interval); tables keep their width.
    kwargs.setdefault("soft_wrap", piped)
    return Console(width=PIPE_WIDTH if piped else None, **kwargs)


def shares_table(shares: dict[str, LabelShares], labeller: str) -> Table:
    """Per model, the share of samples with each automatic label at both levels (k/n with a
    Wilson 95% interval; an absent class shows the interval's upper bound), and beside them how
    the turns ended. The caption names the labeller and its measured agreement with people."""
    table = Table(
        title="automatic labels (check the spans before you trust them)",
        caption=terminal_safe(labeller),
    )
    for col in ("model", "level", "label", "k/n share (95% CI)"):
        table.add_column(col)
    for model, ls in shares.items():
        rows = [("self-id", x.label, fmt_share(x)) for x in ls.self_id]
        rows += [("archetype", x.label, fmt_share(x)) for x in ls.archetypes]
        if overlapping(ls.archetypes):  # k/n rows that add up past n, said where they are
            rows.append(("archetype", "", "(some samples carry several)"))
        rows += [
            (
                "turn ended",
                turn_end_short(x.label),
                f"{x.k}/{x.n} (not a label"
                + ("; left out of the shares above)" if x.label in FRAGMENT_ENDS else ")"),
            )
            for x in ls.ends
        ]
        for i, (level, label, share) in enumerate(rows):
            table.add_row(
                safe(model) if i == 0 else "",
                level if i == 0 or rows[i - 1][0] != level else "",
                safe(label),
                share,
                end_section=i == len(rows) - 1,
            )
    return table


def projections_table(generations: Sequence[Generation], watched: dict[str, list[dict]]) -> Table:
    """Per answer and monitored vector: the mean projection per layer and a per-token sparkline
    of the last layer (each scaled to its own range)."""
    from psmlab.core.domain.spark import spark_scale, sparkline

    table = Table(
        title="projection on the monitored vectors (l_out-L per answer token on the unit "
        "vector; mean, and per token at the vector's last layer)",
    )
    for col in (
        "model",
        "sample",
        "vector",
        "mean per layer",
        "per token (the vector's last layer)",
    ):
        table.add_column(col, overflow="fold")
    for g in generations:
        for w in watched.get(g.id, []):
            v = w["vector"]
            # Its file too: two vectors of one archetype were two rows named alike.
            file = v["file"].rsplit("/", 1)[-1] + (
                f", {v['sha256'][:12]}…" if v.get("sha256") else ""
            )
            name = f"{v['archetype']} ({file})" if v.get("archetype") else file
            if w["skipped"]:
                table.add_row(safe(g.model), str(g.sample + 1), safe(name), safe(w["skipped"]), "")
                continue
            means = "  ".join(f"L{L} {x:+.2f}" for L, x in w["projection"].items())
            ref = reference_note(v, list(w["projection"]))
            means += f" ({ref})" if ref else ""
            last = list(w["per_token"])[-1] if w["per_token"] else None
            pts = w["per_token"][last] if last else []
            spark = f"{sparkline(pts, SPARK_W)} {spark_scale(pts, SPARK_W)}" if pts else ""
            if spark and last and failed_layers(v, [last]):  # as the lab marks it
                spark += f" (L{last}: ⚠ failed its held-out test)"
            added = added_note(w.get("added") or {})
            steered = f" (steered{'; ' + added if added else ''})" if w["steered"] else ""
            steered += " (built for another model)" if w.get("note") else ""
            means += f" ({w['baseline']})" if w.get("baseline") else ""
            # Safe: the reference's side names come from the vector file's metadata.
            table.add_row(
                safe(g.model), str(g.sample + 1), safe(name + steered), safe(means), spark
            )
    return table


def differences_table(diffs: list[Diff]) -> Table:
    """The differences table under the shares table (model ids are untrusted text), with the
    many-comparisons note as its caption."""
    table = Table(
        title="differences in self-id share (Newcombe 95% interval)",
        caption=many_comparisons_note(len(diffs)),
    )
    for col in ("self-id", "a", "b"):
        table.add_column(col, overflow="fold")
    table.add_column("a − b [95% CI]", no_wrap=True)
    table.add_column("interval", no_wrap=True)
    for d in diffs:
        table.add_row(
            safe(d.label),
            safe(f"{d.a} {d.k1}/{d.n1}"),
            safe(f"{d.b} {d.k2}/{d.n2}"),
            fmt_diff(d),
            "excludes 0" if d.excludes_zero else "includes 0",
        )
    return table
