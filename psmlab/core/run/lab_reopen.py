"""A saved session's columns as they were left: each model's file checked, its settings,
steering and the number of samples restored, and what could not be restored said."""

from __future__ import annotations

from pydantic import ValidationError

from psmlab.core.domain.limits import MAX_LAB_SAMPLES
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import PsmlabError
from psmlab.core.models.steering import Steering
from psmlab.core.run.recorder import spec_for_record
from psmlab.core.run.runner import Column
from psmlab.core.session.append import other_file
from psmlab.core.session.relabel import relabel_note
from psmlab.core.session.schema import Session


def reopened_columns(session: Session) -> tuple[list[Column], list[str], int]:
    """The columns to open `session` with, the warnings to show, and N (samples per run)."""
    warnings: list[str] = [note] if (note := relabel_note(session, saved=None)) else []
    configs = []
    for rec in session.models:
        try:
            spec = spec_for_record(rec, warnings)
        except PsmlabError as exc:
            warnings.append(exc.one_line())
            continue
        if problem := other_file(rec, spec, quick=True):
            # Not a column: its next answers would replace the record, and every earlier
            # one would read as the new file's (replay, trace, the export).
            warnings.append(
                f"{problem}: not opened as a column (its answers stay in the session); "
                f"put the recorded file back at {rec.path}, or add this one under another id"
            )
            continue
        last = [g for g in session.generations if g.model == rec.id]
        # As the column was left: settings changed since its last run, else that run's.
        kept = rec.params if rec.params is not None else (last[-1].params if last else {})
        try:
            params = SamplingParams(
                **{k: v for k, v in kept.items() if k in SamplingParams.model_fields}
            )
        except ValidationError as exc:  # a hand-edited file: the defaults, and said
            where = ".".join(str(x) for x in exc.errors()[0]["loc"])
            field = "models[].params" if rec.params is not None else "its last answer's params"
            warnings.append(
                f"{rec.id}: {field} has a malformed {where}; the default settings are used "
                "(F3 sets them)"
            )
            params = SamplingParams()
        steering = None
        if rec.steer:
            try:
                steering = Steering.from_record(rec.steer)
            except PsmlabError as exc:
                # Open it anyway, unsteered and saying so: the recorded answers are all kept.
                warnings.append(f"{rec.id} opens unsteered: {exc.one_line()}")
        configs.append(Column(spec, rec.format, rec.system, rec.prefill, params, steering))
    n_samples = 1
    # N, as the newest run was made (a reopened session went on at N=1 after runs of 8):
    # the last generation appended, and the highest sample index its run recorded (a run
    # cancelled before some samples started records fewer).
    newest = session.generations[-1] if session.generations else None
    if newest is not None and newest.run is not None:
        run = [g for g in session.generations if g.run == newest.run]
        n_samples = max(1, min(1 + max(g.sample for g in run), MAX_LAB_SAMPLES))
    return configs, warnings, n_samples
