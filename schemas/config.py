"""Load stage configs: pydantic models with documented defaults, overridable from YAML/JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigError

T = TypeVar("T", bound=BaseModel)


def load_config(model: type[T], path: str | os.PathLike[str] | None = None, **overrides: Any) -> T:
    """Build ``model`` from its defaults, then a YAML/JSON file, then keyword overrides.

    Errors name the file and the field, e.g. ``cfg.yaml: field 'dedup.max_distance': ...``.
    """
    data: dict[str, Any] = {}
    where = str(path) if path else model.__name__
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("config file not found", where=str(p)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file is not UTF-8 text (byte {exc.start})", where=str(p), hint="save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror or exc}", where=str(p)) from None
        try:
            loaded = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot parse config: {exc}", where=str(p)) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError("config must be a mapping", where=str(p))
        data.update(loaded or {})
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"])
        raise ConfigError(
            f"field '{field}': {err['msg']}", where=where, hint="see the documented defaults in the README"
        ) from None
