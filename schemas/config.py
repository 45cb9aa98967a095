"""Load stage configs: pydantic models with documented defaults, overridable from YAML/JSON.

A config file says what it means or is refused: a key given twice, a boolean where a number is
wanted (YAML reads ``no``/``yes``/``on``/``off`` as booleans) and a number that is not finite
(``.inf``, ``NaN``) are errors naming the file and the field, not silently read as something else.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigError
from schemas.text_input import load_json, read_text_input

T = TypeVar("T", bound=BaseModel)

_HINT = "see the documented defaults in the README"


class _DuplicateKey(ValueError):
    """A key given twice in one mapping of a config file."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing a key given twice in one mapping (YAML keeps the last one,
    dropping the first block without a word). Merge keys (``<<``) may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise _DuplicateKey(f"key {key!r} is given twice (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def env_seconds(name: str, default: float, hint: str) -> float:
    """Seconds from the environment variable ``name`` (a number >= 0, ``inf`` allowed), else
    ``default`` when unset or empty; anything else (not a number, negative, NaN) is a
    :class:`ConfigError` naming the variable, with ``hint`` saying what to set."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # NaN too
        raise ConfigError(f"{raw!r} is not a number of seconds >= 0", where=name, hint=hint)
    return value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' ``object_pairs_hook``: an object, refused when it names a key twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"key {key!r} is given twice in one object")
        out[key] = value
    return out


def _parse(p: Path, text: str) -> Any:
    """The data of a YAML/JSON config file; a syntax error, a key given twice, a number of more
    digits than Python reads (over 4300) or nesting too deep is a ConfigError naming the file."""
    try:
        if p.suffix == ".json":
            return json.loads(text, object_pairs_hook=_unique_pairs)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as exc:
        raise ConfigError(str(exc), where=str(p), hint="give each setting once") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse config: {exc}", where=str(p)) from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        if p.suffix == ".json":
            load_json(text, str(p), ConfigError)  # fails the same way without the hook, and says why
        raise _unreadable(p, exc) from None


def _unreadable(p: Path, exc: ValueError | RecursionError) -> ConfigError:
    """The ConfigError of a YAML config that does not load for ``exc``: nesting deeper than the
    interpreter's stack, or an integer of more digits than Python converts (PyYAML's int
    constructor raises ValueError)."""
    if isinstance(exc, RecursionError):
        return ConfigError("the config is nested too deeply to read", where=str(p))
    return ConfigError(
        f"cannot read a value of the config: {str(exc).splitlines()[0]}",
        where=str(p),
        hint="give numbers of at most a few digits, as the documented defaults are",
    )


def _find(value: Any, pred: Callable[[Any], bool]) -> tuple[str, Any] | None:
    """(path, value) of the first value in ``value`` (nested dicts and lists) ``pred`` holds for."""
    todo: list[tuple[str, Any]] = [("", value)]
    while todo:
        at, v = todo.pop()
        if pred(v):
            return at, v
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        todo.extend((f"{at}.{k}" if at else str(k), x) for k, x in reversed(list(items)))
    return None


def _in_data(data: Any, loc: tuple[Any, ...]) -> tuple[str, Any]:
    """The part of a validation error's ``loc`` that is a path in ``data`` (not a union member's
    name) and the value there."""
    out: list[str] = []
    for part in loc:
        if isinstance(data, dict):
            inside = part in data
        else:
            inside = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not inside:
            break
        data = data[part]
        out.append(str(part))
    return ".".join(out), data


def _coerced_bool(model: type[BaseModel], data: dict[str, Any], skip: set[str]) -> tuple[str, Any] | None:
    """Where a boolean of ``data`` was read as a number (lax validation turns ``no`` into 0), keys
    in ``skip`` left out; None when nowhere. Only such errors of a strict validation count (of the
    data as JSON, where a list may be a tuple and a string an enum, as a file writes them)."""
    try:
        text = json.dumps(data, default=str)
    except (TypeError, ValueError):  # keys JSON cannot hold (lax validation took them): no verdict
        return None
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        for err in exc.errors():
            if isinstance(err.get("input"), bool) and err["loc"] and err["loc"][0] not in skip:
                return _in_data(data, err["loc"])
    return None


def _check_values(model: type[BaseModel], data: dict[str, Any], where: str, overrides: set[str]) -> None:
    """Refuse a non-finite number, or a boolean read as a number, in the file's part of ``data``."""
    from_file = {k: v for k, v in data.items() if k not in overrides}
    found = _find(from_file, lambda v: isinstance(v, float) and not math.isfinite(v))
    if found is not None:
        raise ConfigError(
            f"field '{found[0]}': {found[1]!r} is not a finite number",
            where=where,
            hint="give a finite number",
        )
    if _find(from_file, lambda v: isinstance(v, bool)) is None:
        return
    found = _coerced_bool(model, data, overrides)
    if found is not None:
        raise ConfigError(
            f"field '{found[0]}': {found[1]!r} is a boolean, not a number (YAML reads no/yes/on/off as "
            "booleans)",
            where=where,
            hint="write the number, e.g. 0 or 1",
        )


def load_config(model: type[T], path: str | os.PathLike[str] | None = None, **overrides: Any) -> T:
    """Build ``model`` from its defaults, then a YAML/JSON file, then keyword overrides.

    Errors name the file and the field, e.g. ``cfg.yaml: field 'dedup.max_distance': ...``.
    """
    data: dict[str, Any] = {}
    where = str(path) if path else model.__name__
    if path is not None:
        p = Path(path)
        loaded = _parse(p, read_text_input(p, "config file", ConfigError))
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("config must be a mapping", where=str(p))
        data.update(loaded or {})
    given = {k: v for k, v in overrides.items() if v is not None}
    data.update(given)
    try:
        cfg = model.model_validate(data)
        if path is not None:
            _check_values(model, data, where, set(given))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"field '{field}': {err['msg']}", where=where, hint=_HINT) from None
    except RecursionError:
        raise ConfigError("the config is nested too deeply to read", where=where) from None
    return cfg
