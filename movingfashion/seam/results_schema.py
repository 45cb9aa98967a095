"""What ``mf report`` reads of a ``results.json`` (as ``mf evaluate`` writes it), checked before
any table is made: :func:`check_results` raises one :class:`~schemas.errors.DataFormatError`
naming the file and the field (``methods.seam.10.all.top1``) instead of a traceback or a table
of ``nan``.

The models are permissive: keys the report does not read are neither required nor checked,
except that no number anywhere may be NaN or infinite (``mf evaluate`` writes strict JSON).
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from schemas.atomic import not_finite_path
from schemas.errors import DataFormatError, validation_text

#: what to do about a damaged results file
HINT = "rerun `mf evaluate --out DIR` to write it again"

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Rate = Annotated[float, Field(strict=True, ge=0, le=1, allow_inf_nan=False)]  # accuracy, share, IoU, AUC
Std = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(strict=True, ge=0)]
Positive = Annotated[int, Field(strict=True, ge=1)]
Text = Annotated[str, Field(strict=True)]


def _group_name(name: str) -> str:
    """A query group of a method's table: ``all``, ``regular``, ``hard`` or ``class:<number>``."""
    if name.startswith("class:") and not re.fullmatch(r"class:[0-9]+", name):
        raise ValueError("a class group is named class:<DeepFashion2 class number>")
    return name


Group = Annotated[str, AfterValidator(_group_name)]


class _Open(BaseModel):
    """Keys the report does not read are allowed and left unchecked."""

    model_config = ConfigDict(extra="allow")


class Protocol(_Open):
    ks: list[Positive] = Field(min_length=1)
    frames: list[Positive] = Field(min_length=1)
    main_frames: Positive
    pools: Count
    pool_size: Count
    queries: Count
    gallery: Count
    std: Text | None = None
    corrupted_share: Rate | None = None
    query_tracklets: dict[str, Count] | None = None
    query_fallbacks: dict[str, Count] | None = None
    query_below_min_iou: Count | None = None
    query_min_iou: Rate | None = None


class _Head(_Open):
    """The part every other check depends on: the protocol (its ``ks`` name each row's fields)."""

    protocol: Protocol


class _RowBase(_Open):
    queries: Count | None = None
    pools: Count | None = None


class PerQueryMethod(_Open):
    """One method's per-query hit rates (None: a query in no pool), one list per top-K."""

    __pydantic_extra__: dict[str, list[Rate | None]] = Field(init=False)
    top1: list[Rate | None]


class PerQuery(_Open):
    """``videos`` and, per method, hit rates in the same order."""

    __pydantic_extra__: dict[str, PerQueryMethod] = Field(init=False)
    videos: list[Text] | None = None

    @model_validator(mode="after")
    def _same_lengths(self) -> PerQuery:
        lengths = {
            f"{method}.{k}": len(vals)
            for method, rec in (self.__pydantic_extra__ or {}).items()
            for k, vals in [("top1", rec.top1), *(rec.__pydantic_extra__ or {}).items()]
        }
        want = len(self.videos) if self.videos is not None else next(iter(lengths.values()), 0)
        for name, n in lengths.items():
            if n != want:
                raise ValueError(f"{name} has {n} values for {want} query videos")
        return self


class Curve(_Open):
    mean: list[Finite | None]
    std: list[Finite | None]
    videos: Count | None = None


class AttentionProfile(_Open):
    """Mean attention every few percentiles of video length; a group absent, never null."""

    percentiles: list[Finite]
    all: Curve = Field(default=None)
    regular: Curve = Field(default=None)
    hard: Curve = Field(default=None)

    @model_validator(mode="after")
    def _one_value_per_percentile(self) -> AttentionProfile:
        n = len(self.percentiles)
        for name in ("all", "regular", "hard"):
            curve = getattr(self, name)
            if curve is not None and not len(curve.mean) == len(curve.std) == n:
                raise ValueError(f"{name}: mean and std need one value per percentile ({n})")
        return self


class KindNoise(_Open):
    auc: Rate | None


class AttentionNoise(_Open):
    frames: Count
    corrupted: Count
    mean_clean: Finite | None = None
    mean_corrupted: Finite | None = None
    auc: Rate | None = None
    auc_within_tracklet: Rate | None = None
    by_kind: dict[str, KindNoise] = Field(default_factory=dict)


class Qualitative(_Open):
    video: Text
    product_id: Text
    frames: list[Count] = Field(min_length=3)
    top5: list[Text]
    top5_paths: list[Text]


class RunConfig(_Open):
    query_min_iou: Rate | None = None


class _Results(_Head):
    """The results record the report reads; ``methods`` is typed per ``ks`` (:func:`_model`)."""

    methods: dict[str, Any]
    names: dict[str, Text]
    chance: dict[str, Rate] = Field(default_factory=dict)
    per_query: PerQuery = Field(default_factory=PerQuery)
    query_iou: list[Rate | None] | None = None
    query_fallback: list[Text | None] | None = None
    attention: dict[str, AttentionProfile] | None = None
    attention_noise: dict[str, AttentionNoise] | None = None
    qualitative: list[Qualitative] | None = None
    config: RunConfig | None = None
    dataset: Text | None = None

    @model_validator(mode="after")
    def _every_method_named(self) -> _Results:
        missing = [m for m in self.methods if m not in self.names]
        if missing:
            raise ValueError(f"names has no display name for {', '.join(missing)}")
        return self


@functools.lru_cache(maxsize=16)
def _model(ks: tuple[int, ...]) -> type[_Results]:
    """:class:`_Results` whose every table row holds ``top{k}`` and ``top{k}_std`` for each K."""
    fields: dict[str, Any] = {}
    for k in ks:
        fields[f"top{k}"] = (Rate, ...)
        fields[f"top{k}_std"] = (Std, ...)
        fields[f"top{k}_pools"] = (list[Rate] | None, None)
    row = create_model("Row", __base__=_RowBase, **fields)
    tables = Annotated[dict[str, dict[str, dict[Group, row]]], Field(min_length=1)]  # type: ignore[valid-type]
    return create_model("Results", __base__=_Results, methods=(tables, ...))


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters (a 400-digit number is shown by its start)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refuse(exc: ValidationError, where: str) -> DataFormatError:
    """The first problem of ``exc`` as one DataFormatError naming the field's path."""
    errors = exc.errors()
    err = errors[0]
    field = ".".join(str(x) for x in err["loc"])
    if err["type"] == "missing":
        text = "is missing"
    elif err["type"] == "value_error":  # a model's own check: its message names what is wrong
        text = validation_text(err)
    elif err["type"] in ("model_type", "dict_type", "model_attributes_type"):
        text = f"should be a JSON object (got {_shown(err['input'])})"
    elif err["type"] == "float_type" and type(err["input"]) is int:  # beyond a float's range
        text = f"is a number too large for the report (got {_shown(err['input'])})"
    else:
        text = f"{err['msg']} (got {_shown(err['input'])})"
    if field:
        text = f"field '{field}' {text}" if text.startswith("is ") else f"field '{field}': {text}"
    more = f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return DataFormatError(text + more, where=where, hint=HINT)


def check_results(data: Any, where: str) -> None:
    """DataFormatError (naming ``where`` and the field) unless ``data`` holds every field the
    report reads, of the type it reads it as, and no NaN or infinity anywhere."""
    if not isinstance(data, dict) or "methods" not in data or "protocol" not in data:
        raise DataFormatError(
            "not an evaluation results file (no 'methods'/'protocol')",
            where=where,
            hint="pass the results.json written by `mf evaluate`",
        )
    try:
        head = _Head.model_validate(data)
        _model(tuple(head.protocol.ks)).model_validate(data)
    except ValidationError as exc:
        raise _refuse(exc, where) from None
    found = not_finite_path(data)  # the one walk for it (schemas.atomic refuses to write one too)
    if found is not None:
        path = found[0].removeprefix("$.") or "(top level)"
        raise DataFormatError(
            f"field '{path}' is not a finite number (NaN or infinity)", where=where, hint=HINT
        )
