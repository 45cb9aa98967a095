"""Score a dataset's ground-truth tracklets against a world's true item boxes.

The dataset's product ids are the world's product ids. ``video_paths[i]`` is the world video
``metadata.video_items[i]`` of ``entries.jsonl`` names (the world product it came from: a
product with several videos merges items), else the product's ``i``-th world video. A video
published cropped from its source (the moving half of a split screen) gets the true boxes moved
into the crop: by ``source_crops`` of ``entries.jsonl`` when the dataset records it, else by the
true moving box when the video's size equals it.

Every video counts: those the split files list (one without a tracklet file fails the check and
is named in ``no_tracklet_file``) and those ``mf publish`` held back for review, whose tracklet
files it keeps (``.publish-held.json``; counted in ``held_back``): the review flags are measured
on them too.
"""

from __future__ import annotations

import os
from pathlib import Path

from annotations.qa import (
    DatasetQAReport,
    crop_offset,
    held_videos,
    item_video,
    score_dataset,
    shift_boxes,
    source_crops,
    video_items,
)
from annotations.tracklet_files import require_results
from movingfashion.media.probe import probe_video
from movingfashion.world.truth import WorldTruth, load_video_gt, load_world
from schemas.errors import MediaError
from schemas.official import OnBad


def _video_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a video, None when it does not open."""
    try:
        info = probe_video(path)
    except MediaError:
        return None
    return info.width, info.height


def _world_video(products: dict, items: list[str] | None, pid: str, i: int) -> str | None:
    """The world video id of video ``i`` of product ``pid`` (:func:`annotations.qa.item_video`:
    the k-th video of its source item)."""
    item, k = item_video(items, pid, i)
    p = products.get(item)
    return p.videos[k] if p is not None and k < len(p.videos) else None


def _true_boxes(
    world: Path, truth: WorldTruth, vid: str, video: Path, crop: list[float] | None, recorded: bool
) -> dict[int, list[float]]:
    """World video ``vid``'s true item boxes in the pixels of the dataset's ``video``: moved into
    the ``crop`` publish made it with; when the dataset does not record it (not ``recorded``),
    into the moving half of a split screen if the video has its size."""
    v = truth.video(vid)
    boxes = load_video_gt(world, v).item_boxes()
    if crop is not None:
        return shift_boxes(boxes, *crop_offset(None, crop))
    if not recorded and v.split_screen is not None:
        mb = [int(x) for x in v.split_screen.moving_box]
        if _video_size(video) == (mb[2] - mb[0], mb[3] - mb[1]):
            return shift_boxes(boxes, mb[0], mb[1])
    return boxes


def truth_boxes_for_dataset(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
    on_bad: OnBad = "raise",
) -> dict[str, dict[int, list[float]]]:
    """Dataset video path -> {frame: true item box} for every video the world knows: those of
    the split files and those ``mf publish`` held back for review (:func:`annotations.qa.held_videos`).
    ``on_bad="skip"``: a product whose split-file entry the reader refuses is left out
    (:func:`annotations.tracklet_files.load_split_heads_on_bad`); ``"raise"`` refuses, naming it."""
    from annotations.tracklet_files import load_split_heads_on_bad

    world = Path(world_dir)
    truth = load_world(world)  # its one check of world.json, naming the file
    products = {p.product_id: p for p in truth.products}
    crops = source_crops(dataset)
    items = video_items(dataset)
    out: dict[str, dict[int, list[float]]] = {}
    # the video lists only (no box built), read once with score_dataset's (kept per file version)
    for split in load_split_heads_on_bad(dataset, on_bad)[0].values():
        for pid, entry in split.items():
            for i, vp in enumerate(entry.video_paths):
                vid = _world_video(products, items.get(pid), pid, i)
                if vid is None:
                    continue
                recorded = pid in crops and i < len(crops[pid])
                crop = crops[pid][i] if recorded else None
                out[vp] = _true_boxes(world, truth, vid, Path(dataset) / vp, crop, recorded)
    from movingfashion.archive.verify import read_held_videos

    # a held video's product id has its source's prefix (local-..., tiktok-...): the world knows
    # its item's id, which the record names (older records do not: the product id then)
    held_items = {rel: rec.get("item") for rel, rec in read_held_videos(dataset).items()}
    for vp, (pid, n, crop) in held_videos(dataset).items():
        item = held_items.get(vp)
        vid = _world_video(products, None, item if isinstance(item, str) and item else pid, n)
        if vid is not None and vp not in out:
            out[vp] = _true_boxes(world, truth, vid, Path(dataset) / vp, crop, True)
    return out


def score_tracklets(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
    *,
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
    on_bad: OnBad = "raise",
) -> DatasetQAReport:
    """:func:`annotations.qa.score_dataset` of the dataset's tracklet files against the world's
    truth (:func:`truth_boxes_for_dataset`): every video the split files list (one without a
    tracklet file fails the check) and those publish held back for review. ``on_bad`` as for
    :func:`~annotations.qa.score_dataset` (``"skip"``: a product whose split-file entry is
    refused is held out, listed in ``held_out``)."""
    results = require_results(dataset)
    truth = truth_boxes_for_dataset(dataset, world_dir, on_bad)
    return score_dataset(dataset, results, truth, iou_hit, min_fraction, on_bad=on_bad)
