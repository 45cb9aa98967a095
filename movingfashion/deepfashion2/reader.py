"""The DeepFashion2 reader: per-image annotation files -> typed :class:`DF2Image` / :class:`DF2Item`.

Layout: ``DF2_ROOT/<split>/image/NNNNNN.jpg`` with ``DF2_ROOT/<split>/annos/NNNNNN.json``; each
annotation holds ``source`` (``shop`` / ``user``), ``pair_id`` and ``item1``, ``item2``, ... with
``category_id`` (1..13), ``bounding_box`` (xyxy pixels), ``style`` (0 = no positive pair),
``landmarks`` ([x, y, v] triples, at most the category's :data:`LANDMARK_COUNTS`) and
``segmentation``. Every consumer (COCO and YOLO export, Multi-DeepFashion2, matcher
pretraining, detector training) reads through here; errors name the file and the field.

Types are checked as DeepFashion2 writes them: ``category_id``, ``style`` and ``pair_id`` are
integers (a JSON ``true`` or ``1.0`` is refused), the box and the landmarks finite numbers
(``landmarks`` whole ``[x, y, v]`` triples, ``v`` 0 not labelled, 1 occluded or 2 visible),
``segmentation`` a list of polygons of at least 3 ``x, y`` points. A missing ``style``,
``landmarks`` or ``segmentation`` reads as 0 / empty. The codes are checked when present:
``scale``, ``occlusion``, ``zoom_in`` and ``viewpoint`` are integers 1..3, ``category_name`` names
``category_id`` (the file's ``short sleeve top`` or the COCO ``short_sleeved_shirt``; kept in
:attr:`DF2Item.extra` with the codes). Item keys are ``item`` and a number from 1 without a
leading zero (``item1``), each number once; another key starting with ``item`` is refused, and
``style`` is an integer >= 0.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.errors import DataFormatError
from schemas.geometry import finite_number
from schemas.taxonomy import DF2_CLASSES, DF2_FILE_NAMES
from schemas.text_input import load_json, read_text_input

#: Landmarks per category, in category order (the official definition); they add up to the 294
#: keypoint slots of the COCO layout.
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


@dataclass
class DF2Item:
    """One clothing item of one DeepFashion2 image."""

    key: str
    category_id: int
    box: list[float]  # [x1, y1, x2, y2] as the file gives them (integers in DeepFashion2)
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
    """Parse one per-image annotation file; errors name the file and the field.

    ``image_path`` defaults to ``<split>/image/<same number>.jpg`` next to ``annos/``.
    """
    p = Path(anno_path)
    text = read_text_input(p, "annotation file")  # missing, unreadable, not UTF-8 (the byte): named
    data = _load(p, text)
    if not isinstance(data, dict):
        raise DataFormatError("an annotation is a JSON object", where=str(p))
    items = [_read_item(p, key, data[key]) for key in _item_keys(p, data)]
    source = data.get("source")
    if source not in ("shop", "user"):
        raise DataFormatError(f"field 'source' must be 'shop' or 'user', got {source!r}", where=str(p))
    pair_id = data.get("pair_id")
    if not isinstance(pair_id, int) or isinstance(pair_id, bool):
        raise DataFormatError(f"field 'pair_id' must be an integer, got {pair_id!r}", where=str(p))
    img = Path(image_path) if image_path is not None else p.parent.parent / "image" / f"{p.stem}.jpg"
    return DF2Image(image_id_of(p), img, p, source, pair_id, items)


def _load(p: Path, text: str) -> Any:
    """The annotation's JSON, refusing a repeated item key; every other way it fails to load
    (malformed, a number of more than 4300 digits, nesting too deep) is worded by the one
    home, :func:`schemas.text_input.load_json`."""
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_items)
    except _RepeatedItem as exc:
        raise DataFormatError(f"field {exc.args[0]!r} appears twice", where=str(p)) from None
    except (ValueError, RecursionError):
        return load_json(text, str(p))  # raises DataFormatError naming the file


def _item_keys(p: Path, data: dict[str, Any]) -> list[str]:
    """``item1``, ``item2``, ... in numeric order, each number once; another key starting with
    ``item`` (``item0``, ``item01``, ``item_1``) is refused."""
    keys: dict[int, str] = {}
    for k in data:
        m = re.fullmatch(r"item([1-9][0-9]*)", k)
        if m is None:
            if k.startswith("item"):
                raise DataFormatError(
                    f"field {k!r} is not an item key",
                    where=str(p),
                    hint="items are item1, item2, ... ('item' and a number from 1, no leading zero)",
                )
            continue
        keys[int(m.group(1))] = k  # canonical numbers: one key per number
    return [keys[n] for n in sorted(keys)]


class _RepeatedItem(Exception):
    """An item key written twice in one JSON object (``json`` would keep only the last)."""


def _no_repeated_items(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a dict, refusing an ``item...`` key written twice."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out and k.startswith("item"):
            raise _RepeatedItem(k)
        out[k] = v
    return out


_KNOWN_ITEM_FIELDS = {"category_id", "category_name", "bounding_box", "style", "landmarks", "segmentation"}

#: The per-item codes and their meaning (1..3 each; checked when present).
ITEM_CODES: dict[str, str] = {
    "scale": "1 small, 2 modest, 3 large",
    "occlusion": "1 slight, 2 medium, 3 heavy",
    "zoom_in": "1 none, 2 medium, 3 large",
    "viewpoint": "1 no wear, 2 frontal, 3 side or back",
}
#: Landmark visibility ``v``: 0 not labelled, 1 occluded, 2 visible.
LANDMARK_VISIBILITY = (0, 1, 2)


def _is_int(v: Any) -> bool:
    """A JSON integer (``true`` and ``1.0`` are not: DeepFashion2 writes integers)."""
    return isinstance(v, int) and not isinstance(v, bool)


def _shown(v: Any, limit: int = 80) -> str:
    """``repr(v)``, cut to ``limit`` characters (a 400-digit number stays readable)."""
    r = repr(v)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _read_item(p: Path, key: str, it: Any) -> DF2Item:
    if not isinstance(it, dict):
        raise DataFormatError(f"field '{key}' must be an object, got {it!r}", where=str(p))
    cid, box = it.get("category_id"), it.get("bounding_box")
    if not _is_int(cid) or cid not in DF2_CLASSES:
        raise DataFormatError(
            f"field '{key}.category_id' must be 1..13 (an integer), got {cid!r}", where=str(p)
        )
    if not (
        isinstance(box, list)
        and len(box) == 4
        and all(finite_number(v) for v in box)
        and box[2] >= box[0]
        and box[3] >= box[1]
    ):
        raise DataFormatError(
            f"field '{key}.bounding_box' must be [x1, y1, x2, y2] (finite numbers, x1 <= x2, y1 <= y2), "
            f"got {_shown(box)}",
            where=str(p),
        )
    style = it.get("style", 0)
    if not _is_int(style) or style < 0:
        raise DataFormatError(
            f"field '{key}.style' must be an integer >= 0 (0: no positive pair), got {style!r}",
            where=str(p),
        )
    name, names = it.get("category_name"), dict.fromkeys((DF2_FILE_NAMES[cid], DF2_CLASSES[cid]))
    if name is not None and (not isinstance(name, str) or name not in names):
        raise DataFormatError(
            f"field '{key}.category_name' {name!r} is not the name of category_id {cid} "
            f"({' or '.join(map(repr, names))})",
            where=str(p),
        )
    for code, meaning in ITEM_CODES.items():
        v = it.get(code)
        if v is not None and not (_is_int(v) and 1 <= v <= 3):
            raise DataFormatError(
                f"field '{key}.{code}' must be 1, 2 or 3 ({meaning}), got {v!r}", where=str(p)
            )
    return DF2Item(
        key,
        cid,
        list(box),  # the file's numbers: DeepFashion2's integer boxes stay integers (COCO export)
        style,
        _landmarks(p, key, cid, it.get("landmarks", [])),
        _segmentation(p, key, it.get("segmentation", [])),
        {k: v for k, v in it.items() if k not in _KNOWN_ITEM_FIELDS},
    )


#: How far (pixels) a box may reach past its image's edges: DeepFashion2's boxes are integer
#: pixel edges, so one that ends on the last row or column may read one past it. Farther out is
#: an error (:func:`check_box_in_image`); within it, YOLO export clips the box to the image.
BOX_TOLERANCE_PX = 2


def check_box_in_image(img: DF2Image, item: DF2Item, width: int, height: int) -> None:
    """Refuse ``item``'s box when it reaches more than :data:`BOX_TOLERANCE_PX` past the
    ``width`` x ``height`` image, or holds no pixel of it once clipped (a box nothing in the
    image would match: YOLO export would drop it, a huge one become a whole-image label)."""
    x1, y1, x2, y2 = item.box
    t = BOX_TOLERANCE_PX
    outside = x1 < -t or y1 < -t or x2 > width + t or y2 > height + t
    empty = min(x2, width) <= max(x1, 0) or min(y2, height) <= max(y1, 0)
    if outside or (empty and x2 > x1 and y2 > y1):
        where = "outside" if outside else "holds no pixel of"
        raise DataFormatError(
            f"field '{item.key}.bounding_box' {_shown(item.box)} {where} the {width}x{height} image "
            f"{img.image_path.name} (more than {t} px out is refused)",
            where=str(img.anno_path),
            hint="fix the box in the annotation file, or check that the image is the one it was labelled on",
        )


def _landmarks(p: Path, key: str, cid: int, lms: Any) -> list[float]:
    """``[x, y, v, ...]``: finite numbers, whole triples, at most the category's slots."""
    hint = "landmarks are [x1, y1, v1, x2, y2, v2, ...] numbers, at most the category's count"
    if not isinstance(lms, list):
        raise DataFormatError(
            f"field '{key}.landmarks' must be a list of numbers, got {type(lms).__name__} {lms!r:.60}",
            where=str(p),
            hint=hint,
        )
    bad = next((i for i, v in enumerate(lms) if not finite_number(v)), None)
    if bad is not None:
        raise DataFormatError(
            f"field '{key}.landmarks' value {bad} must be a finite number, got {_shown(lms[bad])}",
            where=str(p),
            hint=hint,
        )
    if len(lms) % 3 or len(lms) > 3 * LANDMARK_COUNTS[cid]:
        raise DataFormatError(
            f"field '{key}.landmarks' has {len(lms) / 3:g} points, category {cid} "
            f"has {LANDMARK_COUNTS[cid]} slots",
            where=str(p),
            hint=hint,
        )
    bad = next((i for i in range(2, len(lms), 3) if lms[i] not in LANDMARK_VISIBILITY), None)
    if bad is not None:
        raise DataFormatError(
            f"field '{key}.landmarks' point {bad // 3} has visibility {lms[bad]!r}, not 0, 1 or 2",
            where=str(p),
            hint="v is 2 visible, 1 occluded, 0 not labelled",
        )
    return list(lms)


def _segmentation(p: Path, key: str, seg: Any) -> list[list[float]]:
    """Polygons ``[[x1, y1, x2, y2, x3, y3, ...], ...]``: numbers, in pairs, at least 3 points each."""
    hint = "segmentation is a list of polygons [x1, y1, ..., xn, yn] with n >= 3"
    if not isinstance(seg, list):
        raise DataFormatError(
            f"field '{key}.segmentation' must be a list of polygons, got {type(seg).__name__} {seg!r:.60}",
            where=str(p),
            hint=hint,
        )
    for i, poly in enumerate(seg):
        if not (isinstance(poly, list) and all(finite_number(v) for v in poly)):
            raise DataFormatError(
                f"field '{key}.segmentation' polygon {i} must be a list of finite numbers, got {poly!r:.60}",
                where=str(p),
                hint=hint,
            )
        if len(poly) % 2 or len(poly) < 6:
            raise DataFormatError(
                f"field '{key}.segmentation' polygon {i} has {len(poly)} numbers, not x, y pairs of "
                "at least 3 points",
                where=str(p),
                hint=hint,
            )
    return [list(poly) for poly in seg]


def split_dir(df2_root: str | os.PathLike[str], split: str) -> Path:
    """``DF2_ROOT/<split>``, checked to hold an ``annos/`` folder."""
    folder = Path(df2_root) / split
    if not (folder / "annos").is_dir():
        found = _splits_found(Path(df2_root))
        raise DataFormatError(
            f"no annos/ folder for split '{split}'"
            + (
                f"; the root holds the split{'s' if len(found) > 1 else ''} {', '.join(found)}"
                if found
                else ""
            ),
            where=str(folder / "annos"),
            hint=f"pass --split {(difflib.get_close_matches(split, found, n=1, cutoff=0.4) or found)[0]}"
            if found
            else "pass the DeepFashion2 root that holds train/ and validation/",
        )
    return folder


def _splits_found(root: Path) -> list[str]:
    """The splits under a DeepFashion2 root: its folders that hold an ``annos/`` folder, sorted."""
    try:
        return sorted(d.name for d in root.iterdir() if (d / "annos").is_dir())
    except OSError:  # no such root, or not a folder: the caller's message says what to pass
        return []


def has_split(df2_root: str | os.PathLike[str], split: str) -> bool:
    """Whether ``DF2_ROOT/<split>/annos`` exists."""
    return (Path(df2_root) / split / "annos").is_dir()


def iter_split(df2_root: str | os.PathLike[str], split: str) -> Iterator[DF2Image]:
    """Every annotated image of one split, in file-name order."""
    for anno in sorted((split_dir(df2_root, split) / "annos").glob("*.json")):
        yield read_annotation(anno)


def df2_folder(root: str | os.PathLike[str]) -> Path:
    """The DeepFashion2-format folder of ``root``: ``root`` itself, or ``root/df2`` when only that
    holds a split (``train`` or ``validation``; a synthetic world folder keeps its set there), so
    every ``--df2`` option takes a world folder as ``mf train --df2`` does."""
    p = Path(root)
    splits = ("train", "validation")
    if not any(has_split(p, s) for s in splits) and any(has_split(p / "df2", s) for s in splits):
        return p / "df2"
    return p


def resolve_root(path: str | os.PathLike[str], split: str = "train") -> Path:
    """A DeepFashion2-format root holding ``<split>/annos``: ``path`` itself, or ``path/df2``
    (a synthetic world folder keeps its DeepFashion2-format set there)."""
    p = Path(path)
    for cand in (p, p / "df2"):
        if has_split(cand, split):
            return cand
    raise DataFormatError(
        f"no DeepFashion2-format {split}/annos folder here",
        where=str(p),
        hint="pass a DeepFashion2 root or a synthetic world folder (it holds df2/)",
    )
