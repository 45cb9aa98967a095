"""Score a dataset's ground-truth tracklets against a world's true item boxes.

The dataset's product ids are the world's product ids. ``video_paths[i]`` is the world video
``metadata.video_items[i]`` of ``entries.jsonl`` names (the world product it came from: a product
with several videos merges items), else the product's ``i``-th world video. A video published cropped from its source (the moving half of a split
screen) gets the true boxes moved into the crop: by ``source_crops`` of ``entries.jsonl`` when
the dataset records it, else by the true moving box when the video's size equals it.
"""

from __future__ import annotations

import os
from pathlib import Path

from annotations.qa import QAReport, crop_offset, qa_report, shift_boxes, source_crops
from annotations.tracklet_files import require_results
from movingfashion.media.probe import probe_video
from movingfashion.world.truth import load_video_gt, load_world
from schemas.dataset import read_entry_rows
from schemas.errors import DataFormatError, MediaError


def _video_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a video, None when it does not open."""
    try:
        info = probe_video(path)
    except MediaError:
        return None
    return info.width, info.height


def video_items(dataset: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Product id -> per video the source item (world product) it came from, from ``entries.jsonl``."""
    path = Path(dataset) / "entries.jsonl"
    if not path.is_file():
        return {}
    out = {}
    for pid, row in read_entry_rows(path).items():
        items = (row.get("metadata") or {}).get("video_items")
        if isinstance(items, list) and all(isinstance(x, str) for x in items):
            out[pid] = items
    return out


def _world_video(products: dict, items: list[str] | None, pid: str, i: int) -> str | None:
    """The world video id of video ``i`` of product ``pid`` (the k-th video of its source item)."""
    if items is not None and i < len(items):
        p = products.get(items[i])
        k = items[:i].count(items[i])
    else:
        p, k = products.get(pid), i
    return p.videos[k] if p is not None and k < len(p.videos) else None


def truth_boxes_for_dataset(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
) -> dict[str, dict[int, list[float]]]:
    """Dataset video path -> {frame: true item box} for every video the world knows."""
    from annotations.builder import load_splits

    world = Path(world_dir)
    if not (world / "world.json").is_file():
        raise DataFormatError(
            "no world.json", where=str(world), hint="pass the synthetic world folder or its world.json"
        )
    truth = load_world(world)
    products = {p.product_id: p for p in truth.products}
    crops = source_crops(dataset)
    items = video_items(dataset)
    out: dict[str, dict[int, list[float]]] = {}
    for split in load_splits(dataset).values():
        for pid, entry in split.items():
            for i, vp in enumerate(entry.video_paths):
                vid = _world_video(products, items.get(pid), pid, i)
                if vid is None:
                    continue
                v = truth.video(vid)
                boxes = load_video_gt(world, v).item_boxes()
                if pid in crops and i < len(crops[pid]):
                    boxes = shift_boxes(boxes, *crop_offset(None, crops[pid][i]))
                elif v.split_screen is not None:
                    mb = [int(x) for x in v.split_screen.moving_box]
                    if _video_size(Path(dataset) / vp) == (mb[2] - mb[0], mb[3] - mb[1]):
                        boxes = shift_boxes(boxes, mb[0], mb[1])
                out[vp] = boxes
    return out


def score_tracklets(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
    *,
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
) -> QAReport:
    """:func:`annotations.qa.qa_report` of the dataset's tracklet files against the world's truth."""
    results = require_results(dataset)
    return qa_report(results, truth_boxes_for_dataset(dataset, world_dir), iou_hit, min_fraction)
