"""Load stage configs: pydantic models with documented defaults, overridable from YAML/JSON.

A config file says what it means or is refused: a key given twice, a boolean where a number is
wanted (YAML reads ``no``/``yes``/``on``/``off`` as booleans) and a number that is not finite
(``.inf``, ``NaN``) are errors naming the file and the field, not silently read as something else.
A bad value given on the command line (an override) names the option, not the file; a key that
is not known says which known key it probably meant. Every key, its type, default and bounds are
listed in docs/config.md (``mf config reference`` writes it, ``mf config show STAGE`` prints the
values in effect).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigError, short_repr, validation_text
from schemas.text_input import load_json, read_text_input

T = TypeVar("T", bound=BaseModel)

_HINT = (
    "`mf config reference --out -` lists the keys, types and defaults; mf config show {stage} prints the "
    "values in effect"
)
_OPTION_HINT = "see the command's --help; `mf config reference --out -` lists the bounds"
_SUFFIXES = (".yaml", ".yml", ".json")
#: the largest seed a training or evaluation run takes (numpy's and torch's seeds are 32/64-bit)
SEED_MAX = 2**32 - 1


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


# ``1e-4``, ``1E5``: a float in YAML 1.2 and JSON, text in PyYAML's YAML 1.1 (which wants a dot);
# read as the number it is, so that a number written in quotes (``"8"``) can be refused as text
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


#: the most values a YAML config may stand for once its aliases are expanded (an alias bomb: a
#: few lines of ``&a [*b, *b, ...]`` stand for billions, and every check walks them all)
MAX_CONFIG_VALUES = 1_000_000


class _AliasProblem(ValueError):
    """A YAML config whose aliases refer to a node that holds them, or expand past
    :data:`MAX_CONFIG_VALUES`."""


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside ``node`` (a mapping's keys and values, a sequence's items)."""
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node) -> None:
    """Refuse a composed YAML document whose aliases loop (``&a [*a]``: every walk of the data
    would go round for ever) or stand for more than :data:`MAX_CONFIG_VALUES` values once
    expanded. A node an alias repeats is sized once, so this costs one pass over the file's
    nodes (iterative: no recursion limit)."""
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, done = todo.pop()
        key = id(node)
        if done:
            ancestors.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _node_children(node))
            if sizes[key] > MAX_CONFIG_VALUES:
                raise _AliasProblem(
                    f"its YAML aliases (*name) expand to more than {MAX_CONFIG_VALUES:,} values"
                    f" (from line {node.start_mark.line + 1})"
                )
            continue
        if key in sizes:
            continue
        if key in ancestors:
            raise _AliasProblem(
                f"a YAML alias on line {node.start_mark.line + 1} refers to a node that holds it"
            )
        ancestors.add(key)
        todo.append((node, True))
        todo.extend((c, False) for c in reversed(_node_children(node)))


def load_yaml(text: str) -> Any:
    """The one safe YAML loader of the toolkit: ``yaml.load`` with :class:`_UniqueKeyLoader`
    (safe tags only, a key given twice refused), its aliases checked (:func:`_check_aliases`:
    an alias bomb or a loop refused) before the data is built. Raises ``yaml.YAMLError`` or
    ``ValueError``; :func:`parse_config_text` turns them into one :class:`ConfigError` line."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def env_int(name: str, default: int, low: int, hint: str) -> int:
    """An integer >= ``low`` from the environment variable ``name``, else ``default`` when unset
    or empty; anything else is a :class:`ConfigError` naming the variable, with ``hint``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise ConfigError(f"{raw!r} is not an integer >= {low}", where=name, hint=hint)
    return value


def env_seconds(name: str, default: float, hint: str) -> float:
    """Seconds from the environment variable ``name`` (a number >= 0, ``inf`` allowed; one past
    what a timer can wait, ``threading.TIMEOUT_MAX``, is ``inf``), else ``default`` when unset or
    empty; anything else (not a number, negative, NaN) is a :class:`ConfigError` naming the
    variable, with ``hint`` saying what to set."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # NaN too
        raise ConfigError(f"{raw!r} is not a number of seconds >= 0", where=name, hint=hint)
    return math.inf if value > threading.TIMEOUT_MAX else value


#: where torchcodec decodes (``movingfashion.media.readers``): ``cpu`` (default), ``cuda`` or
#: ``auto`` (CUDA in the main process when present)
DECODE_DEVICE_ENV = "MF_DECODE_DEVICE"
DECODE_DEVICES = ("cpu", "cuda", "auto")


def env_decode_device() -> str:
    """``$MF_DECODE_DEVICE`` (lower case; unset or empty: ``cpu``), or a :class:`ConfigError`
    naming the variable: every command checks it at its start (a bad value made every video
    "unreadable")."""
    value = (os.environ.get(DECODE_DEVICE_ENV) or "cpu").strip().lower()
    if value not in DECODE_DEVICES:
        raise ConfigError(
            f"unknown decode device {value!r}",
            where=DECODE_DEVICE_ENV,
            hint=f"use {', '.join(DECODE_DEVICES)}, or unset it (cpu)",
        )
    return value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``' ``object_pairs_hook``: an object, refused when it names a key twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"key {key!r} is given twice in one object")
        out[key] = value
    return out


def parse_config_text(path: str | os.PathLike[str], text: str, what: str = "config file") -> Any:
    """The data of a YAML/JSON file of settings (``text``, read from ``path``; ``what`` names
    it); a syntax error (one line: the problem and its line), a key given twice, an alias bomb
    (:func:`load_yaml`), a number of more digits than Python reads (over 4300) or nesting too
    deep is a ConfigError naming the file. A suffix other than .yaml/.yml/.json (a .toml file,
    say) is refused rather than read as YAML; a file without a suffix is read as YAML."""
    p = Path(path)
    if p.suffix and p.suffix.lower() not in _SUFFIXES:
        raise ConfigError(
            f"a {what} must be YAML (.yaml, .yml) or JSON (.json), not {p.suffix}",
            where=str(p),
            hint="write the settings in YAML or JSON",
        )
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text, object_pairs_hook=_unique_pairs)
        return load_yaml(text)
    except _DuplicateKey as exc:
        raise ConfigError(str(exc), where=str(p), hint="give each setting once") from None
    except _AliasProblem as exc:
        raise ConfigError(
            str(exc),
            where=str(p),
            hint="write the values out instead of repeating them by alias",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc), where=str(p), hint="fix the YAML syntax there") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        if p.suffix.lower() == ".json":
            load_json(text, str(p), ConfigError)  # fails the same way without the hook, and says why
        raise _unreadable(p, exc) from None


def parse_yaml_value(where: str, text: str) -> Any:
    """A YAML value given on a command line (``--set KEY=VALUE``), read by :func:`load_yaml`
    (an alias bomb, a key given twice refused); any problem is a :class:`ConfigError` naming
    ``where`` (the option and key)."""
    try:
        return load_yaml(text)
    except _DuplicateKey as exc:
        raise ConfigError(str(exc), where=where, hint="give each key once") from None
    except _AliasProblem as exc:
        raise ConfigError(str(exc), where=where, hint="write the values out instead of by alias") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc), where=where, hint="fix the YAML value there") from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(
            f"cannot read the value: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            where=where,
            hint="give a plain YAML value (a number, a word, a short list)",
        ) from None


def read_config_data(path: str | os.PathLike[str], what: str = "config file") -> Any:
    """The data of a YAML/JSON file of settings (a config, a taxonomy rules file), read as
    :func:`load_config` reads one: UTF-8, a regular file of sane size, a key given twice refused,
    every error one :class:`ConfigError` line naming the file."""
    p = Path(path)
    return parse_config_text(p, read_text_input(p, what, ConfigError), what)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line of a YAML syntax error: ``line N: <problem>``, and where the construct it breaks
    began when that is another line (PyYAML's own message spans several lines)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return f"cannot parse config: {' '.join(str(exc).split())}"
    text = f"line {mark.line + 1}: {' '.join(str(problem).split())}"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and start is not None and start.line != mark.line:
        text += f" ({' '.join(str(context).split())} from line {start.line + 1})"
    return text


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
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list | tuple) else ()
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


#: the largest integer a config value may be: what SQLite, numpy and torch store (int64); a
#: bigger one (``99999999999999999999999999``) is a typo that would only overflow later
MAX_CONFIG_INT = 2**63 - 1


def _coerced(model: type[BaseModel], data: dict[str, Any], skip: set[str]) -> tuple[str, Any] | None:
    """Where a boolean, or a string, of ``data`` was read as a number (lax validation turns ``no``
    into 0 and ``"8"`` into 8), keys in ``skip`` left out; None when nowhere. Only such errors of a
    strict validation count (of the data as JSON, where a list may be a tuple and a string an
    enum, as a file writes them)."""
    try:
        text = json.dumps(data, default=str)
    except (TypeError, ValueError):  # keys JSON cannot hold (lax validation took them): no verdict
        return None
    try:
        model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        for err in exc.errors():
            value = err.get("input")
            number = err.get("type") in ("int_type", "float_type")
            if not (number and isinstance(value, bool | str)) or not err["loc"] or err["loc"][0] in skip:
                continue  # an unknown key or a text field holding a boolean: lax validation's words
            found = _in_data(data, err["loc"])
            if type(found[1]) is type(value) and found[1] == value:  # not a key JSON made text (1: no)
                return found
    return None


def _check_values(model: type[BaseModel], data: dict[str, Any], where: str, overrides: set[str]) -> None:
    """Refuse a non-finite number, or a boolean or a string read as a number, in the file's part
    of ``data``."""
    from_file = {k: v for k, v in data.items() if k not in overrides}
    found = _find(from_file, lambda v: isinstance(v, float) and not math.isfinite(v))
    if found is not None:
        raise ConfigError(
            f"field '{found[0]}': {found[1]!r} is not a finite number",
            where=where,
            hint="give a finite number",
        )
    if _find(from_file, lambda v: isinstance(v, (bool, str))) is None:
        return
    found = _coerced(model, data, overrides)
    if found is None:
        return
    if isinstance(found[1], bool):
        raise ConfigError(
            f"field '{found[0]}': {found[1]!r} is a boolean, not a number (YAML reads no/yes/on/off as "
            "booleans)",
            where=where,
            hint="write the number, e.g. 0 or 1",
        )
    with contextlib.suppress(ValueError):
        if not math.isfinite(float(found[1])):  # "inf", "nan": the finite check's words
            raise ConfigError(
                f"field '{found[0]}': {found[1]!r} is not a finite number",
                where=where,
                hint="give a finite number",
            )
    raise ConfigError(
        f"field '{found[0]}': {short_repr(found[1])} is text, not a number",
        where=where,
        hint=f"write the number without quotes, e.g. {found[0].rsplit('.', 1)[-1]}: 8",
    )


def _check_finite(cfg: BaseModel, where: str, given: Mapping[str, Any], names: Mapping[str, str]) -> None:
    """Refuse a non-finite number the model holds however it was written: YAML keeps ``1e309``
    (no dot) and ``"inf"`` as strings, which pydantic then reads as inf; ``mf config show`` would
    print a config it refuses. An integer past :data:`MAX_CONFIG_INT` (``99999999999999999999999999``,
    or ``1e26`` given where an integer is wanted) is refused the same way."""
    dumped = cfg.model_dump()
    found = _find(
        dumped, lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_CONFIG_INT
    )
    if found is not None:
        path, value = found
        key = path.split(".", 1)[0]
        text = f"{short_repr(value)} is past the largest integer a setting takes ({MAX_CONFIG_INT})"
        hint = "give a smaller number (`mf config reference --out -` lists each key's bounds)"
        if key in given:
            raise ConfigError(text, where=names.get(key, option_name(key)), hint=hint)
        raise ConfigError(f"field '{path}': {text}", where=where, hint=hint)
    found = _find(dumped, lambda v: isinstance(v, float) and not math.isfinite(v))
    if found is None:
        return
    path, value = found
    key = path.split(".", 1)[0]
    if key in given:
        raise ConfigError(
            f"{value!r} is not a finite number",
            where=names.get(key, option_name(key)),
            hint="give a finite number",
        )
    raise ConfigError(
        f"field '{path}': {value!r} is not a finite number (YAML reads 1e309 or \"inf\" as text, "
        "read here as a number)",
        where=where,
        hint="give a finite number",
    )


def option_name(field: str) -> str:
    """The command-line option an override of ``field`` comes from by default: ``--batch-size``."""
    return "--" + field.replace("_", "-")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (directly, optional, or as list/tuple/dict items), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _did_you_mean(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """`` (did you mean 'dedup.image_distance'?)`` for the unknown key at ``loc``: the closest
    known key of the model at that level; empty when none is close."""
    current: type[BaseModel] | None = model
    known: list[str] = []
    for part in loc[:-1]:
        if current is None:
            return ""
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            current = _model_of(field.annotation)
            known.append(str(part))
        elif not isinstance(part, int):
            return ""
        else:
            known.append(str(part))
    if current is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(current.model_fields), n=1, cutoff=0.6)
    return f" (did you mean '{'.'.join([*known, close[0]])}'?)" if close else ""


def _message(model: type[BaseModel], err: Any, loc: tuple[Any, ...]) -> str:
    """The text of one validation error, with a "did you mean" for an unknown key."""
    msg = validation_text(err)  # a validator's own words, as written
    if err.get("type") == "extra_forbidden" and loc:
        msg += _did_you_mean(model, loc)
    return msg


def _option_error(
    model: type[BaseModel], err: Any, option_names: Mapping[str, str], given: Mapping[str, Any]
) -> ConfigError:
    """The ConfigError of a bad value given as an override: it names the option, not the file."""
    loc = tuple(err["loc"])
    key = str(loc[0])
    inner = ".".join(str(x) for x in loc[1:])
    value = err.get("input", given.get(key))
    where = option_names.get(key, option_name(key))
    at = f"item {inner}: " if inner else ""
    return ConfigError(f"{at}{value!r}: {_message(model, err, loc)}", where=where, hint=_OPTION_HINT)


def _check_overrides(given: Mapping[str, Any], option_names: Mapping[str, str]) -> None:
    """Refuse a number that is not finite given on the command line (``--lr nan``), naming the option."""
    for key, value in given.items():
        found = _find(value, lambda v: isinstance(v, float) and not math.isfinite(v))
        if found is not None:
            raise ConfigError(
                f"{found[1]!r} is not a finite number",
                where=option_names.get(key, option_name(key)),
                hint="give a finite number",
            )


def load_config(
    model: type[T],
    path: str | os.PathLike[str] | None = None,
    *,
    option_names: Mapping[str, str] | None = None,
    stage: str | None = None,
    **overrides: Any,
) -> T:
    """Build ``model`` from its defaults, then a YAML/JSON file, then keyword overrides (the
    command line's options; ``None`` = not given).

    Errors in the file name the file and the field, e.g. ``cfg.yaml: field 'dedup.max_distance':
    ...``; an error in an override names its option: ``option_names`` maps a field to the option
    it came from, else ``--`` + the field with ``-`` for ``_`` (``batch_size`` -> ``--batch-size``).
    ``stage``: the caller's name of the config (``train``: ``mf config show train``), named in the
    hint of a file's error (else ``STAGE``; the stage table lives in the app layer).
    """
    shown = stage or "STAGE"
    data: dict[str, Any] = {}
    names = dict(option_names or {})
    where = str(path) if path else model.__name__
    if path is not None:
        p = Path(path)
        loaded = read_config_data(p)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(
                f"config must be a mapping of settings, not a {type(loaded).__name__}",
                where=str(p),
                hint=f"write key: value lines (mf config show {shown} prints a complete one)",
            )
        data.update(loaded or {})
    given = {k: v for k, v in overrides.items() if v is not None}
    _check_overrides(given, names)
    data.update(given)
    try:
        cfg = model.model_validate(data)
        if path is not None:
            _check_values(model, data, where, set(given))
        _check_finite(cfg, where, given, names)
    except ValidationError as exc:
        if path is not None:  # a bound refusing NaN, or a yes read as 1: the file's real fault first
            try:
                _check_values(model, data, where, set(given))
            except ConfigError as fault:
                raise fault from None
        errors = exc.errors()
        from_file = [e for e in errors if not (e["loc"] and e["loc"][0] in given)]
        if not from_file:
            raise _option_error(model, errors[0], names, given) from None
        err = from_file[0]
        loc = tuple(err["loc"])
        field = ".".join(str(x) for x in loc)
        raise ConfigError(
            f"field '{field}': {_message(model, err, loc)}", where=where, hint=_HINT.format(stage=shown)
        ) from None
    except RecursionError:
        raise ConfigError("the config is nested too deeply to read", where=where) from None
    return cfg
