"""The argument checks the clip datasets share (:class:`~movingfashion.dataset.MovingFashionDataset`
and :class:`~movingfashion.multidf2.MultiDeepFashion2`): each turns one argument into the value
the dataset keeps, or raises a ConfigError naming it; and their ``repr``.
:func:`dataset_options` runs every check of ``MovingFashionDataset`` in its order, into a
:class:`DatasetOptions` record (called once, when the dataset is made: never on its item path)."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from movingfashion.entry_kinds import entries_of, other_kind, shown
from movingfashion.media.readers import backend_names, backend_order
from movingfashion.records import Size
from movingfashion.sampling import FrameSampler, QualityConfig, get_sampler
from schemas.errors import ConfigError, validation_text
from schemas.official import split_json
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, Partition, class_from_text

#: the dataset's messages keep the dataset's logger name wherever their code lives: a user (and
#: ``mf train``) quiets everything the dataset says with that one name
log = redacted_logger("movingfashion.dataset")


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
    name = what.replace(" ", "_")
    if folder.is_dir():
        other = other_kind(what)
        found = entries_of(folder, other)
        if found and not entries_of(folder, what):
            # the other store passed for this one: every video would be named in a warning of
            # its own and decoded live
            raise ConfigError(
                f"this folder holds a {other} ({shown(found)}), not a {what}",
                where=str(folder),
                hint=f"pass it as {other.replace(' ', '_')}=, or build a {what} with "
                f"`mf {name.replace('_', '-')} --dataset {root} --split {split} --out NEW_FOLDER`",
            )
        return
    if folder.exists():
        raise ConfigError(
            f"{what} is not a folder",
            where=str(folder),
            hint=f"pass the folder `mf {name.replace('_', '-')} --out` wrote (build one with "
            f"`mf {name.replace('_', '-')} --dataset {root} --split {split} --out NEW_FOLDER`)",
        )
    raise ConfigError(
        f"{what} folder not found",
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


@dataclass(frozen=True)
class DatasetOptions:
    """:class:`~movingfashion.dataset.MovingFashionDataset`'s arguments as checked by
    :func:`dataset_options`: each the value the dataset keeps (sizes as ``(h, w)``, the sampler
    an instance, the filters parsed, the seed taken)."""

    split_path: Path
    train: bool
    frames: int
    sampler: FrameSampler
    crop: str
    on_bad: str
    crop_size: Size | None
    frame_size: Size | None
    shop_size: Size | None
    context: float
    videos_mode: str
    box_tolerance: float
    quality: QualityConfig
    dtype: torch.dtype
    cache_size: int
    seed: int
    reader_access: str  #: how the dataset's readers seek: ``crops`` (tracklet crops) or ``sparse``
    crop_cache: Path | None
    training_copy: Path | None
    partition: Partition | None
    classes: frozenset[int] | None


def dataset_options(
    root: Path,
    split: str,
    *,
    frames: int,
    sampler: str | FrameSampler,
    crop: str,
    transform: Callable[..., Any] | None,
    shop_transform: Callable[..., Any] | None,
    transforms: Callable[..., Any] | None,
    partition: str | Partition | None,
    classes: Iterable[int | str] | None,
    seed: int | None,
    on_bad: str,
    crop_size: int | Sequence[int],
    frame_size: int | Sequence[int] | None,
    shop_size: int | Sequence[int] | None,
    context: float,
    videos: str | None,
    train: bool | None,
    box_tolerance: float,
    quality: QualityConfig | dict[str, Any] | None,
    cache_size: int,
    backend: str,
    crop_cache: str | os.PathLike[str] | None,
    dtype: torch.dtype,
    training_copy: str | os.PathLike[str] | None,
) -> DatasetOptions:
    """Every argument of :class:`~movingfashion.dataset.MovingFashionDataset` checked, in the
    order the dataset has always checked them (the first ConfigError for a bad call stays the
    same): the backend, the split file looked for, crop, on_bad, then the clip's options, the
    crop cache / training copy folders, the partition and classes. A split file of another name
    than train/test with ``train`` left out is said in one warning (read as evaluation)."""
    # options that need no file are checked before the split is looked for
    if backend not in backend_names():
        raise ConfigError(
            f"unknown video backend {backend!r}",
            where="backend",
            hint=f"use one of {', '.join(backend_names())}",
        )
    split_path = split_json(root, split)
    if crop not in ("tracklet", "frame"):
        raise ConfigError(f"crop must be 'tracklet' or 'frame', got {crop!r}", where="crop")
    if on_bad not in ("raise", "skip"):
        raise ConfigError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}", where="on_bad")
    is_train = (split_path.stem == "train") if train is None else bool(train)
    if train is None and split_path.stem not in ("train", "test"):
        log.warning(
            "%s: read as an evaluation split (the same frames every epoch, the first video); "
            "pass train=True to sample it as training data",
            split_path,
        )
    n_frames = _whole(frames, "frames")
    the_sampler = get_sampler(sampler)
    check_callables(transform=transform, shop_transform=shop_transform, transforms=transforms)
    crop_hw = _size(crop_size, "crop_size")
    frame_hw = _size(frame_size, "frame_size")
    shop_hw = _size(shop_size, "shop_size")
    margin = check_context(context)
    videos_mode = check_videos(videos, is_train)
    tolerance = check_box_tolerance(box_tolerance)
    quality_cfg = _quality(quality)
    item_dtype = check_dtype(dtype)
    readers = _whole(cache_size, "cache_size")
    the_seed = _whole(seed, "seed", least=0) if seed is not None else torch.initial_seed() % 2**31
    # tracklet crops: PyAV converts only each crop's window to RGB (auto keeps it on streams
    # without B-frames too, where sparse access hands them to torchcodec)
    access = "crops" if crop == "tracklet" else "sparse"
    backend_order(backend, access)  # what the dataset's ReaderCache checks, here in the order
    cache_dir = Path(crop_cache) if crop_cache is not None else None
    copy_dir = None
    if training_copy is not None:
        if crop_cache is not None:
            raise ConfigError("pass crop_cache or training_copy, not both", where="training_copy")
        copy_dir = Path(training_copy)
        _require_folder(copy_dir, "training copy", root, split)
    if cache_dir is not None:
        _require_folder(cache_dir, "crop cache", root, split)
    want_partition = _partition(partition)
    want_classes = parse_classes(classes)
    return DatasetOptions(
        split_path=split_path,
        train=is_train,
        frames=n_frames,
        sampler=the_sampler,
        crop=crop,
        on_bad=on_bad,
        crop_size=crop_hw,
        frame_size=frame_hw,
        shop_size=shop_hw,
        context=margin,
        videos_mode=videos_mode,
        box_tolerance=tolerance,
        quality=quality_cfg,
        dtype=item_dtype,
        cache_size=readers,
        seed=the_seed,
        reader_access=access,
        crop_cache=cache_dir,
        training_copy=copy_dir,
        partition=want_partition,
        classes=frozenset(want_classes) if want_classes is not None else None,
    )
