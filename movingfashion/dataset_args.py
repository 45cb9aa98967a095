"""The argument checks the clip datasets share (:class:`~movingfashion.dataset.MovingFashionDataset`
and :class:`~movingfashion.multidf2.MultiDeepFashion2`): each turns one argument into the value
the dataset keeps, or raises a ConfigError naming it; and their ``repr``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from movingfashion.records import Size
from movingfashion.sampling import QualityConfig
from schemas.errors import ConfigError, validation_text
from schemas.taxonomy import DF2_CLASSES, Partition, class_from_text


def _whole(value: Any, name: str, least: int = 1) -> int:
    """``value`` as an int of at least ``least``; ConfigError naming ``name`` for a bool, a
    fraction or anything smaller (``frames=2.7`` is not silently 2)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != int(value) or value < least:
        raise ConfigError(f"{name} must be a whole number >= {least}, got {value!r}", where=name)
    return int(value)


def _size(value: int | Sequence[int] | None, name: str = "size") -> Size | None:
    """A size argument as (h, w): one positive int for a square, or two; None stays None."""
    if value is None:
        return None
    if isinstance(value, numbers.Real):
        side = _whole(value, name)
        return (side, side)
    try:
        parts = None if isinstance(value, str | bytes) else list(value)  # a tuple, a list, an array
    except TypeError:
        parts = None
    if parts is None or len(parts) != 2:
        raise ConfigError(f"{name} must be an int or (height, width), got {value!r}", where=name)
    return (_whole(parts[0], name), _whole(parts[1], name))


#: the tensor types items come in (the docstring's float in [0, 1], or uint8 0..255)
ITEM_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.uint8)


def _quality(value: QualityConfig | dict[str, Any] | None) -> QualityConfig:
    """The salient sampler's settings: a QualityConfig, or a mapping of its fields (checked)."""
    if value is None:
        return QualityConfig()
    if isinstance(value, QualityConfig):
        return value
    try:
        return QualityConfig.model_validate(value)
    except ValidationError as exc:
        raise ConfigError(f"quality: {_first_error(exc)}", where="quality") from None


def _first_error(exc: Exception) -> str:
    """The first problem ``exc`` names, with its field when it is a validation error."""
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        field = ".".join(map(str, err["loc"]))  # empty for the file as a whole (JSON that does not parse)
        return f"{field}: {validation_text(err)}" if field else validation_text(err)
    return str(exc).splitlines()[0]


def _partition(value: str | Partition | None) -> Partition | None:
    """The ``partition`` filter; ConfigError listing the partitions for an unknown one."""
    if value is None:
        return None
    try:
        return Partition(value)
    except ValueError:
        raise ConfigError(
            f"unknown partition {value!r}",
            where="partition",
            hint=f"use one of {', '.join(p.value for p in Partition)}",
        ) from None


def _require_folder(folder: Path, what: str, root: Path, split: str) -> None:
    """A crop cache or training copy (``what``) folder that is not there (a typo, or a build not
    run yet): a ConfigError naming it and the command that builds it, not every clip silently
    decoded live."""
    if folder.is_dir():
        return
    name = what.replace(" ", "_")
    raise ConfigError(
        f"{what} folder not found" if not folder.exists() else f"{what} is not a folder",
        where=str(folder),
        hint=f"build it first with `mf {name.replace('_', '-')} --dataset {root} --split {split} --out "
        f"{folder}` (or build_{name}), or check the {name} path",
    )


def parse_classes(classes: Iterable[int | str] | None) -> set[int] | None:
    """DeepFashion2 class ids of ``classes`` (ids 1..13, digit strings or names: the toolkit's
    ``'short_sleeved_shirt'`` or DeepFashion2's own ``'short sleeve top'``, in any case:
    :func:`schemas.taxonomy.class_from_text`); None for None. ConfigError naming ``classes`` for
    an unknown one, a bool or a number that is not a whole one (``True`` and ``1.0`` are not
    read as class 1)."""
    if classes is None:
        return None
    if isinstance(classes, (str, int)):
        classes = [classes]
    out = set()
    for c in classes:
        if isinstance(c, bool) or (not isinstance(c, str) and not isinstance(c, numbers.Integral)):
            raise ConfigError(
                f"a class is an id 1..13 or a name, got {c!r} ({type(c).__name__})",
                where="classes",
                hint=f"use ids 1..13 or names: {', '.join(DF2_CLASSES.values())}",
            )
        try:
            cid = class_from_text(c) if isinstance(c, str) else int(c)
        except (TypeError, ValueError):
            cid = None
        if cid not in DF2_CLASSES:
            raise ConfigError(
                f"unknown DeepFashion2 class {c!r}",
                where="classes",
                hint=f"use ids 1..13 or names: {', '.join(DF2_CLASSES.values())}",
            )
        out.add(cid)
    return out


def clip_dataset_repr(
    ds: Any, split: str, sampler: str, extra: list[str], transform_names: tuple[str, ...]
) -> str:
    """The ``repr`` of a clip dataset (this one and Multi-DeepFashion2), as torchvision's datasets
    show theirs: size, root, ``split`` (already worded), the clip's settings, ``extra`` lines, then
    each of ``transform_names`` that is set."""
    size_arg, size = ("crop_size", ds.crop_size) if ds.crop == "tracklet" else ("frame_size", ds.frame_size)
    lines = [
        f"Number of datapoints: {len(ds)}",
        f"Root location: {ds.root}",
        f"Split: {split}",
        f"Clip: {ds.frames} frames, sampler={sampler}, crop={ds.crop}"
        + (f", {size_arg}={size}" if size is not None else "")
        + f", dtype={ds.dtype}",
        *extra,
    ]
    lines += [f"{name}: {getattr(ds, name)!r}" for name in transform_names if getattr(ds, name) is not None]
    return "\n".join([f"Dataset {type(ds).__name__}", *(f"    {line}" for line in lines)])


def integer_index(index: Any) -> int:
    """``index`` as an ``int``: a Python or numpy integer, or a one-element integer tensor; a
    TypeError for anything else (``1.0``, a slice, ``tensor(1.7)``), which ``int()`` would turn
    into another item or a confusing error. Shared by the datasets of this package."""
    if isinstance(index, torch.Tensor) and (
        index.numel() != 1 or index.is_floating_point() or index.is_complex() or index.dtype == torch.bool
    ):
        raise TypeError(
            f"dataset indices are integers, not a {index.dtype} tensor of shape {tuple(index.shape)}; "
            "use torch.utils.data.Subset(dataset, indices) for a part of it"
        )
    if not isinstance(index, numbers.Integral | torch.Tensor):  # numpy's integers are Integral
        raise TypeError(
            f"dataset indices are integers, not {type(index).__name__}; "
            "use torch.utils.data.Subset(dataset, indices) for a part of it"
        )
    return int(index)


def check_callables(**fns: Callable[..., Any] | None) -> None:
    """ConfigError naming the first of ``fns`` (``transform=...``) that is given and not callable."""
    for name, fn in fns.items():
        if fn is not None and not callable(fn):
            raise ConfigError(
                f"{name} must be callable (a function or a torchvision transform), got {type(fn).__name__}",
                where=name,
            )


def check_context(context: float) -> float:
    """``context`` (the share of the box added around it) as a float > -1, or a ConfigError."""
    value = float(context)
    if not math.isfinite(value) or value <= -1:
        raise ConfigError(
            f"context must be a finite number > -1 (the share of the box added around it), got {context!r}",
            where="context",
        )
    return value


def check_videos(videos: str | None, train: bool) -> str:
    """Which video of a product an item takes (``videos``; by default random in training, else the
    first); ConfigError for an unknown one, or ``"random"`` in evaluation."""
    mode = videos or ("random" if train else "first")
    if mode not in ("random", "first", "all"):
        raise ConfigError(f"videos must be random, first or all, got {videos!r}", where="videos")
    if mode == "random" and not train:
        raise ConfigError(
            "videos='random' draws a product's video anew in each training epoch, and this"
            " dataset evaluates (train=False)",
            where="videos",
            hint="pass videos='first' or 'all' to evaluate, or train=True",
        )
    return mode


def check_box_tolerance(value: float) -> float:
    """The pixels a box may reach outside the frame: a finite number >= 0 (ConfigError else)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):  # inf clipped every box into the frame; nan turned every outside-box check off
        raise ConfigError(
            "box_tolerance must be a finite number >= 0 of pixels a box may reach outside the"
            f" frame, got {value!r}",
            where="box_tolerance",
            hint="leave it out for the default (2 pixels)",
        )
    return float(value)


def check_dtype(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` when items can come in it (:data:`ITEM_DTYPES`), else a ConfigError."""
    if dtype not in ITEM_DTYPES:
        raise ConfigError(
            f"dtype must be one of {', '.join(str(d) for d in ITEM_DTYPES)}, got {dtype!r}", where="dtype"
        )
    return dtype
