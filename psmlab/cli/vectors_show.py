"""`psmlab vectors show`: what a control-vector file is, who built it how, and how well it
separated held-out answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.common import stdout_json
from psmlab.cli.options import JsonOpt
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import PsmlabError, UsageError


def show(
    files: Annotated[list[Path], typer.Argument(help="Control-vector GGUF files.")],
    json_out: JsonOpt = False,
) -> None:
    """What a vector file is: its layers and norms, who built it on which model file and how,
    and (psmlab's) how well it separated held-out answers; any llama.cpp control vector reads."""
    import numpy as np

    from psmlab.core.domain.formats import template_names
    from psmlab.core.inside.vector_checks import (
        JSON_KEYS,
        NotJson,
        held_of,
        metadata_json,
        verdict,
    )
    from psmlab.core.models.cvec import read_cvec
    from psmlab.core.models.hashing import file_sha256
    from psmlab.core.models.steering import residual_norms

    docs: list[dict[str, Any]] = []
    failed: list[PsmlabError] = []
    for f in files:
        try:
            vec = read_cvec(f)
        except PsmlabError as exc:
            # The others are still shown (a bad file among good ones printed nothing at all).
            failed.append(exc)
            continue
        except OSError as exc:  # unreadable (permissions, a folder): likewise
            failed.append(UsageError(f"cannot read {f}: {exc.strerror or exc}", "check the path"))
            continue
        meta = dict(vec.metadata)
        for key in JSON_KEYS:
            if isinstance(meta.get(key), str):  # stored as JSON text in the GGUF
                try:
                    meta[key] = metadata_json(meta, key)
                except NotJson:
                    # Another writer's (or a damaged) record: shown as the text it is, and the
                    # file's vectors still read (steering reads them too).
                    sys.stderr.write(
                        terminal_safe(f"psmlab: warning: {f}: {key} is not JSON; shown as text")
                        + "\n"
                    )
        method = str(meta.get("psmlab.method") or "")
        # Files written before the fix recorded the persona vectors' method for the axis.
        wrong = meta.get("psmlab.archetype") == "assistant-axis" and method.startswith("mean(ind")
        # Built by psmlab before answers were cut at the format's stop strings: a base-model
        # frame's answers ran on into the next speaker's line, and its means averaged that in.
        # A chat template's answers end at its end-of-turn token, which was never averaged in.
        chat = meta.get("psmlab.format") in template_names()
        old_rows = bool(
            method and meta.get("psmlab.version") and "psmlab.answer_rows" not in meta and not chat
        )
        docs.append(
            {
                "rows_note": (
                    "built before psmlab cut answers at the format's stop strings: in a base "
                    "model's frame its answers ran on into the next speaker's line; rebuild it"
                    if old_rows
                    else None
                ),
                "method_note": (
                    "recorded wrongly by an older psmlab: an assistant axis is mean(default) - "
                    "mean over archetypes of mean(induced)"
                    if wrong
                    else None
                ),
                "file": str(f.expanduser().resolve()),
                "sha256": file_sha256(f),
                "n_embd": vec.n_embd,
                "layers": vec.layers,
                # float64: values near 1e20 overflow a float32 norm to inf (not JSON).
                "norms": {
                    str(L): float(np.linalg.norm(np.asarray(v, dtype=np.float64)))
                    for L, v in vec.directions.items()
                },
                # The residual stream's norm the build recorded (finite, positive only) and
                # the share of it alpha 1 moves: what a steering strength means on this model.
                "residual_norm": {str(L): v for L, v in sorted(residual_norms(vec).items())},
                "shift_per_alpha": {
                    str(L): float(np.linalg.norm(np.asarray(vec.directions[L], np.float64))) / v
                    for L, v in sorted(residual_norms(vec).items())
                    if L in vec.directions
                },
                "model_hint": vec.model_hint,
                "metadata": meta,
                # A layer that separates held-out answers the wrong way, or no better than
                # chance can: its projections do not measure what the file is named for.
                "warnings": [
                    f"layer {L} {why}"
                    for L, h in sorted(held_of(meta).items(), key=lambda x: _layer_key(x[0]))
                    if isinstance(h, dict) and (why := verdict(h))
                ],
            }
        )
    if json_out:
        if docs:
            stdout_json(docs if len(files) != 1 else docs[0])
    else:
        _print(docs)
    for bad in failed[:-1]:
        sys.stderr.write(terminal_safe(f"psmlab: error: {bad.one_line()}") + "\n")
    if failed:
        raise failed[-1]


def _print(docs: list[dict[str, Any]]) -> None:
    """Each file's description, as text."""
    from psmlab.core.inside.vector_checks import held_of, reference, spread
    from psmlab.core.models.steering import STRONG_SHIFT

    for d in docs:
        m = d["metadata"]
        built = m.get("psmlab.model_sha256")
        typer.echo(terminal_safe(f"{d['file']}  (sha256 {d['sha256'][:12]}…)"))
        typer.echo(
            terminal_safe(
                f"  {m.get('psmlab.archetype') or 'a control vector'}: {d['n_embd']} dimensions, "
                f"layers {','.join(map(str, d['layers']))}; "
                + (f"built on model sha256 {built[:12]}…" if built else "no model recorded")
                + (
                    " ("
                    + ", ".join(str(x) for x in (m["psmlab.model"], m.get("psmlab.format")) if x)
                    + ")"
                    if m.get("psmlab.model")
                    else ""
                )
            )
        )
        if m.get("psmlab.method"):
            typer.echo(terminal_safe(f"  method: {m['psmlab.method']}"))
            for note in (d["method_note"], d["rows_note"]):
                if note:
                    typer.echo(f"  ({note})")
        if m.get("psmlab.version"):
            typer.echo(
                terminal_safe(
                    f"  written by psmlab {m['psmlab.version']}, llama-cpp-python "
                    f"{m.get('psmlab.llama_cpp_python')}; n={m.get('psmlab.n')} build questions"
                )
            )
        if side := _default_side(m):
            typer.echo(terminal_safe(f"  the default side's prompt, as the build warned: {side}"))
        held = held_of(m)
        pc1 = m.get("psmlab.pc1_abs_cosine")
        pc1 = pc1 if isinstance(pc1, dict) else {}
        ref = reference(held)
        sds = spread(held)
        sides = " / ".join(next(iter(ref.values()))) if ref else ""
        resid, per = d["residual_norm"], d["shift_per_alpha"]
        typer.echo(
            "  layer      norm"
            + ("  residual  shift/alpha" if resid else "")
            + (f"  {'held-out AUROC':<{_AUROC_W}}  {'shuffled':<{_SHUF_W}}" if held else "")
            + (f"  held-out means{' ± sd' if sds else ''} ({sides})" if ref else "")
            + ("  |cos PC1|" if pc1 else "")
        )
        for L in d["layers"]:
            h = held.get(str(L))
            try:
                # Padded to the header's columns (a trial's "0.94 (6 questions)" pushed the
                # rest out of line).
                if h:
                    auroc = f"{h['auroc']:.2f} ({h['n_questions_each_way']} questions)"
                    shuf = f"{h['shuffled_auroc_mean']:.2f} ± {h['shuffled_auroc_sd']:.2f}"
                    tail = f"  {auroc:<{_AUROC_W}}  {shuf:<{_SHUF_W}}"
                else:
                    tail = ""
            except (TypeError, KeyError, ValueError):
                tail = "  (its held-out record is unreadable)"
            if str(L) in ref:
                sd = sds.get(str(L), {})
                tail += "  " + " / ".join(
                    f"{v:.2f}" + (f" ± {sd[k]:.2f}" if k in sd else "")
                    for k, v in ref[str(L)].items()
                )
            if isinstance(pc1.get(str(L)), (int, float)):
                tail += f"  {pc1[str(L)]:.3f}"
            if resid:  # the direction's norm over the residual stream's: what alpha 1 moves
                r, x = resid.get(str(L)), per.get(str(L))
                mid = (
                    f"  {r:>8.1f}  {x:>11.3f}" if r and x is not None else f"  {'?':>8}  {'?':>11}"
                )
            else:
                mid = ""
            typer.echo(f"  {L:>5} {d['norms'][str(L)]:>9.2f}{mid}{tail}")
        if resid:
            typer.echo(
                "  residual: the residual stream's norm there, the median over the build's "
                "default answers (build and held-out questions) of each answer's mean; "
                "shift/alpha: the share of it that alpha 1 moves (alpha times it past "
                f"{STRONG_SHIFT:g}: text degrades, see docs/activations.md)"
            )
        if pc1 and (k := _n_archetypes(m)):  # as the build said it (a trial: show dropped it)
            typer.echo(f"  note on |cos PC1|: {pc1_note(k)}")
        for w in d["warnings"]:
            typer.echo(f"  warning: {w}")


_AUROC_W = len("1.00 (12 questions)")
_SHUF_W = len("0.49 ± 0.20")


def _layer_key(layer: object) -> tuple[int, str]:
    """Layers in number order ("6" before "12"), anything else after them."""
    text = str(layer)
    return (int(text), "") if text.isdigit() else (1 << 30, text)


def _default_side(meta: dict[str, Any]) -> str | None:
    """What the default side's prompt held that no one wrote (a template's own system
    prompt): the vectors contrast with it, so it is part of what they mean."""
    prompts = meta.get("psmlab.prompts")
    said = prompts.get("default_warnings") if isinstance(prompts, dict) else None
    if not isinstance(said, list) or not said:
        return None
    return "; ".join(str(w) for w in said)


def pc1_note(n_archetypes: int) -> str:
    """What |cos PC1| can say with this many archetypes (PC1 of k + 1 points)."""
    if n_archetypes == 1:
        return "one archetype: PC1 of two points is the axis itself, so |cos| = 1"
    if n_archetypes < 4:
        return (
            f"PC1 of {n_archetypes + 1} points (the default and {n_archetypes} archetypes): "
            "|cos| near 1 says little; build with more archetypes for a test of it"
        )
    return f"PC1 of {n_archetypes + 1} points (the default and {n_archetypes} archetypes)"


def _n_archetypes(meta: dict[str, Any]) -> int:
    """How many archetypes an axis was built from (its recorded prompts); 0: not recorded."""
    prompts = meta.get("psmlab.prompts")
    if isinstance(prompts, str):
        try:
            prompts = json.loads(prompts)
        except ValueError:
            return 0
    arch = prompts.get("archetypes") if isinstance(prompts, dict) else None
    return len(arch) if isinstance(arch, dict) else 0
