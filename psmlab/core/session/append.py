"""Asking into a session file: start a new session, or add the message as its next user turn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from psmlab.core.domain.transcript import Transcript
from psmlab.core.errors import UsageError
from psmlab.core.models.hashing import cached_sha256, total_size
from psmlab.core.models.spec import ModelSpec
from psmlab.core.session.records import ModelRecord, title_of
from psmlab.core.session.schema import Session, TurnRecord


def new_session(title: str | None, message: str | None) -> Session:
    """The session an ask starts when the file does not exist yet (titled by its message)."""
    return Session(title=title or title_of(message or "untitled"))


def next_turn(
    session: Session,
    where: str | Path,
    *,
    created: bool,
    message: str | None,
    transcript_given: bool,
    first: Callable[[], Transcript],
) -> Transcript:
    """Add the asked conversation to `session` and return the transcript the models continue.

    A session just `created` takes the whole conversation `first()` builds. An existing one takes
    only `message`, as its next user turn: a transcript for it is refused (it already has one), and
    so is a session whose last turn is a user message with no adopted answer yet."""
    if created:
        tr = first()
        session.set_turns([TurnRecord(role=t.role, content=t.content) for t in tr.turns])
        return tr
    if transcript_given or message is None:
        raise UsageError(
            f"{where} already holds a session",
            "give only the next message to add a turn to it",
        )
    if session.turns and session.turns[-1].role == "user":
        head = session.turns[-1].id
        answered = [t for t in session.children(head) if t.role == "assistant"]
        # A loom import holds its answers as turns, not generations: the way on is to move to one.
        if answered:
            fix = f"move to one of its {len(answered)} answers: psmlab tree {where} --go ID"
        elif gens := session.generations_at(head):
            # The ids themselves: neither ask's table nor psmlab tree shows them.
            some = ", ".join(f"{g.id} ({g.model} sample {g.sample + 1})" for g in gens[:4])
            more = (
                f", and {len(gens) - 4} more (psmlab export -f jsonl lists them)"
                if len(gens) > 4
                else ""
            )
            fix = f"adopt one first: psmlab adopt {where} ID, one of {some}{more}"
        else:
            fix = f"answer it in the lab (psmlab open {where}) or move: psmlab tree {where} --go ID"
        raise UsageError(f"the last turn of {where} is a user message with no adopted answer", fix)
    tr = session.transcript().with_turn("user", message)
    session.add_turn(TurnRecord(role="user", content=message))
    return tr


def kept_settings(
    session: Session,
    model_id: str,
    *,
    system: str | None,
    fmt: str | None,
    default_format: str,
    steered: bool = False,
) -> tuple[str | None, str | None, list[str]]:
    """A model's system prompt and format for the next turn of an existing session: what was
    given now, else what the session recorded for it (a trial's "You are Marta…" was dropped on
    the next turn without a word, the conversation going on under another prompt). Returns
    (system, format, notes saying what was kept)."""
    rec = session.model(model_id)
    if rec is None:  # a model new to this session: nothing to keep
        return system, fmt, []
    notes = []
    if system is None and rec.system is not None:
        system = rec.system
        short = " ".join(rec.system.split())
        short = short if len(short) <= 60 else short[:59] + "…"
        notes.append(
            # An empty one is kept as "none" (the template's own default stays out), said so:
            # "kept (''); --system '' asks with none" said the same thing twice.
            f"{model_id}: the session asked with no system prompt (--system ''), and so does "
            "this turn; --system TEXT asks with one"
            if not short
            else f"{model_id}: the session's system prompt is kept ({short!r}); "
            "--system '' asks with none, --system TEXT with another"
        )
    # Steering is not kept: a run under a vector is asked for by name, each time.
    if rec.steer and not steered:
        notes.append(
            f"{model_id}: the session's steering ({rec.steer.get('file', 'a vector')}) is not "
            "kept: this turn runs unsteered unless --steer says otherwise"
        )
    if fmt is None and rec.format and rec.format != default_format:
        fmt = rec.format
        notes.append(f"{model_id}: the session's format {rec.format} is kept; -f NAME changes it")
    return system, fmt, notes


def other_file(rec: ModelRecord, spec: ModelSpec, *, quick: bool = False) -> str | None:
    """What is wrong when a session's model id now names other weights (None: the same, or
    nothing to compare): answers of two files under one id could not be told apart (its record
    was replaced, and replay, trace and the export read every earlier answer as the new
    file's). A local model that became a server one, or the reverse, is another model too."""
    if bool(rec.endpoint) != spec.is_remote:
        now = spec.url if spec.is_remote else spec.path
        was = rec.endpoint or rec.path
        return f"model '{spec.id}' was {was} when the session recorded it, and is {now} now"
    if rec.endpoint or not rec.sha256:
        return None
    if quick and cached_sha256(spec.path) is None:
        # Not hashed on this machine yet (opening a session must not read GBs on the UI
        # thread): told apart by size; replay hashes it.
        size = total_size(spec.path) if Path(spec.path).exists() else -1  # a split GGUF whole
        if size == rec.size:
            return None
        return (
            f"model '{spec.id}': {spec.path} is not the file the session recorded "
            f"({size} bytes, recorded {rec.size})"
        )
    now_sha = spec.sha256()
    if now_sha == rec.sha256:
        return None
    if Path(rec.path) == Path(spec.path):
        return (
            f"model '{spec.id}': {spec.path} has changed since the session recorded it "
            f"(sha256 {(now_sha or '?')[:12]}…, recorded {rec.sha256[:12]}…)"
        )
    return (
        f"model '{spec.id}' is {rec.path} in the session (sha256 {rec.sha256[:12]}…), but "
        f"{spec.path} is another file (sha256 {(now_sha or '?')[:12]}…)"
    )


def check_same_files(session: Session, specs: list[ModelSpec], where: Path) -> None:
    """A model id the session has must still name the same weights (`other_file`)."""
    for spec in specs:
        rec = session.model(spec.id)
        problem = other_file(rec, spec) if rec is not None else None
        if problem is not None:
            raise UsageError(
                f"{problem} ({where})",
                "save to a new session, or give this file an id of its own (a copy or link "
                "under another name, or an entry in your config file)",
            )
