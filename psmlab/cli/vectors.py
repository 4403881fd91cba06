"""`psmlab vectors build`: persona vectors (and the assistant axis) as llama.cpp control-vector files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from psmlab.cli.common import TtyProgress, counter, resolve_specs
from psmlab.cli.options import ThreadsOpt
from psmlab.cli.out_file import check_folder
from psmlab.cli.vectors_show import pc1_note, show
from psmlab.core.domain.textsafe import terminal_safe
from psmlab.core.errors import UsageError
from psmlab.core.models.registry import Registry

# Held-out questions each way below which AUROC is too coarse to read (k/n^2 steps).
SMALL_TEST = 4

app = typer.Typer(
    help="Persona vectors: build them from a model's own activations (llama.cpp control vectors).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def _layers(text: str) -> list[int]:
    """--layers as --steer FILE:LAYERS takes them: 6,10,14, 10-14 or 6,10-14."""
    from psmlab.core.models.steering import parse_layers

    try:
        out = list(parse_layers(text.replace(" ", "")))
    except UsageError as exc:
        raise UsageError(f"--layers: {exc.problem}", "e.g. --layers 6,10,14 or 6-14") from None
    if not out:
        raise UsageError("--layers is empty", "e.g. --layers 6,10,14 or 6-14")
    return out


# Suffixes of files, not folders (a folder named "runs.v2" or "2026.12" is a folder).
_FILE_SUFFIXES = {".txt", ".json", ".jsonl", ".md", ".csv", ".npy", ".npz", ".pt", ".bin", ".toml"}
_FILE_SUFFIXES |= {".safetensors", ".pkl", ".vec", ".dat"}


def _targets(
    out: Path | None, ids: list[str], model_id: str, axis: bool
) -> tuple[dict[str, Path], Path | None]:
    """Where each archetype's file (and the axis) goes: -o is a file only for one archetype."""
    as_file = (
        out is not None
        and len(ids) == 1
        and not axis
        and not out.is_dir()
        and out.suffix == ".gguf"
    )
    if as_file and out is not None:
        for d in out.parents:  # mkdir would fail under a file only after the model ran
            if d.exists() and not d.is_dir():
                raise UsageError(f"-o {out}: {d} is a file, not a folder", "pass another path")
        from psmlab.core.session.file import missing_folder

        try:  # a file named in a folder that is not there: a typo, not a folder to make
            missing_folder(out, "give -o a path in")
        except UsageError as exc:
            raise UsageError(f"-o {out}: {exc.problem}", exc.fix) from None
        check_folder(out.parent, out)
        return {ids[0]: out}, None
    folder = out if out is not None else Path(".")
    if folder.suffix == ".gguf" and not folder.is_dir():
        raise UsageError(
            f"-o {folder} names one file but {len(ids)} archetype(s){' and the axis' if axis else ''} need a folder",
            "pass a directory to -o",
        )
    if folder.suffix.lower() in _FILE_SUFFIXES and not folder.exists():
        # A trial's `-o out.txt` built into a new folder named out.txt, unsaid.
        raise UsageError(
            f"-o {folder} looks like a file name ({folder.suffix}), but a vector is written "
            + ("as a .gguf file" if len(ids) == 1 and not axis else "into a folder"),
            f"pass -o {folder.with_suffix('.gguf')}"
            if len(ids) == 1 and not axis
            else f"pass a folder name, e.g. -o {folder.with_suffix('')}",
        )
    # The folder, or a folder above it, being a file would fail only after the model ran.
    for d in (folder, *folder.parents):
        if d.exists() and not d.is_dir():
            raise UsageError(
                f"-o {folder}: {d} is a file, not a folder",
                "pass a directory, or a .gguf path that does not exist yet",
            )
    if not folder.exists():
        # One new folder is made (-o vectors/); a path whose parent is missing too is a typo
        # more often than a tree to make, as a session's -o is refused (missing_folder).
        from psmlab.core.session.file import missing_folder

        try:
            missing_folder(folder, "give -o a new folder in")
        except UsageError as exc:
            raise UsageError(f"-o {folder}: {exc.problem}", exc.fix) from None

    check_folder(folder)
    files = {a: folder / f"{a}.{model_id}.gguf" for a in ids}
    return files, (folder / f"assistant-axis.{model_id}.gguf" if axis else None)


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    """Checked before the model runs: a vector file a session recorded (by its sha256) cannot be
    restored once written over, so that takes --force."""
    there = [p for p in paths if p.exists()]
    if there and not force:
        raise UsageError(
            f"{there[0]} exists"
            + (f" (and {len(there) - 1} more)" if len(there) > 1 else "")
            + ": sessions and experiments that used it record its sha256 and could not be "
            "replayed once it is written over",
            "pass -o another folder or file, or --force to replace it",
        )


@app.command("build")
def build(
    archetypes: Annotated[list[str], typer.Argument(help="Archetype ids (see personas/).")],
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="One local model (default: the first demo model)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("-o", "--out", help="A directory, or a .gguf file when one archetype."),
    ] = None,
    layers: Annotated[
        str, typer.Option("--layers", help="Layers: 6,10,14, a range 6-14, or both (6,10-14).")
    ] = "6,10,14",
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Greedy tokens per answer.")
    ] = 32,
    fmt: Annotated[
        str | None, typer.Option("-f", "--format", help="Format (default: the model's).")
    ] = None,
    # The sizes of core.inside.vectors' question sets (not imported here: it loads llama.cpp).
    n_build: Annotated[
        int, typer.Option("--n-build", min=1, max=16, help="Build questions used (of 16).")
    ] = 16,
    n_test: Annotated[
        int, typer.Option("--n-test", min=1, max=12, help="Held-out test questions used (of 12).")
    ] = 12,
    axis: Annotated[
        bool, typer.Option("--axis", help="Also write the assistant axis and its |cos| with PC1.")
    ] = False,
    threads: ThreadsOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace vector files that already exist.")
    ] = False,
) -> None:
    """Contrast answers under each archetype's inducing prompt with the default's, on neutral
    questions; write one control vector per archetype and test it on held-out questions."""

    from psmlab.core.domain.personas import load_personas
    from psmlab.core.inside import vector_checks as C
    from psmlab.core.inside import vectors as V

    wanted = _layers(layers)
    personas, _ = load_personas()  # a broken file is said by the hook the CLI sets
    by_id = {p.id: p for p in personas}
    unknown = [a for a in archetypes if a not in by_id]
    if unknown:
        raise UsageError(
            f"unknown archetype '{unknown[0]}'", f"choose from: {', '.join(sorted(by_id))}"
        )
    ids = list(dict.fromkeys(archetypes))
    chosen = [by_id[a] for a in ids]
    spec = resolve_specs(Registry(), [model] if model else None, None, threads)[0]
    files, axis_file = _targets(out, ids, spec.id, axis)
    _refuse_overwrite([*files.values(), *([axis_file] if axis_file else [])], force)
    qb, qt = V.BUILD_QUESTIONS[:n_build], V.TEST_QUESTIONS[:n_test]
    with V.Responder(spec, wanted, fmt=fmt, n_threads=spec.n_threads) as r:
        sha = spec.sha256() or ""
        fmt_name = r.format.name
        # The default condition's prompt as the model saw it: a template may put its own system
        # prompt there, which then is part of what the vectors contrast with.
        default_warnings = r.warnings(qb[0], None)
        for w in default_warnings:
            sys.stderr.write(f"psmlab: warning: {terminal_safe(w)}\n")
        # Dozens of greedy answers, each read with capture (minutes on a busy CPU): said before
        # they start, and counted on a terminal (a trial waited 23 minutes on a silent build).
        total = (1 + len(chosen)) * (len(qb) + len(qt))
        sys.stderr.write(
            f"psmlab: {total} greedy answers of up to {max_tokens} tokens "
            f"({1 + len(chosen)} conditions × {len(qb)} build + {len(qt)} held-out questions)\n"
        )
        tick = counter(TtyProgress.if_tty(), total, f"{spec.id} answers")
        built = V.collect(r, chosen, qb, max_tokens=max_tokens, on_answer=tick)
        held = V.collect(r, chosen, qt, max_tokens=max_tokens, on_answer=tick)
    for f in files.values():
        f.parent.mkdir(parents=True, exist_ok=True)  # only once the model ran
    common: dict[str, Any] = {
        "model": spec.id,
        "format": fmt_name,
        "max_tokens": max_tokens,
        # What else the answers were made with (greedy decoding: no seed to record).
        "n_ctx": r.cap.n_ctx,
        "n_batch": r.cap.n_batch,
        "n_threads": spec.n_threads,
        "decoding": "greedy",
        # The scale a steering shift is stated against (too_strong, `vectors show`).
        "residual_norm": json.dumps(
            {str(L): round(v, 4) for L, v in sorted(r.residual_norms().items())}, sort_keys=True
        ),
    }
    typer.echo(
        f"{spec.id} ({fmt_name}), layers {','.join(map(str, r.layers))}: "
        f"{len(qb)} build and {len(qt)} held-out questions, {max_tokens} tokens each"
    )
    if len(qt) < SMALL_TEST:
        # AUROC over a handful of questions each way is 0, 0.5 or 1 by construction.
        typer.echo(
            f"  note: {len(qt)} held-out question(s) each way: an AUROC over so few is coarse "
            f"(its only values are k/{len(qt) ** 2}), and so is the shuffled control's (a spread "
            f"of 0 there says only that); use --n-test {SMALL_TEST} or more"
        )
    for aid, vec in built.vectors().items():
        ind = built.inductions[aid]
        control = V.shuffled_auroc(
            built.induced[aid], built.default, held.induced[aid], held.default,
            n_perm=C.N_PERM, seed=C.PERM_SEED,
        )  # fmt: skip
        table = V.separation(vec, held.induced[aid], held.default)
        # Saved with the vector: how well it separated held-out answers, the chance level, and
        # the means a projection on it is read against.
        held_out = C.held_out_record(table, control, len(qt))
        prompts = {
            "induce": ind.prompt,
            "derived": ind.derived,
            "default_system": None,  # none given; `default_warnings` says what the template added
            "default_warnings": default_warnings,
            "build_questions": list(qb),
            "test_questions": list(qt),
        }
        path = V.save_vectors(
            files[aid], vec, sha, r.layers, len(qb), prompts,
            model_hint=spec.architecture or "", archetype=aid,
            method="mean(induced) - mean(default) of response-averaged l_out, greedy",
            held_out=json.dumps(held_out, sort_keys=True), **common,
        )  # fmt: skip
        how = "derived from name + description" if ind.derived else "from the persona file"
        typer.echo(f"\n{aid} -> {path}  (inducing prompt {how})")
        _separation_table(
            table, control, held_out, f"{len(qt)} questions each way", ("induced", "default")
        )
    if axis_file is not None:
        md, ma = built.means_default(), built.means_by_archetype()
        ax = V.assistant_axis(md, ma)
        cos = V.pc1_cosine(ax, md, ma)
        # Its sign and separation tested as a persona vector's are: held-out default answers
        # against the archetypes' (a trial steered "towards the Assistant" into humans).
        table, control = C.axis_check(ax, built.default, built.induced, held.default, held.induced)
        held_out = C.held_out_record(
            table, control, len(qt), high="assistant", low="personas",
            n_high=len(held.default), n_low=sum(len(v) for v in held.induced.values()),
        )  # fmt: skip
        prompts = {
            "archetypes": {a: built.inductions[a].to_dict() for a in ids},
            "default_system": None,
            "default_warnings": default_warnings,
            "build_questions": list(qb),
            "test_questions": list(qt),
        }
        path = V.save_vectors(
            axis_file, ax, sha, r.layers, len(qb), prompts,
            model_hint=spec.architecture or "", archetype="assistant-axis",
            # The axis points from the personas to the Assistant (its sign as the output says).
            method="mean(default) - mean over archetypes of mean(induced), response-averaged "
            "l_out, greedy",
            pc1_abs_cosine=json.dumps({str(L): cos[L] for L in sorted(ax)}, sort_keys=True),
            held_out=json.dumps(held_out, sort_keys=True), **common,
        )  # fmt: skip
        typer.echo(f"\nassistant axis (default minus mean of {len(ids)} archetype(s)) -> {path}")
        _separation_table(
            table, control, held_out,
            f"{len(qt)} questions: {len(qt)} default answers, {len(qt) * len(ids)} archetypes'",
            ("assistant", "personas"),
        )  # fmt: skip
        typer.echo("  layer  |cos PC1| (the axis against the first principal component)")
        for L in sorted(ax):
            typer.echo(f"  {L:>5}  {cos[L]:.3f}")
        typer.echo(f"  note: {pc1_note(len(ids))}")


def _separation_table(
    table: list[Any],
    control: dict[int, tuple[float, float]],
    held_out: dict[str, dict[str, Any]],
    counts: str,
    names: tuple[str, str],
) -> None:
    """The held-out test of one vector or axis, and a note for each layer that fails it."""
    from psmlab.core.inside.vector_checks import N_PERM, verdict

    high, low = names
    typer.echo(
        f"  held-out projections ({counts}); shuffled: AUROC of vectors "
        f"built with {high}/{low} labels shuffled ({N_PERM} permutations, mean ± sd)"
    )
    typer.echo(f"  layer      norm {high:>9} {low:>9}       gap  AUROC  shuffled")
    for s in table:
        mean, sd = control[s.layer]
        typer.echo(
            f"  {s.layer:>5} {s.norm:>9.2f} {s.induced:>9.2f} {s.default:>9.2f} "
            f"{s.gap:>9.2f}  {s.auroc:.2f}   {mean:.2f} ± {sd:.2f}"
        )
    for s in table:
        why = verdict(held_out[str(s.layer)])
        if why:
            typer.echo(
                f"  warning: layer {s.layer} {why}: its projections do not tell {high} answers "
                f"from {low} ones"
            )


# Registered here, written in its own module: `vectors` keeps one Typer group.
app.command("show")(show)
