"""One TOML → pydantic loader: every data file psmlab reads fails with the same one-line error."""

from __future__ import annotations

import difflib
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from psmlab.core.errors import PsmlabError

M = TypeVar("M", bound=BaseModel)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# A value a strict field refuses as text: what to write instead (without quotes only when the
# text is one; `choice = yes` is no TOML either).
_WRITE = {
    "int_type": lambda t: (
        "write it without quotes"
        if t.strip().lstrip("+-").isdigit()
        else "write a whole number, without quotes"
    ),
    "float_type": lambda t: "write it without quotes" if _number(t) else "write a number",
    "bool_type": lambda t: (
        "write it without quotes"
        if t.strip() in ("true", "false")
        else "write true or false, without quotes"
    ),
}


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(dotted location, message) of a validation error's first problem."""
    err = exc.errors()[0]
    msg = str(err["msg"])
    # A validator's own ValueError says what is wrong; pydantic's prefix only says it was raised.
    msg = msg.removeprefix("Value error, ")
    given = err.get("input")
    if err["type"] in _WRITE and isinstance(given, str):
        msg += f" (it is the text {given!r}: {_WRITE[err['type']](given)})"
    return ".".join(str(x) for x in err["loc"]), msg


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (itself, in a list, or beside None), if any."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def unknown_key(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What to say of a key the table at `loc` does not have: the field it is likely a typo of,
    else the fields that table has (the table found by walking `model`'s fields along `loc`)."""
    table = _table_at(model, loc[:-1])
    key, where = str(loc[-1]), ".".join(str(x) for x in loc)
    if table is None:
        return f"'{where}' is not a field here"
    fields = list(table.model_fields)
    # A field of a table nested here, written at this level (`steer` at the top of an
    # experiment file, which only a [[contexts]] entry has): said where it goes, not a typo.
    homes = [
        _header(loc[:-1], name, field.annotation)
        for name, field in table.model_fields.items()
        if (inner := _model_in(field.annotation)) is not None and key in inner.model_fields
    ]
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    if homes:  # a typo of a field here stays possible: said second
        typo = f"; or did you mean '{close[0]}'?" if close else ""
        return f"'{where}' is not a field here (it belongs in a {' or '.join(homes)} entry{typo})"
    if close:
        return f"'{where}' is not a field (did you mean '{close[0]}'?)"
    return f"'{where}' is not a field (the fields: {', '.join(fields)})"


def _header(at: tuple[Any, ...], name: str, annotation: Any) -> str:
    """How the file writes the table field `name` (under the table at `at`) holds: `[[name]]`
    for a list of tables, `[name.NAME]` for a mapping, `[name]` for one."""
    dotted = ".".join([*(str(x) for x in at if not isinstance(x, int)), name])
    kinds = {get_origin(annotation), *(get_origin(a) for a in get_args(annotation))}
    if list in kinds:
        return f"[[{dotted}]]"
    if dict in kinds:
        return f"[{dotted}.NAME]"
    return f"[{dotted}]"


def _table_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the table at `loc`, found by walking `model`'s fields."""
    table: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or table is None:
            continue  # an item of a list: the list's field already named the item's model
        field = table.model_fields.get(str(part))
        if field is not None:  # else a key of a mapping ([models.NAME]): the same table goes on
            table = _model_in(field.annotation)
    return table


def _shape(model: type[BaseModel], err: Any) -> str | None:
    """What to write where a table or a list was wanted: pydantic's "Input should be a valid
    dictionary or instance of Question" names a class, not the `{ id = ..., text = ... }` the
    file needs."""
    given = err.get("input")
    was = f"it is {given!r}" if isinstance(given, str | int | float | bool) else None
    if err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        table = _table_at(model, tuple(err["loc"]))
        if table is None or table is model:
            return None
        keys = [n for n, f in table.model_fields.items() if f.is_required()] or list(
            table.model_fields
        )[:2]
        shape = "{ " + ", ".join(f"{k} = ..." for k in keys) + " }"
        return f"write it as a table, {shape}" + (f" ({was})" if was else "")
    if err["type"] == "list_type":
        return "write a list, [ ... ]" + (f" ({was})" if was else "")
    return None


def line_of(text: str, key: str) -> int | None:
    """The line where a top-level `key = ...` is written, if it is written on one line."""
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return None


def read_toml(
    path: Path | Any,
    model: type[M],
    error: type[PsmlabError],
    *,
    what: str,
    fix: str,
) -> M:
    """Read `path` as TOML and validate it as `model`; every failure is `error` in one line
    naming the file, the line or key where known, and `fix`."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Notepad) is not content
    except FileNotFoundError:
        raise error(f"{what} not found: {path}", "check the path") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8", "save it as UTF-8") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}", "check the path") from None
    return parse_toml(text, path, model, error, what=what, fix=fix)


def parse_toml(
    text: str,
    path: Path | Any,
    model: type[M],
    error: type[PsmlabError],
    *,
    what: str,
    fix: str,
) -> M:
    """`read_toml` for text already read."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path} is not valid TOML: {exc}", "fix the TOML syntax") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where, msg = first_error(exc)
        line = line_of(text, where.split(".")[0]) if where else None
        at = f"line {line}, " if line else ""
        err = exc.errors()[0]
        if err["type"] == "extra_forbidden" and err["loc"]:
            raise error(f"{what} {path}: {at}{unknown_key(model, err['loc'])}", fix) from None
        msg = _shape(model, err) or msg
        raise error(f"{what} {path}: {at}'{where}': {msg}", fix) from None
