"""Convert psmlab session trees to and from the JSON trees of the original loom (socketteer/loom).

The loom format (loom's `model.py`, `load_tree_data` / `save_tree`): an object whose `"root"` is a
node `{"id", "text", "children": [...], ...}`; non-root nodes usually repeat `"parent_id"`; other
per-node fields (`visited`, `open`, `bookmark`, `chapter_id`, `tags`, `meta`, `generation`, ...) and
top-level fields (`generation_settings`, `selected_node_id`, `chapters`, ...) sit beside them. loom
also opens a bare root node (`{"text", "children", ...}` with no wrapper); so does `from_loom`.

Mapping, loom to psmlab (`from_loom`):
- Each loom node becomes one `TurnRecord`, in depth-first pre-order, so `session.children(x)` keeps
  loom's child order. `content` is the node's `text` (a fragment of a growing document: the text of
  a branch is the concatenation of its nodes, as in loom). `source` is `"loom:socketteer"`.
- `id` is the loom id when it is a string; any other id `x` becomes `"loom-x"`, the original kept
  in `meta["_loom_id"]`. `parent` is the id of the node the loom node sits under.
- `role`: `meta.source == "prompt"` gives "user"; `meta.source` "AI" or "mixed" (model text a
  person edited) or a `generation` field gives "assistant". Without provenance (older saves, such
  as tests/data/loom/dialectical.json) the root is "user" (the prompt a person wrote) and every
  other node "assistant" (loom's main act is generating children).
- `meta` holds every node field psmlab does not model (all but `id`, `text`, `children`), deep-copied.
- The doc's top-level fields other than `root` and `selected_node_id` go, deep-copied, to the
  first root's `meta["_loom_doc"]`. `selected_node_id` becomes `session.head`; without it (then the
  first root's `meta["_loom_unselected"]` is true) the head is the end of the first-child path from
  the first root. The title is the `title` argument, else the doc's `psmlab.title`, else
  "loom import".
- Errors (`SessionError`): not a loom doc; a node that is not an object, lacks an id or text, or
  has non-list children; an id seen twice (a copied subtree, or a cycle of shared objects); a
  `parent_id` that names a missing node or not the node it sits under.
Mapping, psmlab to loom (`to_loom`): the inverse. Turns imported from loom are written back from
their `meta`, with the text, id and place in the tree psmlab holds now (`parent_id`, when the node
had one, follows the node's parent). Other turns get `parent_id` (below the root), loom's
`meta.source` ("AI" for assistant turns, "prompt" otherwise) and a `psmlab` field that keeps every
other TurnRecord field (role, adoption, created, source, meta); fields a loom app adds to such a
node come back in `meta["_loom_fields"]`. Imported turns get `created` = import time (loom nodes
carry none) and it is not written to loom.
Answers no turn holds (samples that were not adopted, cancelled fragments) are written as loom
does every continuation: an AI node under the turn they answer, after that turn's children, with
a `psmlab` field naming the generation (`generation`, `model`, `sample`, `finish_reason`,
`adopted: false`; its settings and labels stay in the session). `from_loom` reads them as branches
(turns), keeping that field in `meta["_psmlab_generation"]` so a second export writes it again.
An imported turn whose role no longer matches what loom's fields imply, or that was adopted, also
gets a `psmlab` field. `selected_node_id` is written from `session.head` unless the session came
from a loom doc without one. The doc carries `psmlab.title` unless its first root has `_loom_doc`.
`to_loom` raises `SessionError` for duplicate turn ids, a missing parent or a cycle of parents.
Several roots: loom trees have one root, so a session with several roots (or none) is written under
an added empty-text root `{"id": "psmlab-root", "text": "", "psmlab": {"synthetic_root": true}}`;
`from_loom` drops that root again and its children become roots.
Preserved by to_loom(from_loom(doc)): node ids, texts, the parent/child structure and child order,
every per-node field and every top-level field (equal as JSON values). Not preserved: key order
inside objects; a bare root node comes back wrapped in `{"root": ...}`; a node without `children`
comes back with `"children": []`; the synthetic root's own fields beyond the marker.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import ValidationError

from psmlab.core.errors import SessionError
from psmlab.core.session.schema import GenerationRecord, Session, TurnRecord

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")
SOURCE = "loom:socketteer"
DOC_KEY = "_loom_doc"  # first root's meta: the doc's top-level fields but root, selected_node_id
UNSELECTED_KEY = "_loom_unselected"  # first root's meta: the loom doc had no selected_node_id
ID_KEY = "_loom_id"  # meta: the loom id when it was not a string
FIELDS_KEY = "_loom_fields"  # meta of a psmlab-made turn: fields a loom app added to its node
GEN_KEY = "_psmlab_generation"  # meta of an imported answer psmlab had not adopted: its block
BLOCK = "psmlab"  # per node and top level in a loom doc: what loom does not model
SYNTHETIC_ID = "psmlab-root"
_OWN = ("id", "text", "children")
_ADOPTED = ("adopted_from", "adopted_model", "adopted_how")
_FIX_DOC = (
    'give a loom JSON save: an object whose "root" is a node with "id", "text" and "children"'
)
_MISSING = object()
_FIX_TREE = "repair the loom file (re-save it from loom) or export it again"


def detect_loom(doc: dict) -> bool:
    """True when `doc` looks like a loom tree: `{"root": node}` or a bare root node."""
    if not isinstance(doc, dict):
        return False
    if "root" in doc:
        root = doc["root"]
        return isinstance(root, dict) and isinstance(root.get("text"), str)
    return isinstance(doc.get("text"), str) and isinstance(doc.get("children"), list)


def _inferred_role(fields: dict[str, Any], is_root: bool) -> Role:
    """The role loom's own fields imply for a node (see the module docstring)."""
    meta = fields.get("meta")
    source = meta.get("source") if isinstance(meta, dict) else None
    if source == "prompt":
        return "user"
    if source in ("AI", "mixed") or "generation" in fields:
        return "assistant"
    return "user" if is_root else "assistant"


def _is_synthetic(node: dict[str, Any]) -> bool:
    block = node.get(BLOCK)
    return isinstance(block, dict) and block.get("synthetic_root") is True


def from_loom(doc: dict, *, title: str | None = None) -> Session:
    """A psmlab session holding every node of the loom tree `doc` (a parsed loom JSON save)."""
    if not detect_loom(doc):
        raise SessionError("not a loom tree: no root node with text", _FIX_DOC)
    wrapped = "root" in doc
    root = doc["root"] if wrapped else doc
    top = doc.get(BLOCK) if wrapped else None
    top = top if isinstance(top, dict) else {}
    skip = ("root", BLOCK, "selected_node_id")
    extras = {k: copy.deepcopy(v) for k, v in doc.items() if k not in skip} if wrapped else {}

    nodes: list[TurnRecord] = []
    by_loom_id: dict[Any, str] = {}
    # (node, psmlab parent id, loom parent id, where): an explicit stack, so deep trees are fine.
    stack: list[tuple[Any, str | None, Any, str]] = []
    wrong: list[tuple[Any, Any, Any]] = []  # (node, parent it names, parent it sits under)
    if _is_synthetic(root):
        stack = [(k, None, root.get("id"), f"root/{i}") for i, k in enumerate(_kids(root, "root"))]
        stack.reverse()
    else:
        stack.append((root, None, None, "root"))
    while stack:
        node, parent, loom_parent, where = stack.pop()
        record, loom_id = _record(node, parent, loom_parent, where, by_loom_id)
        if loom_parent is not None and node.get("parent_id", loom_parent) != loom_parent:
            wrong.append((loom_id, node["parent_id"], loom_parent))
        if not nodes and wrapped and (is_loom(record) or extras):
            meta = dict(record.meta or {})
            meta[DOC_KEY] = extras
            if "selected_node_id" not in doc:
                meta[UNSELECTED_KEY] = True
            record = record.model_copy(update={"meta": meta})
        by_loom_id[loom_id] = record.id
        nodes.append(record)
        kids = _kids(node, repr(loom_id))
        stack.extend(
            (kids[i], record.id, loom_id, f"{where}/{i}") for i in range(len(kids) - 1, -1, -1)
        )

    for loom_id, claimed, actual in wrong:
        known = isinstance(claimed, str | int | float) and claimed in by_loom_id
        why = f"but sits under {actual!r}" if known else "which is missing"
        raise SessionError(f"loom node {loom_id!r} names parent {claimed!r}, {why}", _FIX_TREE)
    if len(set(by_loom_id.values())) != len(nodes):
        raise SessionError("two loom nodes map to the same psmlab id", _FIX_TREE)
    selected = doc.get("selected_node_id") if wrapped else None
    head = by_loom_id.get(selected) if isinstance(selected, str | int | float) else None
    if head is None and nodes:
        head = _first_leaf(nodes)
    name = title or (top["title"] if isinstance(top.get("title"), str) else "loom import")
    return Session(title=name, nodes=nodes, head=head)


def _kids(node: dict[str, Any], name: str) -> list[Any]:
    kids = node.get("children", [])
    if not isinstance(kids, list):
        raise SessionError(f"loom node {name} has children that are not a list", _FIX_TREE)
    return kids


def _record(
    node: Any, parent: str | None, loom_parent: Any, where: str, seen: dict[Any, str]
) -> tuple[TurnRecord, Any]:
    """One loom node as a TurnRecord, checked; also returns its loom id."""
    if not isinstance(node, dict):
        raise SessionError(f"loom node at {where} is not an object", _FIX_TREE)
    if "id" not in node or node["id"] is None or isinstance(node["id"], (dict, list)):
        raise SessionError(f"loom node at {where} has no usable id", _FIX_TREE)
    loom_id = node["id"]
    if loom_id in seen:
        raise SessionError(
            f"loom node id {loom_id!r} appears twice (a cycle or a copied subtree)", _FIX_TREE
        )
    if not isinstance(node.get("text"), str):
        raise SessionError(f"loom node {loom_id!r} has no text", _FIX_TREE)
    fields = {k: copy.deepcopy(v) for k, v in node.items() if k not in (*_OWN, BLOCK)}
    raw = node.get(BLOCK)
    block: dict[str, Any] = raw if isinstance(raw, dict) else {}
    turn_id = loom_id if isinstance(loom_id, str) else f"loom-{loom_id}"
    if not isinstance(loom_id, str):
        fields[ID_KEY] = loom_id
    wanted = block.get("role")
    role: Role = wanted if wanted in ROLES else _inferred_role(fields, parent is None)
    if block.get("native") is True:  # a psmlab turn: every TurnRecord field is in the block
        made = _native_fields(loom_parent, role, isinstance(block.get("edited_from"), str))
        extra = {k: v for k, v in fields.items() if made.get(k, _MISSING) != v and k != "parent_id"}
        kept = {k: copy.deepcopy(v) for k, v in block.items() if k in TurnRecord.model_fields}
        kept.setdefault("created", None)  # a turn whose time was unknown stays so, not "now"
        if extra:
            kept["meta"] = {**(kept.get("meta") or {}), FIELDS_KEY: extra}
    else:
        kept = {k: block[k] for k in _ADOPTED if isinstance(block.get(k), str)}
        if isinstance(block.get("generation"), str):  # an answer no turn held (see to_loom)
            fields[GEN_KEY] = copy.deepcopy(block)
        kept.update(meta=fields, source=SOURCE)
    kept.update(id=turn_id, parent=parent, role=role, content=node["text"])
    try:
        return TurnRecord(**kept), loom_id
    except ValidationError as e:
        what = e.errors()[0]["loc"][:1]
        raise SessionError(f"loom node {loom_id!r} has a bad psmlab field {what}", _FIX_TREE) from e


def _native_fields(parent_loom_id: Any, role: str, edited: bool = False) -> dict[str, Any]:
    """The loom fields `to_loom` gives a psmlab-made turn (besides id, text, children): an
    assistant turn a person edited is loom's "mixed" (model text a person changed)."""
    fields: dict[str, Any] = {} if parent_loom_id is None else {"parent_id": parent_loom_id}
    source = ("mixed" if edited else "AI") if role == "assistant" else "prompt"
    fields["meta"] = {"source": source}
    return fields


def _first_leaf(nodes: list[TurnRecord]) -> str:
    first_child: dict[str | None, str] = {}
    for t in nodes:
        first_child.setdefault(t.parent, t.id)
    at = first_child[None]
    while at in first_child:
        at = first_child[at]
    return at


def is_loom(t: TurnRecord) -> bool:
    return bool(t.source and t.source.startswith("loom:"))


def to_loom(session: Session) -> dict:
    """The session's whole tree as a loom JSON doc (a dict ready for `json.dump`)."""
    ids = [t.id for t in session.nodes]
    if len(set(ids)) != len(ids):
        raise SessionError("two turns in the session share an id", "repair the session file")
    known = set(ids)
    children: dict[str | None, list[TurnRecord]] = {}
    for t in session.nodes:
        if t.parent is not None and t.parent not in known:
            raise SessionError(
                f"turn {t.id} names parent {t.parent}, which is not in the session",
                "repair the session file",
            )
        children.setdefault(t.parent, []).append(t)
    roots = children.get(None, [])
    # Answers no turn holds (the samples not adopted, fragments): loom keeps every continuation
    # as a node, so they are written as AI nodes beside the turns (after them), each naming its
    # generation; `psmlab import` reads them back as branches.
    held = {t.adopted_from for t in session.nodes if t.adopted_from}
    by_id = {t.id: t for t in session.nodes}
    answers: dict[str | None, list[GenerationRecord]] = {}
    for g in session.generations:
        if g.id not in held:
            at = g.node if g.node in known else None
            if at is not None and by_id[at].role == "assistant":
                # A run that continued an assistant turn: its text holds the turn's (the
                # prefill), so it sits beside that turn, as `adopt` puts it, not under it
                # (loom joins a branch's texts: the turn's text would come twice).
                at = by_id[at].parent
            answers.setdefault(at, []).append(g)
    first = roots[0] if roots else None
    first_meta = (first.meta or {}) if first else {}
    doc_meta = first_meta.get(DOC_KEY)
    extras = copy.deepcopy(doc_meta) if isinstance(doc_meta, dict) else None

    loom_ids = {
        t.id: (t.meta[ID_KEY] if t.meta and ID_KEY in t.meta else t.id) for t in session.nodes
    }
    synthetic: dict[str, Any] | None = None
    if len(roots) != 1 or None in answers:  # answers to no turn sit under an added root
        sid = SYNTHETIC_ID
        while sid in known:
            sid += "-"
        synthetic = {"id": sid, "text": "", "children": [], BLOCK: {"synthetic_root": True}}
    out: dict[str, dict[str, Any]] = {}
    written = 0
    stack: list[tuple[TurnRecord, Any]] = [
        (r, synthetic["id"] if synthetic else None) for r in reversed(roots)
    ]
    while stack:
        t, loom_parent = stack.pop()
        node = _node_out(t, loom_parent, loom_ids[t.id])
        out[t.id] = node
        written += 1
        if t.parent is not None:
            out[t.parent]["children"].append(node)
        elif synthetic is not None:
            synthetic["children"].append(node)
        stack.extend((c, loom_ids[t.id]) for c in reversed(children.get(t.id, [])))
    if written != len(session.nodes):
        raise SessionError(
            "some turns are not reachable from a root (a cycle of parents)",
            "repair the session file",
        )
    taken = set(loom_ids.values())
    for at, gens in answers.items():
        for g in gens:
            gid = g.id
            while gid in taken:
                gid += "-"
            taken.add(gid)
            if at is not None:
                out[at]["children"].append(_answer_node(g, loom_ids[at], gid))
            elif synthetic is not None:
                synthetic["children"].append(_answer_node(g, synthetic["id"], gid))

    doc: dict[str, Any] = {"root": synthetic if synthetic is not None else out[roots[0].id]}
    head = loom_ids.get(session.head) if session.head is not None else None
    if extras is None:
        doc[BLOCK] = {"title": session.title}
    else:
        doc.update(extras)
    if head is not None and not first_meta.get(UNSELECTED_KEY):
        doc["selected_node_id"] = head
    return doc


def _answer_node(g: GenerationRecord, loom_parent: Any, loom_id: str) -> dict[str, Any]:
    """An answer no turn holds as a loom AI node; its block names the generation."""
    block = {"generation": g.id, "model": g.model, "sample": g.sample, "adopted": False}
    block["finish_reason"] = g.finish_reason
    return {
        "id": loom_id,
        "text": g.full_text.strip(),  # as `adopt` would make it a turn
        "parent_id": loom_parent,
        "meta": {"source": "AI"},
        "children": [],
        BLOCK: block,
    }


def _node_out(t: TurnRecord, loom_parent: Any, loom_id: Any) -> dict[str, Any]:
    """One turn as a loom node with an empty children list."""
    meta = copy.deepcopy(t.meta) if t.meta else {}
    meta.pop(DOC_KEY, None)
    meta.pop(UNSELECTED_KEY, None)
    adopted = {k: getattr(t, k) for k in _ADOPTED if getattr(t, k) is not None}
    if is_loom(t):
        answer = meta.pop(GEN_KEY, None)
        fields = {k: v for k, v in meta.items() if k != ID_KEY}
        if "parent_id" in fields and loom_parent is not None:
            fields["parent_id"] = loom_parent
        block: dict[str, Any] = {**(answer if isinstance(answer, dict) else {}), **adopted}
        if t.role != _inferred_role(fields, t.parent is None) or adopted:
            block["role"] = t.role
    else:
        extra = meta.pop(FIELDS_KEY, None)
        fields = _native_fields(loom_parent, t.role, t.edited_from is not None)
        if isinstance(extra, dict):
            fields.update(extra)
        own = t.model_dump(
            mode="json", exclude={"id", "parent", "content", "meta"}, exclude_none=True
        )
        block = {"native": True, **own}
        if t.meta is not None:
            block["meta"] = meta
    node: dict[str, Any] = {"id": loom_id, "text": t.content, **fields, "children": []}
    if block:
        node[BLOCK] = block
    return node
