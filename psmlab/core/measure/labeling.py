"""Label any text with the marker rules (or a judge model): self-identification plus archetype labels.

`psmlab label` uses this on a JSONL file, so labels can be compared with people's (`psmlab
agreement`). The labeller is named in every output line, so a label never travels without its
source.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psmlab.core.domain.classify import LABELLER, ROLE_LEAK, UNCLEAR, classify
from psmlab.core.domain.jsonl import read_objects
from psmlab.core.domain.personas import Persona, load_personas, personas_fingerprint
from psmlab.core.domain.selfid import self_identify
from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.domain.types import AutoLabel
from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.label_files import (
    carried_fields,
    kept_fields,
    line_number,
    own_line_numbers,
)
from psmlab.core.measure.label_values import item_id

if TYPE_CHECKING:
    from psmlab.core.backends.pool import ModelPool
    from psmlab.core.domain.stats import LabelShares
    from psmlab.core.measure.judge import Judge
    from psmlab.core.measure.results import ResultsFile
    from psmlab.core.models.registry import Registry
    from psmlab.core.models.spec import ModelSpec
    from psmlab.core.session.schema import Session


def label_text(
    text: str, personas: list[Persona], question: str | None = None, prefill: str | None = None
) -> dict[str, Any]:
    """Both levels of label for one text, with the rule hits (spans) behind each; `question` is
    what the text answers, when known; `prefill`, what it was started with (context only)."""
    sid = self_identify(text, question=question, prefill=prefill)
    auto = classify(text, personas, question=question, prefill=prefill)
    return {
        "self_id": sid.label,
        "archetypes": [x for x in auto.labels if x not in (UNCLEAR, ROLE_LEAK)],
        "self_id_hits": [h.model_dump() for h in sid.hits],
        "archetype_hits": [h.model_dump() for h in auto.hits],
        "labeller": LABELLER,
        "rules": rules_fingerprint(),  # which version of the rules: a label is re-runnable
        # ... and of the persona files the archetypes were read with
        "personas": personas_fingerprint(personas),
    }


def label_jsonl(path: Path, labeller: str = LABELLER) -> list[dict[str, Any]]:
    """`iter_label_jsonl`, all at once."""
    return list(iter_label_jsonl(path, labeller))


def iter_label_jsonl(path: Path, labeller: str = LABELLER) -> Iterator[dict[str, Any]]:
    """Label every line, each yielded as soon as it is labelled (a judge takes seconds a line:
    what is done is kept when the judge's server goes away). Every line is checked before the
    first is labelled. Label every line of a JSONL file (`"text"`, optionally `"id"`, `"question"`, `"model"`);
    the output keeps `id` (or, when the file has none, `line`: the line's position among the
    objects, 1, 2, …) and the line's other fields (`carried_fields`: not its text or anyone's labels). The question's text (`"question_text"`, as experiment rows give it,
    else `"question"`) informs the labels, and a `"prefill"` (the text the answer was started
    with, as experiment rows record it) is read as context by the rules.

    `labeller` is "markers" (the phrase rules) or "judge:MODEL" (a registry id, a .gguf path or
    a server URL: `judge.Judge`); judge rows take their archetypes from the marker rules and say
    so in "archetypes_labeller"."""
    judge_model = parse_labeller(labeller)
    personas = load_personas()[0]
    rows: list[dict[str, Any]] = []
    questions: list[str | None] = []
    prefills: list[str | None] = []
    carried: list[dict[str, Any]] = []
    objects = list(read_objects(path))
    with_id = sum(1 for _, obj in objects if isinstance(obj, dict) and "id" in obj)
    # A line without text is reported before any id problem: it is the more basic fault.
    for i, obj in objects:
        if not isinstance(obj, dict):
            # An array or a bare string is no labelled line: said as what it is.
            raise UsageError(
                f"{path} line {i} is {_json_kind(obj)}, not an object",
                'write each line as an object with a "text": {"text": "..."}',
            )
        if not isinstance(obj.get("text"), str):
            nested = isinstance(obj.get("data"), dict)
            where = (
                ' (a Label Studio task keeps it under "data": export JSON-MIN)'
                if nested
                else f" (its text is {_json_kind(obj['text'])})"
                if "text" in obj
                else ""
            )
            raise UsageError(
                f'{path} line {i} has no "text" string{where}', 'give each line a "text"'
            )
        # Read as context of the text: one that is no text (a number) was dropped unsaid. The
        # question is read from "question_text" when a line has one ("question" is then an id).
        asked = "question_text" if obj.get("question_text") is not None else "question"
        for name in ("prefill", asked):
            if obj.get(name) is not None and not isinstance(obj[name], str):
                raise UsageError(
                    f'{path} line {i} has a "{name}" that is {_json_kind(obj[name])}, not text',
                    f'write it as a string ("{name}": "..."), or leave it out',
                )
    seen: dict[str, int] = {}
    # A file without ids keeps its own distinct "line" numbers (`agreement` pairs by them)
    numbered = not with_id and own_line_numbers(objects)
    for n, (i, obj) in enumerate(objects, 1):
        if with_id and "id" not in obj:  # a position could repeat another line's id
            raise UsageError(
                f'{path} line {i} has no "id" while {with_id} other '
                f"line{'s have' if with_id != 1 else ' has'} one",
                'give every line an "id", or none (then lines are numbered 1, 2, …)',
            )
        # Without an id, a line is numbered by its own "line" numbers, else by its position
        # among the objects (blank lines do not count), as `psmlab agreement` pairs such files.
        ident = obj.get("id", line_number(obj["line"]) if numbered else n)
        if item_id(ident) is None:
            raise UsageError(
                f'{path} line {i} has an "id" that is not a string or number ({json.dumps(ident)})',
                'give every line an "id" of its own, or none',
            )
        key = str(item_id(ident))  # `agreement` matches ids as text: 1, 1.0 and "1" are one
        if key in seen:
            raise UsageError(
                f"{path} line {i} repeats id {json.dumps(ident)} (first on line {seen[key]})",
                'give every line an "id" of its own, or none',
            )
        seen[key] = i
        # A line without an id gets none: an invented id would pair with some other file's item
        # of that id; `line` is its position, and `agreement` pairs such files by line order.
        row: dict[str, Any] = {"id": ident} if "id" in obj else {"line": ident}
        row["text"] = obj["text"]
        # question_text: the words asked, which a judge reads (an experiment row's "question"
        # is an id such as what-are-you)
        row.update({k: obj[k] for k in ("question", "question_text", "model") if k in obj})
        rows.append(row)
        asked = obj.get("question_text", obj.get("question"))
        questions.append(asked if isinstance(asked, str) else None)
        given = obj.get("prefill")
        prefills.append(given if isinstance(given, str) else None)
        carried.append(carried_fields(obj))
    if not rows:
        raise UsageError(f"{path} holds no lines to label", 'one JSON object with "text" per line')
    if judge_model is None:
        for r, q, p, c in zip(rows, questions, prefills, carried, strict=True):
            yield {
                **c,
                **kept_fields(r),
                **_text_when_unkeyed(r),
                **label_text(r["text"], personas, q, p),
            }
        return
    from psmlab.core.measure.judge import iter_judge_rows  # loads a model: only when asked for

    judged_rows = iter_judge_rows(judge_model, rows)
    for r, q, p, c, judged in zip(rows, questions, prefills, carried, judged_rows, strict=True):
        markers = label_text(r["text"], personas, q, p)
        judged["archetypes"] = markers["archetypes"]
        judged["archetype_hits"] = markers["archetype_hits"]
        judged["archetypes_labeller"] = LABELLER
        judged["personas"] = markers["personas"]  # the archetypes' persona files
        yield {**c, **judged, **_text_when_unkeyed(r)}


def _text_when_unkeyed(row: dict[str, Any]) -> dict[str, Any]:
    """A line without an id keeps its text: `agreement` pairs such files by line, and the texts
    are then the only check that a dropped or sorted line did not shift every later pair (a
    trial's output, 20 lines against people's 19, paired shifted with only a note)."""
    return {"text": row["text"]} if "line" in row else {}


def parse_labeller(name: str) -> str | None:
    """None for the marker rules, else the judge's model reference; anything else is a UsageError."""
    if name == LABELLER:
        return None
    kind, sep, model = name.partition(":")
    if kind == "judge" and sep and model.strip():
        return model.strip()
    raise UsageError(
        f"unknown labeller '{name}'",
        "use --labeller markers or --labeller judge:MODEL (a model id from psmlab models, or a .gguf path)",
    )


def resolve_judge(name: str, registry: Registry) -> ModelSpec:
    """The judge model a labeller name ("judge:MODEL") names; an error says the name came from
    the labeller (its class kept: a broken config stays a config error, with its exit code)."""
    model = parse_labeller(name)
    if model is None:
        raise UsageError(f"labeller {name!r} names no judge model", "write judge:MODEL")
    try:
        return registry.resolve(model)
    except PsmlabError as exc:
        try:
            named = type(exc)(f"labeller {name!r}: {exc.problem}", exc.fix)
        except TypeError:  # an error class with other fields: said as a usage error
            named = UsageError(f"labeller {name!r}: {exc.problem}", exc.fix)
        raise named from None


class SampleLabeller:
    """The labeller a run names (an experiment's `labeller`): the marker rules, or a judge model
    for the self-id label, with the rules' archetypes beside it. The judge is loaded into `pool`
    on first use, so naming one costs nothing until a sample needs a label."""

    def __init__(self, name: str, pool: ModelPool, personas: list[Persona]) -> None:
        self.judge_model = parse_labeller(name)
        self.pool, self.personas = pool, personas
        self.personas_fingerprint = personas_fingerprint(personas)
        self._judge: Judge | None = None
        self._lock = threading.Lock()  # experiment lanes label from several threads
        self._spec: ModelSpec | None = None
        if self.judge_model is not None:
            # Named now, not at the first sample: an unknown judge stopped the run later, in
            # words that did not say the name came from `labeller`.
            from psmlab.core.models.registry import Registry

            self._spec = resolve_judge(name, Registry())

    def label(
        self, text: str, question: str | None, prefill: str | None = None
    ) -> tuple[AutoLabel, dict[str, Any] | None]:
        """Both levels of label, and the judge's record (None for the rules). The rules read a
        prefill as context; a judge reads the generated text alone."""
        auto = classify(text, self.personas, question=question, prefill=prefill)
        if self.judge_model is None:
            return auto, None
        judge = self._get_judge()
        r = judge.label(text, question)
        auto = auto.model_copy(
            update={
                "self_id": r["self_id"],
                "self_id_hits": (),
                "method": judge.labeller,
                "rules": None,
            }
        )
        return auto, {k: r[k] for k in ("probs", "logprobs", "judge")}

    def _get_judge(self) -> Judge:
        with self._lock:
            if self._judge is None:
                from psmlab.core.measure.judge import Judge  # loads a model: only when named

                assert self._spec is not None  # resolved with the judge's name
                self._judge = Judge(self.pool.get(self._spec))
            return self._judge


def relabel_stale(results: ResultsFile, labeller: SampleLabeller) -> int:
    """Label again the sample rows the marker rules labelled in another version of them (or
    before rows recorded theirs): one report, one set of rules. The relabelled row is appended
    (the file stays append-only: the old row, its older rows and rows another run appends
    meanwhile are all kept; the last row of a key is its result). The text is the model's and
    stays; a judge's labels are the judge's and stay. Returns how many."""
    if labeller.judge_model is not None:
        return 0
    now = rules_fingerprint()
    stale = [
        row
        for row in results.done.values()
        if row.get("kind") == "sample"
        and "error" not in row
        and "judge" not in row
        and "text" in row
        and row.get("rules") != now
    ]
    for row in stale:
        label, _ = labeller.label(row["text"], row.get("question_text"), row.get("prefill"))
        results.append({**row, **label_fields(label), "rules": now})
    return len(stale)


def label_fields(label: AutoLabel) -> dict[str, Any]:
    """The fields an experiment's sample row keeps of its labels (written and relabelled alike)."""
    return {"labels": list(label.labels), "self_id": label.self_id, "auto_labels": label.to_dict()}


def label_generations(
    generations: list[Any],
    models: list[str],
    question: str | None,
    judge: str | None = None,
    session: Session | None = None,
) -> tuple[dict[str, AutoLabel], dict[str, LabelShares], str, dict[str, dict[str, Any]]]:
    """Every generation's labels (the rules', self-id from a judge model when one is named) and
    the shares per model; with the labeller's name and the judge's records by generation id.
    A judge's self-id labels replace the rules' in `session`'s automatic labels too."""
    from psmlab.core.domain.stats import auto_label_shares, shares_of

    autos, shares = auto_label_shares(generations, models, load_personas()[0], question)
    if judge is None:
        return autos, shares, LABELLER, {}
    from psmlab.core.measure.judge import judge_rows  # loads a judge model only when one is named

    rows = [{"id": g.id, "text": g.text, "question": question} for g in generations]
    judged = {r["id"]: r for r in judge_rows(judge, rows)} if rows else {}
    name = next(iter(judged.values()))["labeller"] if judged else f"judge:{judge}"
    for gid, r in judged.items():
        autos[gid] = autos[gid].model_copy(
            update={"self_id": r["self_id"], "self_id_hits": (), "method": name, "rules": None}
        )
    for m in shares:
        mine = [g for g in generations if g.model == m]
        shares[m] = shares_of((autos[g.id] for g in mine), (g.finish_reason for g in mine))
    keep = ("probs", "logprobs", "judge")
    records = {gid: {k: r[k] for k in keep} for gid, r in judged.items()}
    if session is not None:  # the label with what it rests on: its probabilities and prompt
        for rec in session.auto_labels:
            if rec.generation_id in judged:
                rec.self_id, rec.self_id_hits, rec.method, rec.rules = (
                    autos[rec.generation_id].self_id,
                    (),
                    name,
                    None,
                )
                rec.judge = records[rec.generation_id]
    return autos, shares, name, records


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words: null, a number, an array..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
