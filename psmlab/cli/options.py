"""The options commands share, defined once: models, formats, prompts, and every sampling knob."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError

from psmlab.core.domain.limits import LOGPROB_ALTERNATIVES, MAX_SAMPLES
from psmlab.core.domain.tomlfile import first_error
from psmlab.core.domain.types import MAX_SEED, SamplingParams, param_range
from psmlab.core.errors import UsageError

ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-m",
        "--model",
        metavar="MODEL",  # Typer showed <list[str]>
        help="Model id (see `psmlab models`), path to a .gguf, or a server as "
        "http://HOST:PORT/v1#MODEL; add @base/@chat to override its kind. "
        "Repeat for columns. Default: the demo pair.",
    ),
]
FormatOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--format",
        metavar="[MODEL=]NAME",
        help="Format for every model (NAME), or for one (MODEL=NAME). See `psmlab formats`.",
    ),
]
SystemOpt = Annotated[
    str | None,
    typer.Option(
        "--system",
        help='System prompt ("" removes one, and a chat template may then fill in its default: '
        "-f template-empty-system renders an empty one).",
    ),
]
PrefillOpt = Annotated[
    str | None, typer.Option("--prefill", help="Text the assistant turn starts with.")
]
TranscriptOpt = Annotated[
    Path | None,
    typer.Option("--transcript", help="JSON messages list [{role, content}, ...] to continue."),
]
NCtxOpt = Annotated[int | None, typer.Option("--n-ctx", min=16, help="Context size in tokens.")]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", min=1, help="CPU threads per model.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SteerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--steer",
        metavar="[MODEL=]FILE[:LAYERS][@ALPHA]",
        help="[MODEL=]FILE[:LAYERS][@ALPHA]: add alpha times a control vector (psmlab vectors "
        "build, llama.cpp's cvector-generator, repeng) to a local model's residual stream at "
        "LAYERS (default: all in the file). Without MODEL= it steers every model. Recorded.",
    ),
]
MonitorOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--monitor",
        metavar="FILE",
        help="A control vector (e.g. psmlab vectors build … --axis): each answer is re-read and "
        "projected on it, per layer and per token; shown, in --json and saved. Repeatable.",
    ),
]
SessionArg = Annotated[Path, typer.Argument(help="Session file (or its name in the sessions dir).")]

# --- sampling ------------------------------------------------------------------------------
# Defaults and limits are SamplingParams' own: the defaults are read from it, and the values are
# checked by building one (`sampling_params`), so an out-of-range value is a one-line usage error.

SAMPLING = SamplingParams()  # the defaults


def _range(name: str) -> str:
    """A SamplingParams field's limits as click writes ranges: 0.0<=x<=5.0, 0.0<x<=1.0, x>=0."""
    low: tuple[object, str] | None = None
    high: tuple[object, str] | None = None
    for m in SamplingParams.model_fields[name].metadata:
        if isinstance(m, Ge):
            low = (m.ge, "<=")
        elif isinstance(m, Gt):
            low = (m.gt, "<")
        elif isinstance(m, Le):
            high = (m.le, "<=")
        elif isinstance(m, Lt):
            high = (m.lt, "<")
    if low and high:
        return f"{low[0]}{low[1]}x{high[1]}{high[0]}"
    if low:
        return f"x{low[1].replace('<', '>')}{low[0]}"
    return f"x{high[1]}{high[0]}" if high else ""


def _help(name: str, text: str) -> str:
    limits = _range(name)
    return f"{text}  [{limits}]" if limits else text


SamplesOpt = Annotated[
    int,
    typer.Option("-n", "--samples", min=1, max=MAX_SAMPLES, help="Samples per model."),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed",
        min=0,
        max=MAX_SEED,
        help="Seed of sample 0; sample i uses seed+i (samples of a model decoded together are made again only by the same -n and --seed). Default: random, recorded.",
    ),
]
TemperatureOpt = Annotated[
    float,
    typer.Option(
        "--temperature", "-t", help=_help("temperature", "Sampling temperature; 0 is greedy.")
    ),
]
TopPOpt = Annotated[
    float,
    typer.Option(
        "--top-p",
        help=_help("top_p", "Nucleus sampling: keep the likeliest tokens up to this mass."),
    ),
]
TopKOpt = Annotated[
    int,
    typer.Option(
        "--top-k", help=_help("top_k", "Keep only the k likeliest tokens; 0 keeps them all.")
    ),
]
MinPOpt = Annotated[
    float,
    typer.Option(
        "--min-p",
        help=_help("min_p", "Drop tokens less likely than this times the likeliest one."),
    ),
]
RepeatPenaltyOpt = Annotated[
    float,
    typer.Option(
        "--repeat-penalty",
        help=_help("repeat_penalty", "Penalty on tokens already in the text; 1 is none."),
    ),
]
MaxTokensOpt = Annotated[
    int,
    typer.Option("--max-tokens", help=_help("max_tokens", "Most tokens each sample may write.")),
]
LogprobsOpt = Annotated[
    bool,
    typer.Option(
        "--logprobs",
        help=f"Record every token's probability and its top {LOGPROB_ALTERNATIVES} alternatives.",
    ),
]


def sampling_params(**values: Any) -> SamplingParams:
    """SamplingParams from the options' values; a value out of range is a one-line usage error."""
    try:
        return SamplingParams(**values)
    except ValidationError as exc:
        where, _ = first_error(exc)
        name = "--" + where.replace("_", "-")
        raise UsageError(
            f"{name} {values.get(where)} is out of range",
            f"give {name} a value {param_range(where)}",
        ) from None
