"""The markdown export: the session for people, branch by branch and run by run.

Model text can never break the document (every string goes through `md_inline` or `md_block`),
and the output is a pure function of the session, so exports are reproducible.
"""

from __future__ import annotations

import psmlab
from psmlab.core.session.authorship import given_by
from psmlab.core.session.export_labels import auto_label_table, label_table
from psmlab.core.session.export_runs import forced_section, run_section
from psmlab.core.session.loom_notes import edited_in_loom, loom_answer_model
from psmlab.core.session.md_text import md_block, md_code, md_heading, md_inline
from psmlab.core.session.schema import (
    Session,
    TurnRecord,
)
from psmlab.core.session.tree import adoptions

# How an answer was adopted (`TurnRecord.adopted_how`; "-blind": in blind mode, where the
# person did not know which model wrote it). Sessions before "send" wrote "picker" for both.
# The header line's mark: `-o` writes over a markdown file only when it carries it.
EXPORTED_BY = "exported by psmlab"

_HOW = {
    "send": ", chosen in the answer picker when sending",
    "picker": ", chosen in the answer picker",
    "key": ", adopted in its column",
    "cli": ", by psmlab adopt",
}


def _how(how: str | None) -> str:
    base, blind = (how or "").removesuffix("-blind"), (how or "").endswith("-blind")
    return _HOW.get(base, "") + (" in blind mode" if blind else "")


def to_markdown(s: Session, *, tree: bool = False, branch: str | None = None) -> str:
    """The current branch (or the one ending at turn `branch`, or with `tree` every branch), each
    turn followed by its answers: run by run, with the automatic labels and their intervals, the
    forced choice and the prompt warnings."""
    out: list[str] = [f"# {md_heading(s.title)}", ""]
    # The versions that made the answers, not only the one exporting them (read as theirs).
    made = sorted({str(v) for g in s.generations if (v := g.provenance.get("psmlab"))})
    # And the code fingerprint: the version stays "0.1.0" across commits and edits.
    code = sorted({str(v) for g in s.generations if (v := g.provenance.get("psmlab_code"))})
    # Older answers record none: said, or the fingerprint reads as if it covered them all.
    uncoded = sum(
        1
        for g in s.generations
        if g.provenance.get("psmlab") and not g.provenance.get("psmlab_code")
    )
    out.append(
        f"Session {md_code(str(s.id))} · created {md_inline(s.created)} · updated {md_inline(s.updated)} · "
        f"schema {s.schema_version} · {EXPORTED_BY} {psmlab.__version__}"
        + (f" · answers made with psmlab {md_inline(', '.join(made))}" if made else "")
        + (
            f" (code {md_inline(', '.join(code))}"
            + (f"; {uncoded} of {len(s.generations)} answers record no code" if uncoded else "")
            + ")"
            if made and code
            else ""
        )
    )
    out += _models(s)
    leaves = s.leaves()
    if len(leaves) > 1 or tree:
        out += ["", "## Tree", "", *_outline(s, leaves, s.head)]
    end = s.node(branch).id if branch is not None else s.head
    branches = leaves if tree else ([end] if end is not None else [])
    written: dict[str, int] = {}  # turn id -> the branch that wrote it
    shown: set[str] = set()  # off-branch turns whose runs were written (adopted from there)
    # One branch: an answer adopted on another branch is said to be, not shown as this one's.
    on_path = None if tree or end is None else {t.id for t in s.path(end)}
    # A branch ending at a message: the answers adopted right after it are on the branches that
    # go on from it (several, maybe: each one was marked plainly "adopted", as if this one's).
    after = set() if on_path is None else {t.id for t in s.nodes if t.parent == end}
    # The whole tree: each answer says which branches adopted it (turn 1's answers are written
    # once, under the first branch, while a later branch may be the one that adopted them).
    in_branches: dict[str, list[int]] = {}
    if tree:
        for b, leaf in enumerate(branches, 1):
            for t in s.path(leaf):
                in_branches.setdefault(t.id, []).append(b)
    # Answers on turns the branch below does not show: said at the top too (a trial found the
    # other branches' answers missing and the note saying so at line 430 of 459).
    hidden = (
        0 if on_path is None else sum(1 for g in s.generations if g.node and g.node not in on_path)
    )
    if hidden:
        out += [
            "",
            f"This export follows one branch; the session holds {hidden} "
            f"answer{'s' * (hidden != 1)} to turns off it: `psmlab export --tree` writes "
            "every turn and its answers.",
        ]
    out += _answers(s, None, "the empty transcript", on_path, in_branches, after)
    if not branches and s.nodes:
        # Back to before the first turn (the lab's `d` on turn 1): every turn is still kept.
        out += [
            "",
            f"The current branch is empty (the session went back to before its first turn); "
            f"its {len(s.nodes)} turn(s) are kept: `psmlab export --tree` shows every branch.",
        ]
    for b, leaf in enumerate(branches, 1):
        path = s.path(leaf)
        name = f"Branch {b}" if tree else "Current branch" if leaf == s.head else "Branch"
        if tree and leaf == s.head:
            name += " (current)"
        turns = f"{len(path)} turn{'s' * (len(path) != 1)}"
        out += ["", f"## {name}: {turns}, ending at {md_code(str(leaf))}"]
        for i, t in enumerate(path, 1):
            if t.id in written:
                out += ["", f"Turn {i} ({t.role}) as in branch {written[t.id]}."]
                continue
            written[t.id] = b
            out += ["", f"### Turn {i}: {_who(t, s)}", "", md_block(t.content)]
            out += _answers(s, t.id, f"turn {i}", on_path, in_branches, after)
            out += _adopted_from_elsewhere(s, t, i, path, on_path, in_branches, after, shown)
    out += ["", "## Labels per model", ""]
    # Not the runs written under an adopted turn they were chosen from (`shown`).
    off = (
        []
        if on_path is None
        else [g for g in s.generations if g.node and g.node not in on_path and g.node not in shown]
    )
    if off:
        # One branch above, every answer below: the tables counted (and named turns of)
        # answers the document did not show, unsaid (other branches, or turns past the head).
        out += [
            f"The tables count every answer in the session, {len(off)} of them to turns the "
            "branch above does not show: `psmlab export --tree` shows them all.",
            "",
        ]
    out += label_table(s)
    out += auto_label_table(s)
    return "\n".join(out).rstrip() + "\n"


def _adopted_from_elsewhere(
    s: Session,
    t: TurnRecord,
    i: int,
    path: list[TurnRecord],
    on_path: set[str] | None,
    in_branches: dict[str, list[int]],
    after: set[str],
    shown: set[str],
) -> list[str]:
    """The runs an adopted turn was chosen from, when they answer a turn off this branch: a
    continuation of an answer adopted first, then replaced by adopting one of its continuations.
    The lab shows those runs (and their annotations) under the turn; the branch's export left
    them out, and only the whole tree had them."""
    if on_path is None:  # the whole tree writes that branch as its own
        return []
    gen = (
        next((g for g in s.generations if g.id == t.adopted_from), None) if t.adopted_from else None
    )
    if gen is None or gen.node is None or gen.node in {x.id for x in path} or gen.node in shown:
        return []
    shown.add(gen.node)
    # What the continued turn was, as the record says (a trial's was edited by hand, and the
    # export called it "an answer adopted before").
    was = next((n for n in s.nodes if n.id == gen.node), None)
    what = (
        "a turn edited by hand, then replaced by its continuation"
        if was is not None and was.edited_from
        else "an answer adopted before, then replaced by its continuation"
        if was is not None and was.adopted_from
        else "a turn since replaced by its continuation"
    )
    return [
        "",
        f"Turn {i} was adopted from a run that continues turn {md_code(str(gen.node))}, on another "
        f"branch ({what}); its runs:",
        *_answers(s, gen.node, f"turn {md_code(str(gen.node))}", on_path, in_branches, after),
    ]


def _models(s: Session) -> list[str]:
    out = [
        "",
        "## Models",
        "",
        "The columns' settings now; each run below states the format, system prompt and prefill "
        "it was made with.",
        "",
    ]
    out.append(
        "| model | kind | format (now) | system prompt (now) | prefill (now) | n_ctx | threads | "
        "sha256 | size | llama-cpp-python |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for m in s.models:
        sha = f"{md_code(str(m.sha256[:16]))}" if m.sha256 else "—"
        out.append(
            f"| {md_inline(m.id)} | {m.kind} | {md_inline(m.format)} | {md_inline(m.system)} | "
            f"{md_inline(m.prefill)} | {m.n_ctx} | {'server' if m.endpoint else m.n_threads} | {sha} | "
            f"{'server' if m.endpoint else f'{m.size / 1e6:.0f} MB'} | "
            f"{md_inline(m.llama_cpp_python)} |"
        )
    out.append("")
    for m in s.models:
        line = f"- {md_inline(m.id)}: {md_code(m.path)} (source: {md_inline(m.source)})"
        if m.sha256:
            line += f", sha256 {md_code(str(m.sha256))}"
        if m.endpoint:
            line += (
                f", server model {md_inline(m.server_model or m.remote_model or '?')}, "
                f"server version {md_inline(m.server_version or 'not reported')}"
            )
        if m.error:
            line += f" — **error:** {md_inline(m.error)}"
        out.append(line)
    # A file edited by hand (or cut) can name a model its list lacks: say so, not nothing.
    listed = {m.id for m in s.models}
    for missing in sorted({g.model for g in s.generations} - listed):
        n = sum(g.model == missing for g in s.generations)
        out.append(
            f"- {md_inline(missing)}: **no record in this session** (its file, sha256 and "
            f"settings are unknown; its {n} generation(s) cannot be replayed)"
        )
    return out


def _who(t: TurnRecord, s: Session | None = None) -> str:
    who = t.role.capitalize()
    if t.adopted_from:
        # A turn whose text is not its generation's (the file edited by hand), or whose
        # generation is not in the session, is not passed off as the model's words.
        differs = ""
        if s is not None:
            gen = next((g for g in s.generations if g.id == t.adopted_from), None)
            if gen is None:
                differs = "; that generation is not in this session"
            elif gen.full_text.strip() != t.content:
                differs = "; **its text differs from the generation's** (edited outside psmlab)"
            elif cut := s.adopted_cut(t):
                differs = f"; {cut}"
        who += (
            f" (adopted from {md_inline(t.adopted_model)}, generation {md_code(str(t.adopted_from))}"
            f"{_how(t.adopted_how)}{differs})"
        )
    if t.given:
        # The part the model was given is said with the words it was given, not passed as its own.
        what = given_by(s, t) if s is not None else "continues given text"
        where = f", turn {md_code(str(t.continued))}" if t.continued else ""
        who += f" ({what}{where}; the model wrote only what follows {md_inline(_clip(t.given))})"
    if t.edited_from:
        who += f" (edited by hand from turn {md_code(str(t.edited_from))})"
    elif edited_in_loom(t):
        who += " (edited by hand in loom: not the model's words as it wrote them)"
    if not t.adopted_from and (model := loom_answer_model(t)):
        who += f" (an answer of {md_inline(model)} not adopted in psmlab, read back from loom)"
    return who


def _clip(text: str, n: int = 60) -> str:
    flat = " ".join(text.split())
    return f"“{flat}”" if len(flat) <= n else f"“…{flat[-n:]}”"


def _outline(s: Session, leaves: list[str], head: str | None) -> list[str]:
    """The tree as an indented list: one line per turn, branch numbers at the ends. The current
    position is the head: a branch's end, or a turn inside the tree (then no branch is current:
    the newest branch below it was marked, where `psmlab tree` marked none)."""
    number = {leaf: i for i, leaf in enumerate(leaves, 1)}
    lines: list[str] = []
    for t, depth in s.walk():
        text = " ".join(t.content.split())
        line = f"{'  ' * depth}- {t.role}: {md_inline(text[:70] + ('…' if len(text) > 70 else ''))}"
        line += f" {md_code(str(t.id))}"
        if t.edited_from:  # as the lab's tree and the turn itself say it
            line += f" (edited by hand from {md_code(t.edited_from)})"
        if t.id in number:
            line += f" — branch {number[t.id]}" + (" (current)" if t.id == head else "")
        elif t.id == head:
            line += " — current position (the branches below go on from here)"
        lines.append(line)
    return lines


def _answers(
    s: Session,
    node: str | None,
    where: str,
    on_path: set[str] | None,
    in_branches: dict[str, list[int]] | None = None,
    after: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Every run at one turn, model by model, then the forced choices scored there (`on_path`:
    the exported branch's turns, None for the whole tree, where `in_branches` numbers the
    branches each turn is on)."""
    gens = s.generations_at(node)
    adopted: dict[str, str] = {}
    if on_path is None:
        by: dict[str, set[int]] = {}
        for t in s.nodes:
            if t.adopted_from:
                by.setdefault(t.adopted_from, set()).update((in_branches or {}).get(t.id, []))
        for gen, nums in by.items():
            listed = ", ".join(str(b) for b in sorted(nums))
            adopted[gen] = (
                f" · adopted in branch{'es' if len(nums) > 1 else ''} {listed}"
                if nums
                else " · adopted"
            )
    else:
        adopted = {g: f" · {at}" for g, at in adoptions(s.nodes, on_path, after).items()}
    lines: list[str] = []
    # In the session's model order, as the lab's columns stand (the order generations finished
    # in put the other model first on some turns: a trial).
    place = {m.id: i for i, m in enumerate(s.models)}
    for model in sorted(dict.fromkeys(g.model for g in gens), key=lambda m: place.get(m, 1 << 30)):
        runs = s.runs(model, node)
        for k, run in enumerate(runs, 1):
            lines += ["", *run_section(s, model, run, k, len(runs), adopted)]
    scored = [f for f in s.forced if f.node == node]
    for f in scored:
        lines += ["", *forced_section(f, where)]
    # The lab scored forced choice in this session: at a user message, a model without one says
    # so (a continuation of an assistant turn is never scored).
    asked = node is not None and s.node(node).role == "user"
    if s.forced and asked:
        for model in dict.fromkeys(g.model for g in gens):
            if all(f.model != model for f in scored):
                lines += [
                    "",
                    f"#### Forced choice · {md_inline(model)} · after {where}",
                    "",
                    "Not scored: no forced choice was recorded for this model here (the lab "
                    "scores it after a run while the message waits for its answer; a new "
                    "message, quitting, a model that cannot score, or answers made outside the "
                    "lab leave none).",
                ]
    return lines
