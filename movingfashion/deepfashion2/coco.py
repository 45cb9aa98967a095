"""DeepFashion2 -> COCO: field for field what the official converter writes, plus ``source``.

Written by the official converter (and here, with the same names, types and values):

- top level: ``info``, ``licenses`` (an empty list), ``images``, ``annotations``, ``categories``;
- ``images``: ``id`` (the number in the file name, ``000001.jpg`` -> 1), ``file_name``,
  ``width``, ``height`` (of the image file), and the constant ``coco_url`` "", ``flickr_url`` "",
  ``date_captured`` "" and ``license`` 0;
- ``annotations``: ``id`` (1, 2, ... over the split, images in file order, items in
  ``item1, item2, ...`` order), ``image_id``, ``category_id``, ``bbox`` ``[x1, y1, w, h]`` and
  ``area`` ``w * h`` in the annotation file's numbers (DeepFashion2's boxes are integers, so these
  are integers), ``iscrowd`` 0, ``segmentation`` as given, ``keypoints``: 294 ``(x, y, v)`` slots
  as floats, the category's own slots (:data:`LANDMARK_SLOTS`) filled with its landmarks and
  every other slot 0, ``num_keypoints`` = the labelled landmarks (``v > 0``), ``pair_id``,
  ``style``;
- ``categories``: ``id`` 1..13, ``name``, ``supercategory`` "clothes", ``keypoints`` (the 294
  slot names "1".."294", the same for every category) and ``skeleton`` [].

Ours, beyond that: each annotation's ``source`` ("shop" or "user", the image's), which a
street-to-shop evaluation needs to tell queries from gallery items without reading the
annotation files again, and ``info.description`` naming the split. Where the official converter
stops with an ``IndexError`` (an item with fewer landmarks than its category has), the given
landmarks fill the category's first slots and the rest stay 0 ("not labelled"); more landmarks
than slots is an error naming the file, and so is a box more than
:data:`~movingfashion.deepfashion2.reader.BOX_TOLERANCE_PX` outside its image (or holding none of
it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from movingfashion.deepfashion2.reader import LANDMARK_COUNTS, DF2Image, check_box_in_image, iter_split
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
    bad = next(
        (i for i, v in enumerate(landmarks) if isinstance(v, bool) or not isinstance(v, int | float)), None
    )
    if bad is not None or len(landmarks) % 3:
        raise DataFormatError(
            f"value {bad} is {landmarks[bad]!r}, not a number"
            if bad is not None
            else f"{len(landmarks)} numbers, not whole [x, y, v] triples",
            where="landmarks",
        )
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
            {
                "id": img.image_id,
                "file_name": img.image_path.name,
                "width": width,
                "height": height,
                "coco_url": "",
                "flickr_url": "",
                "date_captured": "",
                "license": 0,
            }
        )
        for item in img.items:
            check_box_in_image(img, item, width, height)
            x1, y1, x2, y2 = item.box
            w, h = x2 - x1, y2 - y1
            try:
                kps, labelled = coco_keypoints(item.category_id, item.landmarks)
            except DataFormatError as exc:
                raise DataFormatError(
                    f"field '{item.key}.landmarks': {exc.message}", where=str(img.anno_path), hint=exc.hint
                ) from None
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
        "licenses": [],
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
