"""What replay checks before it certifies anything: the record is well formed, and the model file,
its context, the library and the settings are the ones the answers were made with (else said)."""

from __future__ import annotations

from dataclasses import replace

from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import SessionError
from psmlab.core.models.cvec import llama_cpp_version
from psmlab.core.models.hashing import file_sha256
from psmlab.core.models.spec import ModelSpec
from psmlab.core.session.schema import GenerationRecord, Session


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_record(g: GenerationRecord) -> None:
    """What replay decodes from must be what the record says: a malformed or contradicting
    `params` (a hand edit) is said as such, not an internal error, and a seed that is not the
    one its group was decoded with is not certified "identical"."""

    def bad(what: str) -> SessionError:
        return SessionError(
            f"its record is malformed: {what}",
            "the session file was edited or damaged; restore it from a copy",
        )

    for name in ("n_threads", "n_ctx"):  # replay decodes with both
        value = g.params.get(name)
        if value is not None and not (_is_int(value) and value >= 1):
            raise bad(f"params.{name} is {value!r}, not a whole number of 1 or more")
    if "seed" in g.params and g.params["seed"] != g.seed:
        raise bad(f"its seed {g.seed} is not params.seed {g.params['seed']!r}")
    par = g.params.get("parallel")
    if not par:
        return
    seeds = par.get("seeds") if isinstance(par, dict) else None
    seq = par.get("seq") if isinstance(par, dict) else None
    if not isinstance(seeds, list) or not seeds or not all(_is_int(x) for x in seeds):
        raise bad("params.parallel.seeds is not a list of whole numbers")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < len(seeds):
        raise bad(f"params.parallel.seq is {seq!r}, not a place in its {len(seeds)} seeds")
    if seeds[seq] != g.seed:
        raise bad(
            f"its seed {g.seed} is not the one its group was decoded with "
            f"(params.parallel.seeds[{seq}] = {seeds[seq]})"
        )


def check_vocab(session: Session, model: str, spec: ModelSpec, warnings: list[str]) -> None:
    """A server model's local GGUF (its template and tokens) that is not the one its answers
    were rendered with: said, so a changed prompt is not put down to edited turns."""
    recorded = next(
        (
            g.provenance.get("vocab_sha256")
            for g in reversed(session.generations)
            if g.model == model and g.provenance.get("vocab_sha256")
        ),
        None,
    )
    if not recorded:
        return
    now = file_sha256(spec.vocab_path) if spec.vocab_path else None
    if now != recorded:
        where = spec.vocab_path or "no local GGUF"
        warnings.append(
            f"model {model}: its prompts are rendered now with {where}, not the GGUF they were "
            f"recorded with (sha256 {(now or '-')[:12]}…, recorded {recorded[:12]}…)"
        )


def at_recorded_context(spec: ModelSpec, g: GenerationRecord) -> ModelSpec:
    """The model with the context the answer was made with: a session continued later with
    another --n-ctx records the new one for its model, and at a smaller context a parallel
    group no longer fits and is decoded in other batches (other tokens)."""
    n_ctx = g.params.get("n_ctx")
    if spec.is_remote or not isinstance(n_ctx, int) or isinstance(n_ctx, bool):
        return spec
    return spec if n_ctx < 1 or n_ctx == spec.n_ctx else replace(spec, n_ctx=n_ctx)


def check_model_file(session: Session, model: str, path: str, digest: str) -> list[str]:
    """The file used against each answer's own record of the file it was made with (the
    session's model list keeps one record per id, and may have none)."""
    out = []
    rec = session.model(model)
    answered = any(g.model == model for g in session.generations)
    if rec is not None and not rec.sha256 and answered:  # a model that never loaded has none
        out.append(
            f"model {model}: the session records no sha256 for it, so {path} is checked only "
            "against each answer's own record"
        )
    other = [
        g.provenance["model_sha256"]
        for g in session.generations
        if g.model == model
        and isinstance(g.provenance.get("model_sha256"), str)
        and g.provenance["model_sha256"] != digest
    ]
    if other:
        out.append(
            f"model {model}: {len(other)} answer(s) record another file (sha256 {other[0][:12]}…) "
            f"than {path} ({digest[:12]}…): they are replayed with this one"
        )
    return out


def check_versions(session: Session) -> list[str]:
    """Logits depend on llama.cpp's kernels: another llama-cpp-python is the likeliest reason a
    replay differs on another machine, and is said before any difference."""
    now = llama_cpp_version()
    recorded = sorted(
        {
            str(v)
            for g in session.generations
            if not g.provenance.get("endpoint") and (v := g.provenance.get("llama_cpp_python"))
        }
    )
    if not recorded or now is None or recorded == [now]:
        return []
    return [
        f"the answers were made with llama-cpp-python {', '.join(recorded)} and are replayed "
        f"with {now}: another version may give other tokens"
    ]


_PARAM_KEYS = set(SamplingParams.model_fields)
# Settings an answer always records (a record without one is replayed with the default).
_RECORDED = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "max_tokens")


def check_settings(session: Session) -> list[str]:
    """Settings missing from a record (replayed with their defaults), and samples of one
    parallel group that record different settings (one group decodes with one): a hand edit,
    said, so a difference is not read as a model that does not repeat itself."""
    out = []
    missing: dict[str, int] = {}
    for g in session.generations:
        for k in _RECORDED:
            if k not in g.params:
                missing[k] = missing.get(k, 0) + 1
    if missing:
        said = ", ".join(f"{k} ({n})" for k, n in missing.items())
        defaults = SamplingParams()
        out.append(
            f"answers record no {said}: replayed with the defaults "
            f"({', '.join(f'{k} {getattr(defaults, k)}' for k in missing)})"
        )
    groups: dict[tuple[object, ...], set[str]] = {}
    for g in session.generations:
        par = g.params.get("parallel")
        if not isinstance(par, dict) or not isinstance(par.get("seeds"), list):
            continue
        key = (g.model, g.node, g.turn, g.run, tuple(map(str, par["seeds"])))
        rest = {k: v for k, v in g.params.items() if k in _PARAM_KEYS and k != "seed"}
        groups.setdefault(key, set()).add(repr(sorted(rest.items())))
    odd = sum(1 for v in groups.values() if len(v) > 1)
    if odd:
        out.append(
            f"{odd} parallel group(s) record different settings for their samples (a group is "
            "decoded with one): the file was edited; its samples are replayed apart"
        )
    return out
