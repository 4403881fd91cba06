"""What a session file edited by hand is checked for, and mended where its meaning is certain."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from psmlab.core.domain.types import SamplingParams


def check_params(gid: str, params: dict[str, Any]) -> None:
    """A generation's sampling settings must be ones the lab could have used: a hand-edited
    temperature of -3 loaded, and replay then died on it with an internal error."""
    knobs = {k: v for k, v in params.items() if k in SamplingParams.model_fields}
    try:
        SamplingParams(**knobs)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ValueError(
            f"generation {gid} has {where} = {err.get('input')!r}: {err['msg'].lower()}"
        ) from None


def hand_written(annotations: list[Any]) -> list[Any]:
    """An annotation added to the file by hand, without an id or a time, got a new random id
    and the time of each read: two reads were two annotations. Its id is a digest of what it
    says and where it stands; its time, never recorded, is "unknown"."""
    out = []
    for i, a in enumerate(annotations):
        if isinstance(a, dict) and ("id" not in a or "created" not in a):
            a = dict(a)
            if "id" not in a:
                digest = hashlib.sha256(
                    json.dumps([i, a], sort_keys=True, ensure_ascii=False, default=str).encode()
                ).hexdigest()
                a["id"] = "a-" + digest[:12]
            a.setdefault("created", "unknown")
        out.append(a)
    return out
