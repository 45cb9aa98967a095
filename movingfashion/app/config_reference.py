"""The config reference: every key of every stage's config model, generated from the models.

:data:`STAGES` names each config a command reads (``mf clean --config``, ``mf train --config``,
...); :func:`reference_rows` lists a model's keys (dotted for nested sections) with their type,
default, bounds and description; :func:`render_reference` writes them all as the Markdown of
docs/config.md (``mf config reference``). The text depends on the models only: no object
addresses, no paths of this machine, the models' own field order.
"""

from __future__ import annotations

import enum
import json
import os
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from schemas.config import load_config


@dataclass(frozen=True)
class Stage:
    """A config a command reads: its model (imported when asked) and how a file of it is loaded."""

    name: str
    commands: str
    model: Callable[[], type[BaseModel]]
    load: Callable[[str | None], BaseModel] | None = None
    file: bool = True

    def load_config(self, path: str | os.PathLike[str] | None) -> BaseModel:
        """The values in effect: the defaults, overridden by the file at ``path`` when given."""
        if self.load is not None:
            return self.load(None if path is None else str(path))
        return load_config(self.model(), path, stage=self.name)


def _collect() -> type[BaseModel]:
    from collectors.config import CollectConfig

    return CollectConfig


def _load_collect(path: str | None) -> BaseModel:
    from collectors.config import load_collect_config

    return load_collect_config(path)


def _clean() -> type[BaseModel]:
    from cleaning.config import CleaningConfig

    return CleaningConfig


def _load_clean(path: str | None) -> BaseModel:
    from cleaning.steps.registry import load_cleaning_config

    return load_cleaning_config(path)


def _tracklets() -> type[BaseModel]:
    from annotations.config import BuildConfig

    return BuildConfig


def _world() -> type[BaseModel]:
    from movingfashion.world.config import WorldConfig

    return WorldConfig


def _train() -> type[BaseModel]:
    from movingfashion.seam.config import TrainConfig

    return TrainConfig


def _asymnet() -> type[BaseModel]:
    from movingfashion.seam.config import AsymNetConfig

    return AsymNetConfig


def _evaluate() -> type[BaseModel]:
    from movingfashion.seam.config import EvalConfig

    return EvalConfig


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("collect", "mf collect --config / mf-collect --config", _collect, _load_collect),
        Stage(
            "clean", "mf clean --config, mf splits rebuild --config, mf publish --config", _clean, _load_clean
        ),
        Stage("tracklets", "mf tracklets build --config / mf-tracklets build --config", _tracklets),
        Stage("world", "mf world generate --config", _world),
        Stage("train", "mf train --config (SEAM, phase 2)", _train),
        Stage("asymnet", "mf train --method asymnet --config", _asymnet),
        Stage("evaluate", "mf evaluate (built from its options; no config file)", _evaluate, file=False),
    )
}


@dataclass(frozen=True)
class Row:
    """One key of a config: dotted name, type, default (JSON), bounds and description."""

    key: str
    type: str
    default: str
    bounds: str
    description: str


_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "multiple_of": "multiple of"}
_LENGTHS = {"min_length": "length >=", "max_length": "length <="}


def _bounds(metadata: list[Any]) -> list[str]:
    """Readable constraints of annotated-types/pydantic metadata: ``>= 0``, ``length >= 1``."""
    out: list[str] = []
    for item in metadata:
        if isinstance(item, FieldInfo):  # Annotated[float, Field(gt=0)] inside a list or dict
            out.extend(_bounds(list(item.metadata)))
            continue
        for attr, sign in (*_BOUNDS.items(), *_LENGTHS.items()):
            value = getattr(item, attr, None)
            if value is not None:
                out.append(f"{sign} {value}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            out.append(f"matches {pattern}")
    return out


def type_name(annotation: Any) -> str:
    """A short, stable spelling of a field's type: ``int``, ``list[float (> 0, <= 1)]``,
    ``"raise" | "skip"``, ``full | no_nlb | no_nlb_g`` (an enum's values)."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        inner = type_name(args[0])
        bounds = _bounds(list(args[1:]))
        return f"{inner} ({', '.join(bounds)})" if bounds else inner
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (types.UnionType,) or str(origin) == "typing.Union":
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        shown = [type_name(a) for a in args if a is not Ellipsis] + (["..."] if Ellipsis in args else [])
        return f"{name}[{', '.join(shown)}]"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(str(m.value) for m in annotation)
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    """The default as JSON (what a config file would write), or ``required``."""
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    return json.dumps(to_jsonable_python(value), ensure_ascii=False)


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model of a field that is a nested section (a model, not a list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def reference_rows(model: type[BaseModel], prefix: str = "") -> list[Row]:
    """Every key of ``model`` in its field order; a nested section's keys are dotted
    (``dedup.image_distance``) and follow its own row."""
    rows: list[Row] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        section = _section(field.annotation)
        if section is not None:
            about = _one_line(field.description) or _doc(section)
            rows.append(Row(key, f"section ({section.__name__})", "", "", about))
            rows.extend(reference_rows(section, f"{key}."))
            continue
        rows.append(
            Row(
                key,
                type_name(field.annotation),
                _default(field),
                ", ".join(_bounds(list(field.metadata))),
                _one_line(field.description),
            )
        )
    return rows


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _cell(text: str) -> str:
    """A Markdown table cell: pipes escaped."""
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """A code span of ``text`` (double backticks when it holds one), pipes escaped; empty stays empty."""
    if not text:
        return ""
    return f"`` {_cell(text)} ``" if "`" in text else f"`{_cell(text)}`"


def _doc(model: type[BaseModel]) -> str:
    """The first paragraph of the model's docstring, on one line."""
    return _one_line((model.__doc__ or "").strip().split("\n\n")[0])


_INTRO = """\
# Config reference

<!-- Generated by `mf config reference` from the config models; do not edit by hand.
     tests/movingfashion/app/test_config_cli.py fails when this file is stale. -->

Every stage reads its settings from a pydantic model with defaults. A `--config FILE` (YAML:
`.yaml`/`.yml`, or JSON: `.json`) overrides some of them; a key not listed here is refused (the
error names the file and the key, and suggests the closest known key), and so is a value out of
its bounds. Nested sections are written as mappings: the key `dedup.image_distance` is

```yaml
dedup:
  image_distance: 6
```

Options given on the command line (`--epochs`, `--workers`, ...) win over the file.
`mf config show STAGE [--config FILE]` prints the values in effect (as YAML a config file may
start from), e.g. `mf config show clean --config clean.yaml`.
"""


def render_stage(stage: Stage) -> str:
    """The Markdown section of one stage: the command(s), the model's summary, one table."""
    model = stage.model()
    lines = [
        f"## {stage.name}: {model.__name__}",
        "",
        f"Read by: {stage.commands}. `mf config show {stage.name}` prints the values in effect.",
        "",
        _doc(model),
        "",
        "| key | type | default | bounds | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in reference_rows(model):
        cells = (
            _code(row.key),
            _cell(row.type),
            _code(row.default),
            _cell(row.bounds),
            _cell(row.description),
        )
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def render_reference() -> str:
    """The whole of docs/config.md: an introduction, then one section per stage."""
    index = "\n".join(f"- [{s.name}](#{s.name}-{s.model().__name__.lower()})" for s in STAGES.values())
    parts = [_INTRO, index + "\n", *(render_stage(s) for s in STAGES.values())]
    return "\n".join(parts)
