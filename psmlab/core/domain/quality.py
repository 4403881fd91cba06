"""How far each labeller's labels agree with people's: the numbers shown wherever label shares are.

The measured agreement ships as `psmlab/resources/labellers.json`, one entry per labeller (the
`method` an automatic label records), per level of label:

    {"markers": {"self_id": {"kappa": 0.84, "ci_low": 0.76, "ci_high": 0.91, "n": 120,
                             "split": "test", "gold": "tests/data/gold", "measured": "2026-12-01"},
                 "archetypes": {...}}}

A labeller or level that is not in the file has not been measured, and the display says so. It
lives in the domain layer, not `measure`, because session exports (below `measure`) show it too.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from psmlab.core.domain.classify import LABELLER as RULES  # archetypes' labeller, always
from psmlab.core.domain.stats import fmt2
from psmlab.core.errors import PsmlabError

LEVELS = {"self_id": "self-id", "archetypes": "archetypes"}
_FIELDS = {"kappa": float, "ci_low": float, "ci_high": float, "n": int, "split": str}
NOT_MEASURED = "agreement with people: not measured"


def labellers_file() -> Path:
    """The shipped file of measured agreement."""
    return Path(str(resources.files("psmlab.resources").joinpath("labellers.json")))


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PsmlabError(
            f"cannot read the labellers' measured agreement {path}: {exc}",
            "reinstall psmlab, or fix the file",
        ) from None
    ok = isinstance(data, dict) and all(
        isinstance(levels, dict)
        and all(
            isinstance(m, dict)
            and all(
                isinstance(m.get(k), (int, float) if t is float else t) for k, t in _FIELDS.items()
            )
            for m in levels.values()
        )
        for levels in data.values()
    )
    if not ok:
        raise PsmlabError(
            f"{path} is not {{labeller: {{level: {{kappa, ci_low, ci_high, n, split, ...}}}}}}",
            "fix the file",
        )
    return data


def agreement(
    labeller: str,
    level: str = "self_id",
    path: Path | None = None,
    *,
    now: bool = False,
    personas: set[str] | None = None,
) -> dict[str, Any] | None:
    """A labeller's measured agreement with people at one level, or None when not measured.
    Archetypes read with other persona files than the ones their kappa was measured with were
    not: `personas`, the fingerprints labels recorded; `now`, labels made now with this
    process's persona files (other recorded labels do not say which they had)."""
    if level == "archetypes" and other_personas(now=now, personas=personas):
        return None
    return _load(path or labellers_file()).get(labeller, {}).get(level)


def other_personas(*, now: bool = False, personas: set[str] | None = None) -> str | None:
    """ "personas FP" when the labels' persona files are not those the archetypes' kappa was
    measured with (`personas` recorded, else this process's when `now`), else None."""
    if personas:
        odd = sorted(p for p in personas if p != measured_personas())
        return f"personas {', '.join(odd)}" if odd else None
    return custom_personas() if now else None


def measured_personas() -> str:
    """The persona files the archetypes' kappa was measured with, as recorded (an edited
    shipped file is another set); the shipped files where the measurement does not say."""
    from psmlab.core.domain.personas import shipped_fingerprint

    got = _load(labellers_file()).get(RULES, {}).get("archetypes", {}).get("personas")
    return str(got) if got else shipped_fingerprint()


def level_agreement(
    labeller: str,
    level: str,
    path: Path | None = None,
    *,
    now: bool = False,
    personas: set[str] | None = None,
) -> dict[str, Any] | None:
    """The measured agreement behind a labeller's labels at one level: a judge gives the self-id
    label only, so its archetypes are the marker rules' (and so is their kappa)."""
    by = RULES if level == "archetypes" and labeller.startswith("judge:") else labeller
    return agreement(by, level, path, now=now, personas=personas)


def measured_model(labeller: str, path: Path | None = None) -> str | None:
    """The sha256 of the model a judge's agreement was measured with (None: no model recorded,
    as for the marker rules). A judge is named by its model's id, and an id is only a name."""
    m = agreement(labeller, "self_id", path)
    sha = m.get("model_sha256") if m is not None else None
    return sha if isinstance(sha, str) else None


def unreliable(m: dict[str, Any]) -> bool:
    """A kappa whose 95% interval includes 0 cannot be told from chance."""
    return bool(m["ci_low"] <= 0.0)


def labeller_line(
    labeller: str, path: Path | None = None, *, now: bool = False, personas: set[str] | None = None
) -> str:
    """One line naming the labeller and its measured agreement with people, e.g.
    `labeller: markers · self-id κ 0.84 [0.76, 0.91] vs gold test n=120`, or
    `labeller: markers · agreement with people: not measured` (`now`: see `agreement`)."""
    parts: list[str] = []
    measured = False
    for level, name in LEVELS.items():
        by = labeller
        if level == "archetypes" and labeller.startswith("judge:"):
            # A judge gives the self-id label only; the archetypes stay the marker rules'.
            by, name = RULES, "archetypes (marker rules)"
        if level == "archetypes" and (own := other_personas(now=now, personas=personas)):
            # Measured with the shipped persona files: another set labels other archetypes.
            parts.append(f"{name}: not measured with these persona files ({own})")
            continue
        m = agreement(by, level, path)
        if m is None:  # said only when some other level was measured (below)
            parts.append(f"{name}: not measured against people")
            continue
        measured = True
        # How many of the items hold any archetype: the archetypes' n counts every item read,
        # and a trial found 4 of the 328 behind "n=328".
        some = m.get("with_any")
        text = (
            f"{name} κ {fmt2(m['kappa'])} [{fmt2(m['ci_low'])}, {fmt2(m['ci_high'])}] "
            f"vs gold {m['split']} n={m['n']}"
            + (f" ({some} with an archetype)" if isinstance(some, int) else "")
        )
        if unreliable(m):
            text += " (unreliable: interval includes 0)"
        parts.append(text)
    return " · ".join([f"labeller: {labeller}", *(parts if measured else [NOT_MEASURED])])


def custom_personas() -> str | None:
    """The persona files' fingerprint when they are not the shipped set (a user's own, or one
    replaced), else None: the archetypes' measured agreement is the shipped set's."""
    from psmlab.core.domain.personas import persona_dirs

    files = []
    for d in persona_dirs():
        for f in sorted(d.glob("*.toml")) if d.is_dir() else ():
            try:
                st = f.stat()
            except OSError:  # removed since the glob: read without it
                continue
            files.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
    return _custom(tuple(files))


@lru_cache(maxsize=4)
def _custom(files: tuple[tuple[str, int, int, int], ...]) -> str | None:
    """Read again only when a persona file is added, removed or edited (keyed by their times)."""
    from psmlab.core.domain.personas import load_personas, personas_fingerprint

    now = personas_fingerprint(load_personas()[0])
    return None if now == measured_personas() else f"personas {now}"


def kappa_brief(labeller: str, level: str, path: Path | None = None, *, now: bool = False) -> str:
    """One level's measured agreement in a word or two, for the line its shares are on:
    `κ 0.57`, `κ 0.09 unreliable` or `κ not measured` (a judge's archetypes are the marker
    rules')."""
    m = level_agreement(labeller, level, path, now=now)
    if m is None:
        return "κ not measured"
    return f"κ {m['kappa']:.2f}" + (" unreliable" if unreliable(m) else "")


def labeller_brief(labeller: str, path: Path | None = None, *, now: bool = False) -> str:
    """The labeller and its kappas in a few words, for a narrow column: `markers κ 0.57,
    archetypes κ 0.09 unreliable`, `judge:x κ 0.02 unreliable`, or `markers: not measured`
    (`labeller_line` says it whole)."""
    m = agreement(labeller, "self_id", path)
    if m is None:
        return f"{labeller}: not measured"
    out = f"{labeller} κ {m['kappa']:.2f}" + (" unreliable" if unreliable(m) else "")
    a = agreement(labeller, "archetypes", path, now=now)
    if a is not None:  # the archetype shares sit in the same panel: their kappa goes with them
        out += f", archetypes κ {a['kappa']:.2f}" + (" unreliable" if unreliable(a) else "")
    return out
