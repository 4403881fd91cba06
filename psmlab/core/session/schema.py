"""The session schema: a tree of turns with adoptions, models with provenance, generations, annotations.

Turns form a tree (each points at its parent): adopting another answer or editing a turn starts a
branch and never rewrites history; `head` is the last turn of the branch the lab is on. The records
themselves live in `records`; this module holds the session and its tree operations.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from psmlab.core.domain.transcript import Transcript, Turn
from psmlab.core.domain.types import MAX_SEED, Generation
from psmlab.core.errors import SessionError, UsageError
from psmlab.core.session import lookup, tree
from psmlab.core.session.consistency import check_consistent
from psmlab.core.session.hand_edits import hand_written
from psmlab.core.session.records import (
    Annotation,
    AutoLabelRecord,
    ForcedRecord,
    GenerationRecord,
    ModelRecord,
    ProjectionRecord,
    Span,
    TurnRecord,
    _Strict,
    check_annotator,
    default_annotator,
    new_id,
    notes_on,
    now,
    quote_span,
    tokens_sha256,
)

__all__ = [
    "SCHEMA_VERSION",
    "Annotation",
    "AutoLabelRecord",
    "ForcedRecord",
    "GenerationRecord",
    "ModelRecord",
    "ProjectionRecord",
    "Session",
    "Span",
    "TurnRecord",
    "default_annotator",
    "new_id",
    "now",
    "quote_span",
    "tokens_sha256",
]

SCHEMA_VERSION = 2


def cut_words(finish_reason: str | None, *, blind: bool = False) -> str | None:
    """How an answer that ended this way was cut short, in words, or None when it ended by
    itself: the one wording of the picker, the tree, the transcript and the export. `blind`:
    max tokens is not said (how long a model runs might name it)."""
    if blind and finish_reason == "length":
        return None
    return {
        "cancelled": "cut off: cancelled",
        "error": "cut off by an error",
        "length": "cut at max tokens",
    }.get(finish_reason or "")


class Session(_Strict):
    schema_version: Literal[2] = 2
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    title: str = "untitled"
    created: str = Field(default_factory=now)
    updated: str = Field(default_factory=now)
    nodes: list[TurnRecord] = Field(default_factory=list, description="Every turn, as a tree.")
    head: str | None = Field(None, description="The last turn of the current branch.")
    models: list[ModelRecord] = Field(default_factory=list)
    generations: list[GenerationRecord] = Field(default_factory=list)
    annotations: list[Annotation] = Field(default_factory=list)
    auto_labels: list[AutoLabelRecord] = Field(default_factory=list)
    forced: list[ForcedRecord] = Field(default_factory=list)
    projections: list[ProjectionRecord] = Field(
        default_factory=list, description="Answers projected on control vectors (monitoring)."
    )
    # Blind mode: the column order shown at each turn (node id, "" before the first), shuffled
    # once per turn and kept so the same order comes back.
    column_orders: dict[str, list[str]] = Field(default_factory=dict)
    # Blind mode was on when the session was last saved: it opens blind again, so reopening
    # (or opening it from another session) never shows the names before Ctrl+B.
    blind: bool = False
    # The seed of sample 1 that F3 fixed for the lab's next runs (None: random, recorded with
    # each answer): kept, so a reopened session runs as it was left.
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    # A session opened from `psmlab ask --json` output keeps the report's other fields here.
    imported: dict[str, Any] | None = Field(
        None,
        description="Fields of the `ask --json` report this session was opened from that a "
        "session has no place for (errors, prompts, timing, labels), kept as they were.",
    )

    # How many automatic labels loading read again under today's rules (never written).
    _relabelled: int = PrivateAttr(0)

    @property
    def relabelled(self) -> int:
        """How many automatic labels of other rules were read again when this was loaded."""
        return self._relabelled

    def mark_relabelled(self, n: int) -> None:
        self._relabelled = n

    @model_validator(mode="before")
    @classmethod
    def _path_given(cls, data: Any) -> Any:
        """`Session(turns=[...])` builds a one-branch tree from a list of turns; annotations
        written by hand into a file without an id or time get ones that stay put."""
        if isinstance(data, dict) and isinstance(data.get("annotations"), list):
            data = {**data, "annotations": hand_written(data["annotations"])}
        if isinstance(data, dict) and "turns" in data and "nodes" not in data:
            data = dict(data)
            nodes, parent = [], None
            for t in data.pop("turns"):
                rec = t if isinstance(t, TurnRecord) else TurnRecord.model_validate(t)
                rec = rec.model_copy(update={"parent": parent})
                nodes.append(rec)
                parent = rec.id
            data["nodes"], data["head"] = nodes, parent
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Session:
        check_consistent(self)
        return self

    # --- the tree -----------------------------------------------------------------------------

    def node(self, node_id: str) -> TurnRecord:
        for n in self.nodes:
            if n.id == node_id:
                return n
        hits = [n for n in self.nodes if n.id.startswith(node_id)]
        if len(hits) == 1:
            return hits[0]
        raise SessionError(
            f"no turn '{node_id}' in session '{self.title}'"
            + (" (the prefix is ambiguous)" if hits else ""),
            "list turns with psmlab tree SESSION",
        )

    def find_node(self, node_id: str) -> TurnRecord:
        """The turn a person named (a unique prefix is enough): like `find_generation`, an
        unknown or ambiguous id is their mistake, a usage error, not a broken session file."""
        try:
            return self.node(node_id)
        except SessionError as exc:
            raise UsageError(exc.problem, exc.fix) from None

    def children(self, node_id: str | None) -> list[TurnRecord]:
        return [n for n in self.nodes if n.parent == node_id]

    def path(self, node_id: str | None) -> list[TurnRecord]:
        """The turns from the first one down to `node_id` (empty for None)."""
        return tree.path_to(self.nodes, node_id)

    @property
    def turns(self) -> list[TurnRecord]:
        """The current branch, first turn first (a new list: change it with the methods below)."""
        return self.path(self.head)

    def walk(self) -> Iterator[tuple[TurnRecord, int]]:
        """Every turn in tree order (depth first, children in the order they were made), with
        its depth."""
        return tree.walk(self.nodes)

    def leaves(self) -> list[str]:
        """Every branch, named by its last turn, in the order the branches were made."""
        return tree.leaves(self.nodes)

    def branch_of(self, node_id: str | None) -> str | None:
        """The branch a turn lies on: its newest descendant that ends a branch (itself if a leaf)."""
        at = node_id
        while True:
            kids = self.children(at)
            if not kids:
                return at
            at = kids[-1].id

    def transcript(self, upto: int | None = None) -> Transcript:
        turns = self.turns if upto is None else self.turns[:upto]
        return Transcript(tuple(Turn(t.role, t.content) for t in turns))

    def history_of(self, g: GenerationRecord) -> Transcript:
        """The transcript a generation continued: the path to its node."""
        return Transcript(tuple(Turn(t.role, t.content) for t in self.path(g.node)))

    def generations_at(self, node_id: str | None) -> list[GenerationRecord]:
        return [g for g in self.generations if g.node == node_id]

    def adopted_cut(self, turn: TurnRecord, *, blind: bool = False) -> str | None:
        """How an adopted answer was cut short, in words, or None when it ended by itself: an
        answer stopped by the user, an error or max tokens reads as finished text otherwise.
        `blind`: only a stop by the user or an error, which name no model (max tokens might)."""
        if not turn.adopted_from:
            return None
        gen = next((g for g in self.generations if g.id == turn.adopted_from), None)
        return None if gen is None else cut_words(gen.finish_reason, blind=blind)

    # --- changing (each bumps `updated`) -----------------------------------------------------

    def touch(self) -> None:
        self.updated = now()

    def go(self, node_id: str | None) -> None:
        """Move to another turn of the tree: the conversation continues from there."""
        self.head = None if node_id is None else self.node(node_id).id
        self.touch()

    def add_turn(
        self, turn: TurnRecord, parent: str | None = None, *, at_head: bool = True
    ) -> TurnRecord:
        """Add a turn after `parent` (default: the head) and move there. The same turn already
        there is reused, so choosing an answer twice does not make two branches."""
        if at_head:
            parent = self.head
        for kid in self.children(parent):
            if kid.same_as(turn):
                self.head = kid.id
                self.touch()
                return kid
        turn = turn.model_copy(update={"parent": parent})
        self.nodes.append(turn)
        self.head = turn.id
        self.touch()
        return turn

    def set_turns(self, turns: list[TurnRecord]) -> None:
        """Make `turns` the current branch (from the first turn), reusing turns already there."""
        self.head = None
        for t in turns:
            self.add_turn(TurnRecord(**t.model_dump(exclude={"id", "parent", "created"})))

    def edit_turn(self, index: int, content: str | None) -> None:
        """Edit (or, with None, delete) turn `index` of the current branch. Both start a branch:
        an edit makes a sibling with the new text and moves there (later turns stay on the old
        branch); a delete moves back to the turn before it. Nothing recorded is lost, except a
        last turn that nothing refers to, which is simply removed."""
        old = self._turn_at(index)
        if content is None:
            gone = self.delete_outcome(index) != "kept"
            self.head = old.parent
            if gone:
                self.nodes = [n for n in self.nodes if n.id != old.id]
        else:
            if not content.strip():
                raise UsageError(
                    f"the edit of turn {index + 1} is empty", "write some text, or delete the turn"
                )
            edited = TurnRecord(role=old.role, content=content, edited_from=old.id)
            self.add_turn(edited, old.parent, at_head=False)
        self.touch()

    def _turn_at(self, index: int) -> TurnRecord:
        """Turn `index` (from 0) of the current branch; an index past it is a one-line error."""
        path = self.turns
        if not 0 <= index < len(path):
            raise SessionError(f"there is no turn {index + 1}", f"turns run from 1 to {len(path)}")
        return path[index]

    def delete_outcome(self, index: int) -> Literal["kept", "removed", "removed, answer kept"]:
        """What deleting turn `index` of the current branch does, as the lab says it before: a
        turn anything hangs on (turns after it, answers to it, scores, a column order) stays in
        the tree; one with nothing is removed (an answer it adopted stays with the turn before)."""
        turn = self._turn_at(index)
        if (
            self.children(turn.id)
            or any(g.node == turn.id for g in self.generations)
            or any(f.node == turn.id for f in self.forced)
            or turn.id in self.column_orders
        ):
            return "kept"
        return "removed, answer kept" if turn.adopted_from else "removed"

    def generation(self, gen_id: str) -> GenerationRecord:
        """The generation an id the session holds names (a unique prefix is enough)."""
        return lookup.stored(self.generations, gen_id, self.title)

    def find_generation(self, gen_id: str) -> GenerationRecord:
        """The generation a person named (a unique prefix is enough)."""
        return lookup.named(self.generations, gen_id, self.title)

    def model(self, model_id: str) -> ModelRecord | None:
        return next((m for m in self.models if m.id == model_id), None)

    def annotations_for(self, gen_id: str) -> list[Annotation]:
        return [a for a in self.annotations if a.generation_id == gen_id]

    def auto_label(self, gen_id: str) -> AutoLabelRecord | None:
        return next((x for x in self.auto_labels if x.generation_id == gen_id), None)

    def runs(self, model_id: str, node_id: str | None) -> list[list[GenerationRecord]]:
        """A column's runs at a turn, oldest first; each run's samples by sample index."""
        runs: dict[str | None, dict[int, GenerationRecord]] = {}
        for g in self.generations:
            if g.model == model_id and g.node == node_id:
                runs.setdefault(g.run, {})[g.sample] = g
        return [[r[k] for k in sorted(r)] for r in runs.values()]

    def upsert_model(self, record: ModelRecord) -> None:
        """Add a model, or replace its record where it stands (column order is kept)."""
        for i, m in enumerate(self.models):
            if m.id == record.id:
                self.models[i] = record
                return
        self.models.append(record)

    def add_generation(
        self,
        g: Generation,
        *,
        turn: int,
        node: str | None,
        run: str | None,
        system: str | None,
        prompt_tokens: list[int] | tuple[int, ...] | None,
    ) -> GenerationRecord:
        rec = GenerationRecord(
            **g.model_dump(exclude={"kind", "error", "token_logprobs"}),
            token_logprobs=list(g.token_logprobs) or None,
            turn=turn,
            node=node,
            run=run,
            system=system,
            prompt_sha256=tokens_sha256(prompt_tokens) if prompt_tokens else None,
        )
        self.generations.append(rec)
        self.touch()
        return rec

    def annotate(self, annotation: Annotation) -> Annotation:
        check_annotator(annotation.annotator)
        g = self.generation(annotation.generation_id)
        annotation = annotation.model_copy(update={"generation_id": g.id})
        if annotation.evidence and annotation.evidence.end > len(g.full_text):
            raise SessionError(
                f"evidence span {annotation.evidence.start}-{annotation.evidence.end} is past the end "
                f"of generation {g.id} ({len(g.full_text)} characters)",
                "give a range inside the text",
            )
        self.annotations.append(annotation)
        self.touch()
        return annotation

    def annotation_notes(self, annotation: Annotation) -> list[str]:
        """What adding `annotation` means for `psmlab agreement` that its author may not expect."""
        g = self.generation(annotation.generation_id)
        return notes_on(self.annotations, annotation.model_copy(update={"generation_id": g.id}))

    def adopt(self, gen_id: str, how: str | None = None) -> TurnRecord:
        """Make one model's continuation the assistant turn after the turns it saw, and move
        there. Adopting an answer of an earlier turn, or a second answer of the same turn, starts
        a branch; nothing already adopted is replaced. `how` records how it was chosen ("key",
        "picker", "cli")."""
        g = self.generation(gen_id)
        parent, continued = g.node, None
        if parent is not None and self.node(parent).role == "assistant":
            # The model continued a partial assistant turn: the adopted text stands in its place.
            continued, parent = parent, self.node(parent).parent
        # Neutral turns hold no edge whitespace: a frame writes "Assistant: " + content, and the
        # model's " I am" (its space belonged after "Assistant:") would otherwise become a double space.
        turn = TurnRecord(
            role="assistant",
            content=g.full_text.strip(),
            adopted_from=g.id,
            adopted_model=g.model,
            adopted_how=how,
            # What it was given is not the model's: a trial's edited words and another model's
            # answer passed as the continuing model's own.
            given=(g.prefill or "").strip() or None,
            continued=continued,
        )
        return self.add_turn(turn, parent, at_head=False)
