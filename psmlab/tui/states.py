"""Column states built from the lab: the run shown at the current turn, its labels, its forced choice.

Plain functions over `Lab` and `ColumnState`: the screen calls them and only draws the result.
"""

from __future__ import annotations

from collections import Counter

from psmlab.core.domain.forced_notes import rests_on_note
from psmlab.core.domain.quality import labeller_brief, labeller_line
from psmlab.core.domain.stats import shares_of
from psmlab.core.measure.probe_answers import prefill_note
from psmlab.core.models.steering import record_label
from psmlab.core.run.lab import Lab
from psmlab.core.run.runner import Column
from psmlab.core.session.run_settings import run_differs
from psmlab.core.session.schema import ForcedRecord, GenerationRecord
from psmlab.core.session.tree import adoptions
from psmlab.tui.widgets.column_state import ColumnState, Forced, Sample, Settings


def build_states(
    lab: Lab, old: dict[str, ColumnState], key: tuple[tuple[str, str], ...]
) -> dict[str, ColumnState]:
    """Each column's newest run at the shown turn, and the forced choice saved for it (`key`: the
    transcript it answers, for the screen's staleness check). Load status carries over."""
    states = {}
    for c in lab.columns:
        was = old.get(c.id)
        # A run's own status ("generating…") ended with it: shown over a turn with no answers
        # yet (after an edit) it said a run was going when none was.
        status = "loading model…" if was is None else was.status
        if status not in ("loading model…", "failed"):
            status = "ready"
        st = ColumnState(c.id, c.spec.kind, c.format_name, status=status)
        st.forced_due = lab.awaiting_answer()
        if was is not None and was.status == "failed":
            st.error, st.error_blind = was.error, was.error_blind
        st.shade = was.shade if was else False
        set_next(st, c)
        st.seed = lab.seed
        runs = lab.runs(c.id)
        st.run_count = len(runs)
        show_run(st, runs, len(runs) - 1)
        show_forced(lab, st, runs, key)
        states[c.id] = st
    count_labels(lab, states)
    return states


def show_forced(
    lab: Lab,
    st: ColumnState,
    runs: list[list[GenerationRecord]],
    key: tuple[tuple[str, str], ...],
) -> None:
    """The saved forced choice for the shown message (also after an adoption), the one scored
    with the shown run's settings where there is one."""
    f = lab.forced_for(st.model_id, runs[st.run_no] if runs else [])
    if f is not None:
        st.forced, st.forced_on = forced_of(f), key


def set_next(st: ColumnState, c: Column) -> None:
    """The column's settings for its next run, which the header compares with the shown run's."""
    st.format, st.system, st.prefill, st.steer = settings_of(c)
    st.params = c.params.model_dump()


def settings_of(c: Column) -> Settings:
    """The column's settings now, as a forced choice scored for its next run records them."""
    return Settings(c.format_name, c.system, c.prefill, c.steering.label() if c.steering else None)


def forced_of(f: ForcedRecord) -> Forced:
    """The panel's view of a saved forced choice."""
    r = f.result
    return Forced(
        r.get("probs") or {},
        r.get("calibrated"),
        f.measures,
        bool(r.get("length_normalized")),
        f.node,
        Settings(f.format, f.system, f.prefill, record_label(f.steer)),
        f.opening,
        f.opening_note,
        prefill_note(
            f.prefill,
            _int(r.get("n_answers")),
            _int(r.get("answers_left_out")),
            _int(r.get("answers_not_continuing_prefill")),
        ),
        tuple(
            note
            for which in ("calibrated", "raw")
            if (note := rests_on_note(which, r.get(f"{which}_rests_on")))
        ),
    )


def _int(v: object) -> int:
    """A count from a saved result (a hand-edited file may hold anything there)."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def show_run(st: ColumnState, runs: list[list[GenerationRecord]], k: int) -> None:
    """Put run `k` (clamped) on the column: its samples, the first one shown."""
    st.run_no = max(0, min(k, len(runs) - 1))
    run = runs[st.run_no] if runs else []
    st.run_differs = run_differs(runs, st.run_no)
    st.samples = [Sample(g.text, g, g.timings.tokens_per_s if g.timings else 0.0) for g in run]
    st.shown, st.cursor = 0, None


def count_labels(lab: Lab, states: dict[str, ColumnState]) -> None:
    """Human and automatic label counts over each column's shown samples, with the labeller, the
    samples' projections on monitored vectors, and which of them continued an assistant turn."""
    autos = {x.generation_id: x for x in lab.session.auto_labels}
    continued = {t.id for t in lab.session.nodes if t.role == "assistant"}
    # An assistant turn a person edited: continuing it is not continuing a model's words. (A
    # turn with no adoption recorded, typed in a transcript or imported, is said plainly.)
    edited = {t.id for t in lab.session.nodes if t.role == "assistant" and t.edited_from}
    unadopted = {t.id for t in lab.session.nodes if t.role == "assistant" and not t.adopted_from}
    head = lab.session.head
    after = {t.id for t in lab.session.nodes if head is not None and t.parent == head}
    adopted = adoptions(lab.session.nodes, {t.id for t in lab.turns}, after)
    for st in states.values():
        recs = [s.record for s in st.samples if s.record is not None]
        ids = [r.id for r in recs]
        # A person's self-id reading counts beside their labels ("self-id none 1"): it is what
        # the agreement statistics compare. A free label spelled like a reading is quoted, so it
        # never counts as one.
        st.labels_of = {}
        for a in lab.session.annotations:
            if a.generation_id in ids:
                st.labels_of.setdefault(a.generation_id, Counter()).update(
                    (
                        *(f'"{x}"' if x.startswith("self-id ") else x for x in a.labels),
                        *((f"self-id {a.self_id}",) if a.self_id else ()),
                    )
                )
        st.labels = sum(st.labels_of.values(), Counter())
        st.auto_labels = {i: autos[i] for i in ids if i in autos}
        st.continued = {r.id for r in recs if r.node in continued}
        st.continued_own = {r.id for r in recs if r.node in edited}
        st.continued_plain = {r.id for r in recs if r.node in unadopted - edited}
        st.adopted = {i: adopted[i] for i in ids if i in adopted}
        st.projections = {}
        for p in lab.session.projections:
            if p.generation_id in ids:
                st.projections.setdefault(p.generation_id, []).append(p)
        ls = shares_of(st.auto_labels.values(), (r.finish_reason for r in recs if r.id in autos))
        st.auto, st.auto_self_id, st.ends = ls.archetypes, ls.self_id, ls.ends
        st.cancelled, st.failed = ls.cancelled, ls.failed
        methods = dict.fromkeys(a.method for a in st.auto_labels.values())
        st.labeller = " · ".join(labeller_line(m, now=True) for m in methods) or st.labeller
        st.labeller_brief = (
            " · ".join(labeller_brief(m, now=True) for m in methods) or st.labeller_brief
        )
        st.methods = tuple(methods) or st.methods


def one_run_here(lab: Lab, n_runs: int) -> str:
    """Why { and } have nowhere to go. Continuing an adopted answer, the runs that answered
    the message are a turn up, in the tree (a trial read "only one run" as the others gone)."""
    shown = lab.shown_node()
    turn = lab.session.node(shown) if shown is not None else None
    if turn is not None and turn.role == "assistant" and not n_runs:
        return "No run continues this answer yet: F5 or r runs one"
    if turn is not None and turn.role == "assistant":
        return (
            "Only one run continues this answer (F5 or r adds one); the runs that "
            "answered the message are in the tree: F8"
        )
    return "Only one run here: F5 or r adds one"


def subtitle(lab: Lab) -> str:
    """The lab's subtitle: the session's state first (a narrow terminal cuts the end, the path)."""
    parts = [f"N={lab.n_samples}"]
    if lab.blind:
        parts.append("BLIND")
    if lab.logprobs:  # F7: said while on, not only in the toast that turned it on
        parts.append("token probs")
    if lab.monitoring:  # the answers are in; their projections are being measured
        parts.append("MEASURING")
    elif lab.monitor:
        parts.append(f"monitor ×{len(lab.monitor)}")
    if lab.save_error:
        parts.append("SAVE FAILED")
    elif lab.dirty:
        parts.append("UNSAVED")
    parts.append(str(lab.path) if lab.path else "not saved yet")
    return " · ".join(parts)
