"""DeepFashion2 (or any labelled frames) -> an ultralytics YOLO dataset (images, labels, data.yaml).

Annotations are read by :mod:`movingfashion.deepfashion2.reader`. YOLO class = DF2 id - 1,
names are the DF2 class names. Images are linked (hard link, else copied), not re-encoded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from movingfashion.deepfashion2.reader import has_split, iter_split
from movingfashion.media.images import image_size
from schemas.atomic import atomic_write_text
from schemas.errors import DataFormatError
from schemas.taxonomy import DF2_CLASSES

YOLO_SPLIT = {"train": "train", "validation": "val", "val": "val", "test": "test"}


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
    if dst.exists():
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_yolo_dataset(
    samples: Iterable[tuple[str, Path, list[tuple[int, list[float]]], tuple[int, int] | None]],
    out_dir: str | os.PathLike[str],
) -> Path:
    """Write ``(split, image_path, [(df2_id, box)], (w, h) or None)`` samples as a YOLO dataset.

    Returns the ``data.yaml`` path. Split names follow :data:`YOLO_SPLIT`.
    """
    out = Path(out_dir)
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
    val = "val" if "val" in counts else "train"
    data = {
        "path": str(out.resolve()),
        "train": "images/train" if "train" in counts else f"images/{val}",
        "val": f"images/{val}",
        "names": {i - 1: n for i, n in DF2_CLASSES.items()},
    }
    atomic_write_text(out / "data.yaml", yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"


def df2_to_yolo(
    df2_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    splits: tuple[str, ...] = ("train", "validation"),
    *,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> Path:
    """Convert a DeepFashion2-format folder to a YOLO dataset; returns the ``data.yaml`` path.

    Splits missing from ``df2_root`` are skipped; none present is a :class:`DataFormatError`.
    ``progress`` wraps the image loop (e.g. a progress bar).
    """
    root = Path(df2_root)
    present = [s for s in splits if has_split(root, s)]
    if not present:
        raise DataFormatError(
            f"no DeepFashion2 split folder with annos/ among {list(splits)}",
            where=str(root),
            hint="pass the folder that holds train/ and validation/",
        )

    def samples():
        for split in present:
            for img in iter_split(root, split):
                if not img.image_path.is_file():
                    raise DataFormatError("image of this annotation is missing", where=str(img.image_path))
                objects = [(it.category_id, it.box) for it in img.items]
                yield split, img.image_path, objects, None

    return write_yolo_dataset(progress(samples()) if progress else samples(), out_dir)
