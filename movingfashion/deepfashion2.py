"""DeepFashion2: reading its per-image annotations and converting them to COCO.

Layout: ``DF2_ROOT/<split>/image/NNNNNN.jpg`` with ``DF2_ROOT/<split>/annos/NNNNNN.json``.
The COCO conversion follows the conventions of the official converter: ``image_id`` is the
number in the file name, ``bbox`` is ``[x, y, w, h]``, ``area = w * h``, ``keypoints`` spread
over 294 slots where only the category's own slots (:data:`LANDMARK_SLOTS`) are filled, and
``pair_id``, ``style`` and ``source`` are kept on every annotation. An item with fewer
landmarks than its category's slots (e.g. the synthetic world's outline points) fills the first
slots; the rest stay 0 ("not labelled"). More landmarks than slots is an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.atomic import atomic_write_json
from schemas.errors import DataFormatError
from schemas.taxonomy import DF2_CLASSES

#: Landmarks per category, in category order; they add up to the 294 slots of the COCO layout.
LANDMARK_COUNTS: dict[int, int] = {
    1: 25,
    2: 33,
    3: 31,
    4: 39,
    5: 15,
    6: 15,
    7: 10,
    8: 14,
    9: 8,
    10: 29,
    11: 37,
    12: 19,
    13: 19,
}
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


@dataclass
class DF2Item:
    """One clothing item of one DeepFashion2 image."""

    key: str
    category_id: int
    box: list[float]
    style: int
    landmarks: list[float] = field(default_factory=list)
    segmentation: list[list[float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DF2Image:
    """One annotated DeepFashion2 image."""

    image_id: int
    image_path: Path
    anno_path: Path
    source: str
    pair_id: int
    items: list[DF2Item]


def image_id_of(path: str | os.PathLike[str]) -> int:
    """``000123.jpg`` -> 123 (the official image id)."""
    stem = Path(path).stem
    if not stem.isdigit():
        raise DataFormatError("DeepFashion2 file names are numbers (000001.json)", where=str(path))
    return int(stem)


def read_annotation(
    anno_path: str | os.PathLike[str], image_path: str | os.PathLike[str] | None = None
) -> DF2Image:
    """Parse one per-image annotation file; errors name the file and the field."""
    p = Path(anno_path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError("annotation file not found", where=str(p)) from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"malformed JSON at line {exc.lineno}: {exc.msg}", where=str(p)) from None
    if not isinstance(data, dict):
        raise DataFormatError("an annotation is a JSON object", where=str(p))
    source = data.get("source")
    if source not in ("shop", "user"):
        raise DataFormatError(f"field 'source' must be 'shop' or 'user', got {source!r}", where=str(p))
    pair_id = data.get("pair_id")
    if not isinstance(pair_id, int):
        raise DataFormatError(f"field 'pair_id' must be an integer, got {pair_id!r}", where=str(p))
    items = []
    keys = sorted((k for k in data if k.startswith("item") and k[4:].isdigit()), key=lambda k: int(k[4:]))
    for key in keys:
        it = data[key]
        cid, box = it.get("category_id"), it.get("bounding_box")
        if cid not in DF2_CLASSES:
            raise DataFormatError(f"field '{key}.category_id' must be 1..13, got {cid!r}", where=str(p))
        if not (isinstance(box, list) and len(box) == 4 and box[2] >= box[0] and box[3] >= box[1]):
            raise DataFormatError(
                f"field '{key}.bounding_box' must be [x1, y1, x2, y2], got {box!r}", where=str(p)
            )
        lms = list(it.get("landmarks") or [])
        if len(lms) % 3 or len(lms) > 3 * LANDMARK_COUNTS[cid]:
            raise DataFormatError(
                f"field '{key}.landmarks' has {len(lms) / 3:g} points, category {cid} "
                f"has {LANDMARK_COUNTS[cid]} slots",
                where=str(p),
                hint="landmarks are [x, y, v] triples, at most the category's count",
            )
        known = {"category_id", "category_name", "bounding_box", "style", "landmarks", "segmentation"}
        items.append(
            DF2Item(
                key,
                cid,
                [float(v) for v in box],
                int(it.get("style", 0) or 0),
                lms,
                list(it.get("segmentation") or []),
                {k: v for k, v in it.items() if k not in known},
            )
        )
    img = Path(image_path) if image_path is not None else p.parent.parent / "image" / f"{p.stem}.jpg"
    return DF2Image(image_id_of(p), img, p, source, pair_id, items)


def iter_split(df2_root: str | os.PathLike[str], split: str) -> Iterator[DF2Image]:
    """Every annotated image of one split, in file-name order."""
    folder = Path(df2_root) / split / "annos"
    if not folder.is_dir():
        raise DataFormatError(
            f"no annos/ folder for split '{split}'",
            where=str(folder),
            hint="pass the DeepFashion2 root that holds train/ and validation/",
        )
    for anno in sorted(folder.glob("*.json")):
        yield read_annotation(anno)


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
    from PIL import Image

    images, annotations = [], []
    ann_id = 0
    it = iter_split(df2_root, split)
    for img in progress(it) if progress else it:
        if not img.image_path.is_file():
            raise DataFormatError("image of this annotation is missing", where=str(img.image_path))
        with Image.open(img.image_path) as im:
            width, height = im.size
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
