"""Label any text with the marker rules: a self-identification label plus archetype labels, with hits.

`psmlab label` uses this on a JSONL file, so labels can be compared with people's (`psmlab
agreement`). The labeller is named in every output line, so a label never travels without its
source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psmlab.core.domain.classify import ROLE_LEAK, UNCLEAR, classify
from psmlab.core.domain.jsonl import read_objects
from psmlab.core.domain.personas import Persona, load_personas
from psmlab.core.domain.selfid import self_identify
from psmlab.core.errors import UsageError

LABELLER = "markers"  # psmlab's phrase rules (domain/selfid.py and the personas' markers)


def label_text(text: str, personas: list[Persona]) -> dict[str, Any]:
    """Both levels of label for one text, with the rule hits (spans) behind each."""
    sid = self_identify(text)
    auto = classify(text, personas)
    return {
        "self_id": sid.label,
        "archetypes": [x for x in auto.labels if x not in (UNCLEAR, ROLE_LEAK)],
        "self_id_hits": [h.model_dump() for h in sid.hits],
        "archetype_hits": [h.model_dump() for h in auto.hits],
        "labeller": LABELLER,
    }


def label_jsonl(path: Path) -> list[dict[str, Any]]:
    """Label every line of a JSONL file (`"text"`, optionally `"id"`, `"question"`, `"model"`);
    the output keeps `id` (the line number when absent), `question` and `model`."""
    personas = load_personas()[0]
    out = []
    for i, obj in read_objects(path):
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise UsageError(f'{path} line {i} has no "text" string', 'give each line a "text"')
        row: dict[str, Any] = {"id": obj.get("id", i)}
        row.update({k: obj[k] for k in ("question", "model") if k in obj})
        row.update(label_text(obj["text"], personas))
        out.append(row)
    if not out:
        raise UsageError(f"{path} holds no lines to label", 'one JSON object with "text" per line')
    return out
