"""An experiment's sampled answers to one question as a session, so a person can annotate them.

`psmlab experiment-annotate RESULTS_DIR` reads `results.jsonl` (read-only: a run may still be
appending to it) and writes a session the lab opens: the transcript is the question; each column is
one model in one format and context (its system prompt), holding every sample of that cell; the
automatic labels the experiment recorded come along. Samples of units the experiment file no
longer plans (it was edited since) are left out, as `psmlab experiment` leaves them out of its
report. Each generation keeps the experiment's provenance (results, file, unit key, model,
format, context, question, seed, sample, parameters) in `provenance["experiment"]`. With
`blind`, columns are named "Model A", "Model B"... in a shuffled order and the session opens in
the lab's blind mode (no kind, format or automatic label on screen); the models' records keep
their files and sha256 (provenance), so an export still names them. An annotation counts as
blind when it was recorded so: made in blind mode, or `psmlab annotate --blind`.
Generation ids are derived from the unit key and text, so converting the same results twice
gives the same ids (two annotators' sessions can be compared).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.experiment_rows import (
    covers,
    find_experiment_file,
    planned_rows,
    probe_question,
    read_rows,
    spec_texts,
)
from psmlab.core.measure.experiment_spec import ExperimentSpec, load_experiment
from psmlab.core.measure.plan import frame_next_to
from psmlab.core.models.registry import Registry
from psmlab.core.models.spec import DEFAULT_N_CTX, ModelSpec, default_threads
from psmlab.core.session.relabel import relabel_stale
from psmlab.core.session.schema import (
    AutoLabelRecord,
    GenerationRecord,
    ModelRecord,
    Session,
    TurnRecord,
)


@dataclass(frozen=True)
class Cell:
    """One column: a model in one format and context."""

    model: str
    format: str
    context: str


def _cell_ids(cells: list[Cell]) -> dict[Cell, str]:
    """A column id per cell: the model id, plus the format and/or context where that model has
    more than one cell here ("gemma-3-270m (hhh)", "smollm2 (chatml, hal-9000)")."""
    out = {}
    for c in cells:
        mine = [x for x in cells if x.model == c.model]
        parts = []
        if len({x.format for x in mine}) > 1:
            parts.append(c.format)
        if len({x.context for x in mine}) > 1:
            parts.append(c.context)
        out[c] = f"{c.model} ({', '.join(parts)})" if parts else c.model
    return out


def _blind_name(i: int) -> str:
    return f"Model {chr(ord('A') + i)}" if i < 26 else f"Model {i + 1}"


def _spec_for(model: str, prov: dict[str, Any], registry: Registry | None) -> ModelSpec | None:
    if registry is None:
        return None
    for ref in (model, prov.get("model_path"), prov.get("endpoint")):
        if not ref:
            continue
        try:
            return registry.resolve(str(ref))
        except PsmlabError:
            continue
    return None


def _format_for(fmt: str, spec_path: Path | None) -> str:
    """The format as a session records it: a frame path relative to the experiment file, whole."""
    frame = frame_next_to(fmt, spec_path.parent) if spec_path is not None else None
    return str(frame) if frame is not None else fmt


def _model_record(
    col_id: str, cell: Cell, row: dict[str, Any], system: str | None, registry: Registry | None
) -> ModelRecord:
    prov = row.get("provenance") or {}
    params = row.get("params") or {}
    spec = _spec_for(cell.model, prov, registry)
    remote: dict[str, Any] = {}
    if prov.get("backend") == "openai":
        remote = {
            "backend": "openai",
            "endpoint": prov.get("endpoint"),
            "remote_model": prov.get("remote_model"),
            "server_model": prov.get("server_model"),
            "server_version": prov.get("server_version"),
            "api_key_env": spec.api_key_env if spec is not None else None,
        }
    return ModelRecord(
        id=col_id,
        kind=row.get("kind_of_model") or prov.get("kind") or (spec.kind if spec else "base"),
        path=prov.get("model_path") or (spec.path if spec else cell.model),
        sha256=prov.get("model_sha256"),
        size=int(prov.get("model_size") or (spec.size if spec else 0)),
        source=spec.source if spec is not None else "path",
        format=cell.format,
        system=system,
        prefill=row.get("prefill"),
        n_ctx=int(params.get("n_ctx") or (spec.n_ctx if spec is not None else DEFAULT_N_CTX)),
        n_threads=int(
            params.get("n_threads") or (spec.n_threads if spec is not None else default_threads())
        ),
        llama_cpp_python=prov.get("llama_cpp_python"),
        **remote,
    )


def _generation_id(row: dict[str, Any]) -> str:
    digest = hashlib.sha256(f"{row['key']}\0{row['text']}".encode()).hexdigest()
    return "e-" + digest[:12]


def _auto_label(row: dict[str, Any], gen_id: str) -> AutoLabelRecord:
    recorded = row.get("auto_labels")
    data = dict(recorded) if isinstance(recorded, dict) else {"labels": row.get("labels", [])}
    # Only the fields this psmlab's record has (older and newer runs may carry others).
    kept = {k: v for k, v in data.items() if k in AutoLabelRecord.model_fields}
    if kept.get("method", "markers") == "markers" and "judge" not in row:
        kept.setdefault("rules", row.get("rules"))  # rows before the label carried it
    return AutoLabelRecord.model_validate({**kept, "generation_id": gen_id})


def units(rows: list[dict[str, Any]]) -> list[str]:
    """The questions the rows answer, in order: each is one unit to annotate."""
    return list(dict.fromkeys(r["question"] for r in rows))


def session_from_results(
    results_dir: Path,
    *,
    unit: str | None = None,
    blind: bool = False,
    experiment_file: Path | None = None,
    seed: int | None = None,
    registry: Registry | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Session:
    """The session of one unit (one question: every model, format and context that answered
    it, with all their samples) of an experiment's results. `experiment_file` (else the one
    report.md names) supplies the question's text and the contexts' system prompts, and which
    rows it still plans: rows of units an edited file no longer plans are left out, as in its
    report, so the people's labels and the report count the same samples. `on_note` hears
    what was left out, and why nothing could be."""
    rows = read_rows(results_dir)
    questions = units(rows)
    if unit is None:
        if len(questions) > 1:
            shown = ", ".join(questions[:6]) + (", ..." if len(questions) > 6 else "")
            raise UsageError(
                f"{results_dir} holds samples of {len(questions)} questions ({shown})",
                "choose one with --unit QUESTION; each becomes its own session",
            )
        unit = questions[0]
    elif unit not in questions:
        raise UsageError(
            f"{results_dir} has no samples of question '{unit}'",
            f"choose one of: {', '.join(questions)}",
        )
    rows = [r for r in rows if r["question"] == unit]

    spec: ExperimentSpec | None = None
    spec_path = experiment_file
    # Why the file report.md names cannot be used: then a missing question text or system prompt
    # is that mismatch (often a folder holding two experiments' rows), not the results' fault.
    mismatch: str | None = None
    # A file given, edited since the run (a context taken out), describes the rows it still
    # plans: those are kept, and the rest left out with a note, as its report leaves them out.
    notes: list[str] = []
    if experiment_file is not None:
        spec = load_experiment(experiment_file)
        planned = planned_rows(rows, spec, experiment_file, registry, notes.append)
        gap = covers(spec, planned or rows)
        if gap is not None:
            raise UsageError(
                f"{experiment_file} does not describe these results (it has no {gap})",
                "give the experiment file the results were made with",
            )
    else:
        found = find_experiment_file(results_dir)
        if found is not None:
            try:
                candidate = load_experiment(found)
            except PsmlabError as exc:
                candidate = None
                mismatch = f"report.md names {found}, which does not load: {exc.problem}"
            # Found, not given: it must describe every row. A context it lacks may be an edit
            # since, or another file's run into this folder, which it cannot tell apart; given
            # with --experiment, the file is taken as the results' and its plan decides.
            gap = covers(candidate, rows) if candidate is not None else None
            if candidate is not None and gap is None:
                planned = planned_rows(rows, candidate, found, registry, notes.append)
                spec, spec_path = candidate, found
            elif gap is not None:
                mismatch = (
                    f"report.md names {found}, which has no {gap}; the folder may hold rows "
                    "of more than one experiment"
                )

    if spec is not None and spec_path is not None:
        rows = planned
        for n in notes:
            (on_note or (lambda _: None))(n)
        if not rows:
            raise UsageError(
                f"{spec_path} no longer plans any of the samples of '{unit}' in {results_dir}",
                f"run psmlab experiment {spec_path} again, or give --experiment with the file "
                "the results were made with",
            )
    question_texts, systems = spec_texts(spec) if spec is not None else ({}, {"none": None})
    # The rows record the question as it was asked: enough when the file cannot be found (a
    # report names it relative to where the run was started) and every context is "none"; not
    # when a file was found that does not describe the rows (they may be two experiments').
    recorded = {r.get("question_text") for r in rows} - {None}
    text = (
        question_texts.get(unit)
        or probe_question(unit)
        or (str(recorded.pop()) if len(recorded) == 1 and mismatch is None else None)
    )
    if mismatch is not None and (text is None or any(r["context"] not in systems for r in rows)):
        raise UsageError(
            f"the rows of '{unit}' in {results_dir} cannot be matched to one experiment file "
            f"({mismatch})",
            "give --experiment FILE.toml with a file that describes every question and context "
            "of these rows (or with the file as it is now, to annotate the samples it still "
            "plans), or run each experiment into its own -o folder",
        )
    if text is None:
        raise UsageError(
            f"{results_dir} names question '{unit}' but not its text",
            "give the experiment file the results were made with: --experiment FILE.toml",
        )
    for r in rows:
        if r["context"] not in systems:
            raise UsageError(
                f"{results_dir} names context '{r['context']}' but not its system prompt",
                "give the experiment file the results were made with: --experiment FILE.toml",
            )

    if registry is None:
        try:
            registry = Registry()
        except PsmlabError:
            registry = None  # a broken config file: the records take the results' provenance
    cells = list(dict.fromkeys(Cell(r["model"], r["format"], r["context"]) for r in rows))
    rng = random.Random(seed)
    if blind:
        rng.shuffle(cells)
        ids = {c: _blind_name(i) for i, c in enumerate(cells)}
    else:
        ids = _cell_ids(cells)
    title = (spec.title if spec is not None else results_dir.name) + f" · {unit}"
    # Stable turn id: two annotators' sessions of the same results line up turn for turn.
    question = TurnRecord(
        id="t-" + hashlib.sha256(text.encode()).hexdigest()[:12], role="user", content=text
    )
    # Blind: the lab's blind mode too, or the columns' headers would name each one's kind and
    # format and show the automatic labels before the person labels (the lab then names the
    # columns by screen position, as it does in any blind session).
    session = Session(
        title=title + (" · blind" if blind else ""),
        nodes=[question],
        head=question.id,
        blind=blind,
    )
    for cell in cells:
        mine = sorted(
            (r for r in rows if Cell(r["model"], r["format"], r["context"]) == cell),
            key=lambda r: (int(r.get("seed", 0)), int(r.get("sample", 0))),
        )
        system = systems[cell.context]
        # A frame the file names relative to itself is recorded whole: the session is
        # replayed, monitored and opened from other directories.
        fmt = _format_for(cell.format, spec_path)
        session.models.append(
            _model_record(ids[cell], replace(cell, format=fmt), mine[0], system, registry)
        )
        for i, r in enumerate(mine):
            gen_id = _generation_id(r)
            experiment = {
                "results": str(results_dir),
                "file": str(spec_path) if spec_path is not None else None,
                "title": spec.title if spec is not None else None,
                "key": r["key"],
                "unit": unit,
                "model": r["model"],
                "kind": r.get("kind_of_model"),
                "format": r["format"],
                "context": r["context"],
                "question": unit,
                "seed": r.get("seed"),
                "sample": r.get("sample"),
                "params": r.get("params", {}),
                "blind": blind,
            }
            session.generations.append(
                GenerationRecord(
                    id=gen_id,
                    model=ids[cell],
                    format=fmt,
                    sample=i,
                    seed=int(r.get("seed", 0)),
                    text=r["text"],
                    n_tokens=int(r.get("n_tokens", 0)),
                    finish_reason=r.get("finish_reason", "eos"),
                    role_leak=bool(r.get("role_leak", False)),
                    params=r.get("params", {}),
                    prefill=r.get("prefill"),
                    # What the prompt held besides the question (a template's default system
                    # prompt): the annotator is shown what the model saw.
                    warnings=[str(w) for w in r.get("warnings") or []],
                    provenance={**(r.get("provenance") or {}), "experiment": experiment},
                    turn=1,
                    node=session.head,
                    run=f"r-{ids[cell]}",  # one cell's samples: one run of its column
                    system=system,
                )
            )
            session.auto_labels.append(_auto_label(r, gen_id))
    out = Session.model_validate(session.model_dump())
    # Rows the run labelled with other rules: the session gets today's labels (`relabelled`
    # says how many; said once the session is written).
    relabel_stale(out)
    return out


def write_new(session: Session, path: Path) -> Path:
    """Write a new session file; an existing file (perhaps already annotated) is never replaced."""
    from psmlab.core.session.disk import atomic_write
    from psmlab.core.session.file import dumps

    if path.exists():
        raise UsageError(
            f"{path} already exists", "choose another file name (a session is never overwritten)"
        )
    if path.suffix != ".json":
        raise UsageError(f"{path} does not end in .json", "name the session file SOMETHING.json")
    atomic_write(path, dumps(session))
    return path
