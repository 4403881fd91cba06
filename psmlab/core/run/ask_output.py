"""What `psmlab ask --json` writes: the answers with their labels, the shares, differences and
prompts, and the provenance to run it again, with models recorded as a session records them (so
saved output opens as a session)."""

from __future__ import annotations

from typing import Any

from psmlab.core.domain.classify import LABELLER
from psmlab.core.domain.personas import load_personas, personas_fingerprint
from psmlab.core.domain.quality import agreement
from psmlab.core.domain.stats import Diff, LabelShares
from psmlab.core.domain.transcript import Transcript
from psmlab.core.run.runner import Column, RunResult
from psmlab.core.session.records import tokens_sha256


def ask_document(
    tr: Transcript,
    columns: list[Column],
    result: RunResult,
    *,
    autos: dict[str, Any],
    judged: dict[str, dict[str, Any]],
    watched: dict[str, list[dict[str, Any]]],
    shares: dict[str, LabelShares],
    diffs: list[Diff],
    labeller: str,
    started_at: str,
    elapsed_s: float,
) -> dict[str, Any]:
    """The whole output of one `ask` run (`autos`, `judged`, `watched`: by generation id)."""
    return {
        "generations": [
            {
                **g.to_dict(),
                "auto_labels": autos[g.id].to_dict(),
                **({"judge": judged[g.id]} if g.id in judged else {}),
                **({"projections": watched[g.id]} if g.id in watched else {}),
            }
            for g in result.generations
        ],
        # Archetype shares per model (as always), the self-id shares, how turns ended
        # (never a label), and the labeller with its measured agreement (None: not measured).
        "labels": {m: {x.label: x.to_dict() for x in v.archetypes} for m, v in shares.items()},
        "self_id": {m: {x.label: x.to_dict() for x in v.self_id} for m, v in shares.items()},
        "turn_ends": {m: {x.label: x.to_dict() for x in v.ends} for m, v in shares.items()},
        # Each pair of columns (with n > 1) for each self-id class that occurs: the
        # difference of shares with a Newcombe 95% interval (no multiple-comparison correction).
        "differences": [d.to_dict() for d in diffs],
        "labeller": {
            "name": labeller,
            "archetypes": LABELLER,
            # The persona files the archetypes were read with (their kappa is the shipped set's).
            "personas": personas_fingerprint(load_personas()[0]),
            "agreement": {
                "self_id": agreement(labeller, "self_id"),
                "archetypes": agreement(LABELLER, "archetypes", now=True),
            },
        },
        "errors": [
            {"model": m, "error": e.one_line(), "exit_code": int(e.exit_code)}
            for m, e in result.errors.items()
        ],
        "prompts": [
            {
                "model": m,
                "format": p.format,
                "n_tokens": p.n_tokens,
                # As a saved session records it: the prompt's tokens, hashed.
                "prompt_sha256": tokens_sha256(p.tokens) if p.tokens else None,
                "warnings": list(p.warnings),
            }
            for m, p in result.prompts.items()
        ],
        "transcript": tr.to_messages(),
        "models": [model_record(c) for c in columns],
        "seed": result.base_seed,
        "cancelled": result.cancelled,
        "created": started_at,  # UTC, when the run began
        "elapsed_s": round(elapsed_s, 3),
    }


def model_record(c: Column) -> dict[str, object]:
    """The column as a session model record, so saved `ask --json` output opens as a session."""
    s = c.spec
    return {
        "id": s.id,
        "kind": s.kind,
        "path": s.path,
        "sha256": s.to_dict()["sha256"],
        "size": s.size,
        "source": s.source,
        "format": c.format_name,
        "system": c.system,
        "prefill": c.prefill,
        "n_ctx": s.n_ctx,
        "n_threads": s.n_threads,
        "steer": c.steering.record() if c.steering else None,
    }
