"""An experiment run's finished sample rows, and which of them its experiment file still plans
(read-only: a run may still be appending to `results.jsonl`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psmlab.core.errors import PsmlabError, UsageError
from psmlab.core.measure.experiment_spec import ExperimentSpec
from psmlab.core.measure.plan import Job, plan
from psmlab.core.measure.probes import load_probe_set
from psmlab.core.measure.report_given import Given
from psmlab.core.measure.results import changed, is_row, parse_rows
from psmlab.core.models.registry import Registry
from psmlab.core.session.md_text import md_inline, md_plain

# The file, then the command's options (-o DIR, --people FILE), if any.
_PRODUCED_BY = re.compile(r"Produced by `psmlab experiment ([^`]+?)(?: (?:-o|--people) [^`]*)?`")
FIX_RUN = "run psmlab experiment FILE.toml -o DIR first, then give DIR"


def read_rows(results_dir: Path) -> list[dict[str, Any]]:
    """The finished sample rows of an experiment (no errors), the latest row of each key, without
    touching the file (a torn last line of a run still writing is skipped, never truncated)."""
    if not results_dir.exists():
        raise UsageError(f"results directory not found: {results_dir}", FIX_RUN)
    path = results_dir / "results.jsonl" if results_dir.is_dir() else results_dir
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no results.jsonl in {results_dir}", FIX_RUN) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    done, _ = parse_rows(raw, path)  # a torn last line is skipped here, never truncated
    if not done:
        why = "it is empty" if not raw.strip() else "only a line cut short, still being written"
        raise UsageError(f"{path} holds no finished unit ({why})", FIX_RUN)
    rows = [r for r in done.values() if r.get("kind") == "sample" and "error" not in r]
    for r in rows:
        missing = [k for k in ("model", "format", "context", "question", "text") if k not in r]
        if missing:
            raise UsageError(
                f"{path}: unit {r['key']} lacks {', '.join(missing)}",
                "re-run the experiment with this psmlab",
            )
    if not rows:
        raise UsageError(
            f"{path} holds no finished samples (only probes, evals or errors)",
            "give an experiment with questions (samples), or re-run its failed units",
        )
    return rows


def _ours(results: Path) -> bool:
    """Whether a results.jsonl is absent or reads as an experiment's rows (its first line an
    object with a unit "key" and "kind"), as a run stopped before its report leaves it; a first
    line cut short with nothing after it (a full disk in the first write) is a torn row of
    ours, which the results file drops when it resumes."""
    try:
        with results.open("rb") as f:
            first = f.readline()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not first.strip() or not first.endswith(b"\n"):
        return True
    try:
        row = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        row = None
    if isinstance(row, dict) and "key" in row and "kind" in row:
        return True
    # A bad first line above our rows (a hand edit) is ours to mend, which reading it says
    # (`parse_rows`), not a file of someone else's to keep.
    try:
        return any(is_row(line) for line in results.read_bytes().splitlines()[1:])
    except OSError:
        return False


def eval_notes_as_planned(done: dict[str, dict[str, Any]], jobs: list[Job]) -> None:
    """An eval row records how its file was read when it was scored (lines that could not be
    scored, an eval_limit that left items out); a row kept from an earlier run keeps those of
    then, and the report said "its first 3 items only" of a file now read whole. Set, in memory
    (the file keeps its rows as written), to how this run's plan read the file."""
    for job in jobs:
        row = done.get(job.key)
        if job.kind != "eval" or row is None or "error" in row:
            continue
        _, _, _, (skipped, limited), _ = job.payload
        row["skipped_in_file"] = skipped
        if limited:
            row["eval_limit"] = limited
        else:
            row.pop("eval_limit", None)


# The file named whole ("Experiment file: `/abs/study.toml`."): the command line names it as it
# was typed, relative to wherever that run was started.
_EXPERIMENT_FILE = re.compile(r"^Experiment file: (`+)(.+?)\1\.$", re.M)


def recorded_file(report_text: str) -> Path | None:
    """The experiment file a report names whole (None: a report from before it did)."""
    m = _EXPERIMENT_FILE.search(report_text)
    if m is None:
        return None
    body = m.group(2)
    # md_code pads both ends with a space only around a backtick at an end: a path's own
    # trailing space is kept.
    if len(body) > 2 and body[0] == body[-1] == " " and "`" in (body[1], body[-2]):
        body = body[1:-1]
    return Path(body)


def find_experiment_file(results_dir: Path) -> Path | None:
    """The experiment file a run's report.md names, if it is still there: the path recorded
    whole, else the command's ("Produced by `psmlab experiment FILE`", relative to the current
    directory, as it was given)."""
    report = (results_dir if results_dir.is_dir() else results_dir.parent) / "report.md"
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    whole = recorded_file(text)
    if whole is not None and whole.is_file():
        return whole
    m = _PRODUCED_BY.search(text)
    if m is None:
        return None
    path = Path(m.group(1))
    return path if path.is_file() else None


def spec_texts(spec: ExperimentSpec) -> tuple[dict[str, str], dict[str, str | None]]:
    questions = {q.id: q.text for q in spec.questions}
    for name in spec.question_sets:
        questions.update({f"{name}/{i.id}": i.question for i in load_probe_set(name).items})
    return questions, {c.name: c.system for c in spec.contexts}


def given_of(spec: ExperimentSpec) -> Given:
    """The file's question texts and system prompts, for the report to quote."""
    questions, systems = spec_texts(spec)
    return Given(questions, systems)


def covers(spec: ExperimentSpec, rows: list[dict[str, Any]]) -> str | None:
    """What in the rows the experiment file does not describe (None: it describes them all)."""
    questions, contexts = spec_texts(spec)
    for r in rows:
        if r["question"] not in questions:
            return f"question '{r['question']}'"
        if r["context"] not in contexts:
            return f"context '{r['context']}'"
    return None


def planned_rows(
    rows: list[dict[str, Any]],
    spec: ExperimentSpec,
    spec_path: Path,
    registry: Registry | None,
    note: Callable[[str], None],
) -> list[dict[str, Any]]:
    """The rows the experiment file still plans (the report counts only those)."""
    try:
        planned = {j.key: j.settings for j in plan(spec, spec_path.parent, registry)}
    except PsmlabError as exc:  # a model or eval file gone: keep every row, and say so
        note(
            f"cannot tell which samples {spec_path} still plans ({exc.one_line()}); "
            "every finished sample is kept"
        )
        return rows
    # A row made with other settings (an edited temperature or prompt) is not the file's unit.
    kept = [r for r in rows if r["key"] in planned and not changed(r, planned[r["key"]])]
    if len(kept) < len(rows):
        note(
            f"{len(rows) - len(kept)} sample(s) are of units {spec_path} no longer plans, or "
            "plans with other settings (it changed since they ran); they are left out, as "
            "psmlab experiment leaves them out of its report"
        )
    return kept


def probe_question(qid: str) -> str | None:
    """A question taken from a probe set (`question_sets`): its id is `SET/ITEM`."""
    name, sep, item = qid.partition("/")
    if not sep:
        return None
    try:
        items = load_probe_set(name).items
    except PsmlabError:
        return None
    return next((i.question for i in items if i.id == item), None)


def check_owner(target: Path, title: str, file: Path) -> None:
    """Refuse a folder psmlab cannot write its results to: a file; a folder whose report.md,
    summary.csv or results.jsonl psmlab did not make (the user's own files there were written
    over); or the folder of another experiment: its report names another title *and* another
    file (an edited title or a moved file alone is the same experiment). Rows of the two would
    mix in one results.jsonl."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"-o {target} is a file, not a folder", "give a folder with -o DIR")
    _check_owner_record(target, title, file)
    report = target / "report.md"
    try:
        text = report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    made_by = _PRODUCED_BY.search(text) if text is not None else None
    if made_by is None:
        results = target / "results.jsonl"
        rows_ours = _ours(results)  # also when there is none
        theirs = [
            name
            for name, foreign in (
                ("report.md", report.exists()),
                # beside a stopped run's rows, psmlab's own (the report is written last)
                ("summary.csv", (target / "summary.csv").exists() and not results.exists()),
                ("results.jsonl", not rows_ours),
            )
            if foreign
        ]
        if theirs:
            raise UsageError(
                f"{target} holds {', '.join(theirs)} that psmlab experiment did not write "
                "(they would be written over)",
                "give the experiment a folder of its own with -o DIR",
            )
        return
    head = text.split("\n", 1)[0].removeprefix("# ") if text else ""
    # Escapes undone on both sides: a report written before '#' was escaped is the same title.
    if md_plain(head) == md_plain(md_inline(title)):
        return
    # The same file, or one of the same name that was moved: a file of that name that is
    # there and is not this one is another experiment. The path recorded whole is read where
    # there is one; else the command's, as it was given, relative to wherever that run started
    # (from another directory it named no file, and another experiment took the folder over).
    whole = recorded_file(text or "")
    made = whole if whole is not None else Path(made_by.group(1))
    if made.resolve() == file.resolve() or (made.name == file.name and not made.is_file()):
        return
    raise UsageError(
        f"{target} holds the results of another experiment ({md_plain(head)}, made by {made})",
        "give this one its own folder with -o DIR (that folder's results stay as they are)",
    )


# Written when a run starts, before its first row: a run stopped before its report leaves no
# report.md to tell its folder's experiment by, and another experiment took the folder over.
# A name of psmlab's own, marked inside too: a user's experiment.json was written over.
OWNER = "psmlab-experiment.json"
_MARK = "psmlab experiment folder"


def _owner_record(target: Path) -> dict[str, Any] | None:
    """The folder's owner record; None when there is none; raises when a file of that name is
    not psmlab's (it would be written over)."""
    path = target / OWNER
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        rec = None
    if not isinstance(rec, dict) or rec.get("psmlab") != _MARK:
        raise UsageError(
            f"{target} holds {OWNER} that psmlab experiment did not write (it would be written "
            "over)",
            "give the experiment a folder of its own with -o DIR",
        )
    return rec


def _check_owner_record(target: Path, title: str, file: Path) -> None:
    """The owner record's experiment against this one, by the rule the report's is judged by:
    another title *and* another file that is still there. A folder without rows is nobody's
    yet (a run killed before its first unit): nothing of two experiments can mix in it."""
    rec = _owner_record(target)
    results = target / "results.jsonl"
    if rec is None or not results.is_file() or not results.stat().st_size:
        return
    made, head = Path(str(rec.get("file"))), str(rec.get("title"))
    if head == title or made.resolve() == file.resolve():
        return
    # The file was moved (by the name it was given, or a link's target's name).
    if made.name in (file.name, file.resolve().name) and not made.is_file():
        return
    raise UsageError(
        f"{target} holds the results of another experiment ({head}, made by {made})",
        "give this one its own folder with -o DIR (that folder's results stay as they are)",
    )


def claim_folder(target: Path, title: str, file: Path) -> int | None:
    """Make `target` this run's: take its writer lock (an open fd; the kernel frees it if the
    run dies), so two runs never append to one results.jsonl at once; under it, refuse another
    experiment's folder (`check_owner`) and record whose folder it is. None: the filesystem
    refuses locks (some network and cluster filesystems): the run goes on unlocked."""
    from psmlab.core.errors import SessionLockedError
    from psmlab.core.session.disk import (
        LocksRefusedError,
        acquire_lock,
        atomic_write,
        release_lock,
    )

    check_owner(target, title, file)  # a foreign folder is refused before anything is made
    fd: int | None
    try:
        fd = acquire_lock(target / "results.jsonl", wait_s=0)
    except SessionLockedError as exc:
        holder = re.search(r"\(pid \d+\)", exc.problem)
        raise SessionLockedError(
            f"{target} is in use by another psmlab experiment run"
            + (f" {holder.group(0)}" if holder else ""),
            "wait for it to finish, or give this run its own folder with -o DIR",
        ) from None
    except LocksRefusedError:  # flock itself refused (ENOLCK, ENOSYS, EOPNOTSUPP)
        fd = None
    except PsmlabError as exc:  # a part of the path is a file, or not writable
        raise UsageError(
            f"cannot write results to {target}: {exc.problem.rsplit(': ', 1)[-1]}",
            "give a folder you can write with -o DIR",
        ) from None
    try:
        check_owner(target, title, file)  # again, under the lock: another run may have begun
        record = {"psmlab": _MARK, "file": str(file.resolve()), "title": title}
        atomic_write(target / OWNER, (json.dumps(record, ensure_ascii=False) + "\n").encode())
    except BaseException:
        if fd is not None:
            release_lock(target / "results.jsonl", fd)
        raise
    return fd
