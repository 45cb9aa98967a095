"""DeepFashion2 (or any labelled frames) -> an ultralytics YOLO dataset (images, labels, data.yaml).

Annotations are read by :mod:`movingfashion.deepfashion2.reader`. YOLO class = DF2 id - 1,
names are the DF2 class names. Images are linked (hard link, else copied), not re-encoded.
A DeepFashion2 box more than :data:`~movingfashion.deepfashion2.reader.BOX_TOLERANCE_PX` outside
its image, or holding none of it, is an error naming the annotation file and item; one within
the tolerance is clipped to the image.

Each run rebuilds ``images/`` and ``labels/`` of the output folder (with ultralytics' label
caches in it): an image or label left by an earlier run into the same folder would otherwise be
paired with this run's files, or join its training set unnoticed. Only an earlier run's: an
output folder whose ``images/`` or ``labels/`` holds files no run wrote (no ``.mf-yolo`` mark
beside them, no ``data.yaml`` of DeepFashion2 classes) is refused, before anything is removed.

An earlier run's ``data.yaml`` (in a marked folder, or naming the DeepFashion2 classes) is removed
before ``images/`` and ``labels/`` are (this run's is written last): a run cut short leaves no
``data.yaml`` naming incomplete folders. Any other (the user's own, in an unmarked folder) is
left until this run's replaces it at the end.

Without a ``train`` split there is nothing to train on: that is a :class:`DataFormatError`
unless the caller opts in with ``val_as_train=True`` (``mf df2 to-yolo --val-as-train``), which
makes ``data.yaml`` train on the validation images (a smoke test, never a real training).
Likewise without a ``validation`` split there is nothing to validate on: a
:class:`DataFormatError` unless ``train_as_val=True`` (``mf df2 to-yolo --train-as-val``), which
makes ``data.yaml`` validate on the training images, with a warning (its validation scores then
measure fit to the training set, not generalisation).

``data.yaml`` names the output folder as ``path:`` (absolute) and the splits as ``images/<split>``
under it, written by ``yaml.safe_dump``: a folder name with spaces, quotes, ``:``, ``#``, non-ASCII
or YAML words (``yes``, ``null``) reads back as itself with PyYAML's loaders, libyaml's included
(ultralytics' reader). An output folder whose path is not UTF-8 (a lone surrogate, as Python
decodes such a file name) is refused before anything is written: ``safe_dump`` writes it as a
``\\udcff`` escape that libyaml, and so ultralytics, cannot read.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from movingfashion.deepfashion2.reader import check_box_in_image, has_split, iter_split
from movingfashion.media.images import image_size
from schemas.atomic import atomic_copy, atomic_write_text
from schemas.config import load_yaml
from schemas.errors import DataFormatError
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES
from schemas.text_input import has_surrogate

YOLO_SPLIT = {"train": "train", "validation": "val", "val": "val", "test": "test"}

log = redacted_logger(__name__)


def yolo_line(class_id: int, box: list[float], width: int, height: int) -> str | None:
    """One YOLO label line (class = DF2 id - 1, normalised cx cy w h), None for empty boxes."""
    x1, y1, x2, y2 = (
        max(0.0, min(float(box[0]), width)),
        max(0.0, min(float(box[1]), height)),
        max(0.0, min(float(box[2]), width)),
        max(0.0, min(float(box[3]), height)),
    )
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return (
        f"{class_id - 1} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
        f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
    )


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        raise DataFormatError(
            f"two images of one split are both named '{dst.stem}' (this one: {src})",
            where=str(dst),
            hint="YOLO pairs an image with the label of the same name: give every image of a split its own name",
        )
    try:
        os.link(src, dst)
    except OSError:  # another file system: a copy, whole or none (its error names dst)
        atomic_copy(src, dst)


#: What to do when there is no train split.
NO_TRAIN_HINT = (
    "add the train split (DF2_ROOT/train with image/ and annos/), or opt in to training on the "
    "validation images with val_as_train=True (mf df2 to-yolo --val-as-train)"
)
#: What to do when there is no validation split.
NO_VAL_HINT = (
    "add the validation split (DF2_ROOT/validation with image/ and annos/; mf df2 to-yolo converts "
    "train and validation by default), or opt in to validating on the training images with "
    "train_as_val=True (mf df2 to-yolo --train-as-val)"
)
#: The warning of ``train_as_val``.
TRAIN_AS_VAL_WARNING = (
    "%s: no validation images, data.yaml validates on the training images (train_as_val): "
    "validation scores will measure fit to the training set, not generalisation"
)


#: written into the output folder before its first image: ``images/`` and ``labels/`` beside it
#: are this converter's to rebuild (also after a run killed before ``data.yaml``)
YOLO_MARK = ".mf-yolo"


def _written_here(out: Path) -> bool:
    """Whether ``images/`` and ``labels/`` of ``out`` are an earlier run's: its mark is there, or
    the ``data.yaml`` a run (of an older toolkit too) writes last, naming the DeepFashion2 classes."""
    if (out / YOLO_MARK).is_file():
        return True
    try:
        data = load_yaml((out / "data.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, yaml.YAMLError):  # an alias bomb too: not ours
        return False
    return isinstance(data, dict) and data.get("names") == {i - 1: n for i, n in DF2_CLASSES.items()}


def _check_own(out: Path) -> None:
    """Refuse an ``out`` whose ``images/`` or ``labels/`` holds anything no run of this converter
    wrote: the rebuild would delete it (a photo folder of the user's, another dataset)."""
    if _written_here(out):
        return
    for sub in ("images", "labels"):
        folder = out / sub
        if folder.is_symlink() or folder.is_file() or (folder.is_dir() and any(folder.iterdir())):
            raise DataFormatError(
                f"{sub}/ holds files no earlier YOLO conversion wrote here (each run rebuilds {sub}/,"
                " which would delete them)",
                where=str(folder),
                hint="pass a new or empty --out folder, or move that folder out of it",
            )


def _clear(out: Path) -> None:
    """Remove the ``images/`` and ``labels/`` an earlier run wrote into ``out`` (nothing else)."""
    for sub in ("images", "labels"):
        folder = out / sub
        if folder.is_symlink() or folder.is_file():
            folder.unlink()
        elif folder.is_dir():
            shutil.rmtree(folder)


def write_yolo_dataset(
    samples: Iterable[tuple[str, Path, list[tuple[int, list[float]]], tuple[int, int] | None]],
    out_dir: str | os.PathLike[str],
    *,
    val_as_train: bool = False,
    train_as_val: bool = False,
) -> Path:
    """Write ``(split, image_path, [(df2_id, box)], (w, h) or None)`` samples as a YOLO dataset.

    Returns the ``data.yaml`` path. Split names follow :data:`YOLO_SPLIT`. ``images/`` and
    ``labels/`` are rebuilt (see the module docstring). No ``train`` sample is a
    :class:`DataFormatError` unless ``val_as_train`` (then ``data.yaml`` trains on ``val``); no
    ``val`` sample is one unless ``train_as_val`` (then it validates on ``train``, with a warning).
    """
    out = Path(out_dir)
    if has_surrogate(str(out.resolve())):
        raise DataFormatError(
            f"the output folder's path {ascii(str(out.resolve()))} is not UTF-8: ultralytics cannot "
            "read a data.yaml naming it",
            where=ascii(str(out_dir)),
            hint="write the YOLO dataset into a folder whose path is UTF-8 (rename the folder)",
        )
    _check_own(out)
    stale = out / "data.yaml"
    if _written_here(out) and (stale.is_file() or stale.is_symlink()):
        # an earlier run's, naming the images/ and labels/ rebuilt below: removed first (this run's
        # is written last), so a run cut short leaves none; never a user's own (unmarked folder)
        stale.unlink(missing_ok=True)
    _clear(out)
    atomic_write_text(out / YOLO_MARK, "images/ and labels/ here are rebuilt by every YOLO conversion\n")
    counts: dict[str, int] = {}
    for split, image, objects, size in samples:
        ys = YOLO_SPLIT.get(split, split)
        w, h = size if size is not None else image_size(image)
        name = image.stem
        dst = out / "images" / ys / f"{name}{image.suffix}"
        _link(image, dst)
        lines = [ln for cid, box in objects if (ln := yolo_line(cid, box, w, h))]
        atomic_write_text(out / "labels" / ys / f"{name}.txt", "\n".join(lines) + ("\n" if lines else ""))
        counts[ys] = counts.get(ys, 0) + 1
    if not counts:
        raise DataFormatError("no images to convert", where=str(out_dir))
    if "train" not in counts and not val_as_train:
        raise DataFormatError(
            f"no train images (only {', '.join(sorted(counts))}): data.yaml would train on the images "
            "it validates on",
            where=str(out_dir),
            hint=NO_TRAIN_HINT,
        )
    if "val" not in counts:
        if not train_as_val:
            raise DataFormatError(
                f"no validation images (only {', '.join(sorted(counts))}): data.yaml would validate "
                "on the images it trains on",
                where=str(out_dir),
                hint=NO_VAL_HINT,
            )
        log.warning(TRAIN_AS_VAL_WARNING, out_dir)
    val = "val" if "val" in counts else "train"
    data = {
        "path": str(out.resolve()),
        "train": "images/train" if "train" in counts else f"images/{val}",
        "val": f"images/{val}",
        "names": {i - 1: n for i, n in DF2_CLASSES.items()},
    }
    atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"


def check_df2_splits(
    df2_root: str | os.PathLike[str],
    splits: tuple[str, ...] = ("train", "validation"),
    *,
    val_as_train: bool = False,
    train_as_val: bool = False,
) -> list[str]:
    """The splits of ``splits`` that ``df2_root`` holds (``<split>/annos``), as
    :func:`df2_to_yolo` converts them; refused (:class:`DataFormatError` naming the folder) when
    none is there, when no train split is among them unless ``val_as_train``, or no validation
    split unless ``train_as_val``. Reads no annotation: callers check before building anything."""
    root = Path(df2_root)
    present = [s for s in splits if has_split(root, s)]
    if not present:
        raise DataFormatError(
            f"no DeepFashion2 split folder with annos/ among {list(splits)}",
            where=str(root),
            hint="pass the folder that holds train/ and validation/",
        )
    if not val_as_train and all(YOLO_SPLIT.get(s, s) != "train" for s in present):
        missing = "not asked for" if "train" not in splits else "missing here"
        raise DataFormatError(
            f"no train split to convert (the train split is {missing}; converting {', '.join(present)})",
            where=str(root),
            hint=NO_TRAIN_HINT,
        )
    if not train_as_val and all(YOLO_SPLIT.get(s, s) != "val" for s in present):
        missing = (
            "not asked for" if not any(YOLO_SPLIT.get(s, s) == "val" for s in splits) else "missing here"
        )
        raise DataFormatError(
            f"no validation split to convert (the validation split is {missing}; converting "
            f"{', '.join(present)})",
            where=str(root),
            hint=NO_VAL_HINT,
        )
    return present


def df2_to_yolo(
    df2_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    splits: tuple[str, ...] = ("train", "validation"),
    *,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    val_as_train: bool = False,
    train_as_val: bool = False,
) -> Path:
    """Convert a DeepFashion2-format folder to a YOLO dataset; returns the ``data.yaml`` path.

    Splits missing from ``df2_root`` are skipped; none present is a :class:`DataFormatError`, and
    so is no ``train`` split among them unless ``val_as_train``, and no ``validation`` split
    unless ``train_as_val`` (both checked before anything is written). ``progress`` wraps the
    image loop (e.g. a progress bar).
    """
    root = Path(df2_root)
    present = check_df2_splits(root, splits, val_as_train=val_as_train, train_as_val=train_as_val)

    def samples():
        for split in present:
            for img in iter_split(root, split):
                if not img.image_path.is_file():
                    raise DataFormatError("image of this annotation is missing", where=str(img.image_path))
                size = image_size(img.image_path)
                for it in img.items:
                    check_box_in_image(img, it, *size)
                objects = [(it.category_id, it.box) for it in img.items]
                yield split, img.image_path, objects, size

    return write_yolo_dataset(
        progress(samples()) if progress else samples(),
        out_dir,
        val_as_train=val_as_train,
        train_as_val=train_as_val,
    )
