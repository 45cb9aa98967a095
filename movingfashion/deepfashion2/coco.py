"""DeepFashion2 -> COCO, following the conventions of the official converter.

``image_id`` is the number in the file name, ``bbox`` is ``[x, y, w, h]``, ``area = w * h``,
``keypoints`` spread over 294 slots where only the category's own slots
(:data:`LANDMARK_SLOTS`) are filled, and ``pair_id``, ``style`` and ``source`` are kept on every
annotation. An item with fewer landmarks than its category's slots (e.g. the synthetic world's
outline points) fills the first slots; the rest stay 0 ("not labelled"). More landmarks than
slots is an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from movingfashion.deepfashion2.reader import LANDMARK_COUNTS, DF2Image, iter_split
from movingfashion.media.images import image_size
from schemas.atomic import atomic_write_json
from schemas.errors import DataFormatError
from schemas.taxonomy import DF2_CLASSES

NUM_LANDMARK_SLOTS = sum(LANDMARK_COUNTS.values())


def _slots() -> dict[int, tuple[int, int]]:
    out, offset = {}, 0
    for cid in sorted(LANDMARK_COUNTS):
        out[cid] = (offset, LANDMARK_COUNTS[cid])
        offset += LANDMARK_COUNTS[cid]
    return out


#: category id -> (first slot, number of slots) in the 294-slot keypoint layout.
LANDMARK_SLOTS: dict[int, tuple[int, int]] = _slots()
assert NUM_LANDMARK_SLOTS == 294


def coco_keypoints(category_id: int, landmarks: list[float]) -> tuple[list[float], int]:
    """294 x (x, y, v) with the category's slots filled; also the number of labelled points."""
    kps = [0.0] * (3 * NUM_LANDMARK_SLOTS)
    start, count = LANDMARK_SLOTS[category_id]
    if landmarks:
        if len(landmarks) > 3 * count:
            raise DataFormatError(
                f"{len(landmarks) // 3} landmarks for category {category_id} which has {count} slots",
                where="landmarks",
            )
        kps[3 * start : 3 * start + len(landmarks)] = [float(v) for v in landmarks]
    labelled = sum(1 for i in range(2, len(landmarks), 3) if landmarks[i] > 0)
    return kps, labelled


def coco_categories() -> list[dict[str, Any]]:
    return [
        {
            "id": cid,
            "name": name,
            "supercategory": "clothes",
            "keypoints": [str(i) for i in range(1, NUM_LANDMARK_SLOTS + 1)],
            "skeleton": [],
        }
        for cid, name in DF2_CLASSES.items()
    ]


def to_coco(
    df2_root: str | os.PathLike[str],
    split: str,
    *,
    progress: Callable[[Iterable[DF2Image]], Iterable[DF2Image]] | None = None,
) -> dict[str, Any]:
    """COCO dict of one DeepFashion2 split (official conventions, see module docstring)."""
    images, annotations = [], []
    ann_id = 0
    it = iter_split(df2_root, split)
    for img in progress(it) if progress else it:
        if not img.image_path.is_file():
            raise DataFormatError("image of this annotation is missing", where=str(img.image_path))
        width, height = image_size(img.image_path)
        images.append(
            {"id": img.image_id, "file_name": img.image_path.name, "width": width, "height": height}
        )
        for item in img.items:
            x1, y1, x2, y2 = item.box
            w, h = x2 - x1, y2 - y1
            kps, labelled = coco_keypoints(item.category_id, item.landmarks)
            ann_id += 1
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": img.image_id,
                    "category_id": item.category_id,
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "segmentation": item.segmentation,
                    "keypoints": kps,
                    "num_keypoints": labelled,
                    "pair_id": img.pair_id,
                    "style": item.style,
                    "source": img.source,
                }
            )
    return {
        "info": {"description": f"DeepFashion2 {split} (converted by movingfashion)"},
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }


def write_coco(
    df2_root: str | os.PathLike[str], split: str, out: str | os.PathLike[str], **kw: Any
) -> dict[str, int]:
    """Convert a split to COCO JSON at ``out`` (atomic); returns counts."""
    coco = to_coco(df2_root, split, **kw)
    atomic_write_json(out, coco, indent=None)
    return {"images": len(coco["images"]), "annotations": len(coco["annotations"])}
