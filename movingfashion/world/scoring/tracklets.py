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
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from pathlib import Path

from annotations.qa import QAReport, crop_offset, qa_report, shift_boxes, source_crops
from annotations.tracklet_files import require_results
from movingfashion.media.probe import probe_video
from movingfashion.world.truth import WorldTruth, load_video_gt, load_world
from schemas.dataset import VideoTracklets, read_entry_rows
from schemas.errors import DataFormatError, MediaError
from schemas.tracklet_names import shared_videos, tracklet_key


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


def _crop_box(recipe: str) -> list[float] | None:
    """The crop of a held-back video's publish recipe (``crop:x1,y1,x2,y2``; None: ``copy``
    or a recipe that does not read)."""
    kind, _, box = recipe.partition(":")
    try:
        values = [float(x) for x in box.split(",")]
    except ValueError:
        return None
    return values if kind == "crop" and len(values) == 4 else None


def held_videos(dataset: str | os.PathLike[str]) -> dict[str, tuple[str, int, list[float] | None]]:
    """The videos ``mf publish`` held back for review and keeps the tracklet files of
    (:data:`movingfashion.archive.verify.HELD_TRACKLETS`): video path -> (product id, index of
    the video among the product's, the crop publish made it with). Their products are in no
    split file; a held video is ``videos/<product>_<n>.mp4`` (:func:`schemas.official.video_relpath`),
    of one item, so video ``n`` of the world product. Records whose path is not of that form
    are left out."""
    from movingfashion.archive.verify import read_held_videos

    out = {}
    for rel, rec in read_held_videos(dataset).items():
        pid = rec["product_id"]
        stem = Path(rel).stem
        n = stem[len(pid) + 1 :] if stem.startswith(f"{pid}_") else ""
        if n.isdigit():
            out[rel] = (pid, int(n), _crop_box(rec["recipe"]))
    return out


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


def _load_truth(world_dir: str | os.PathLike[str]) -> tuple[Path, WorldTruth]:
    world = Path(world_dir)
    if not (world / "world.json").is_file():
        raise DataFormatError(
            "no world.json", where=str(world), hint="pass the synthetic world folder or its world.json"
        )
    return world, load_world(world)


def truth_boxes_for_dataset(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
) -> dict[str, dict[int, list[float]]]:
    """Dataset video path -> {frame: true item box} for every video the world knows: those of
    the split files and those ``mf publish`` held back for review (:func:`held_videos`)."""
    from annotations.builder import load_splits

    world, truth = _load_truth(world_dir)
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
                recorded = pid in crops and i < len(crops[pid])
                crop = crops[pid][i] if recorded else None
                out[vp] = _true_boxes(world, truth, vid, Path(dataset) / vp, crop, recorded)
    for vp, (pid, n, crop) in held_videos(dataset).items():
        vid = _world_video(products, None, pid, n)
        if vid is not None and vp not in out:
            out[vp] = _true_boxes(world, truth, vid, Path(dataset) / vp, crop, True)
    return out


@dataclass
class WorldQAReport(QAReport):
    """:class:`annotations.qa.QAReport` of a dataset against its world, with the videos it
    counts that the split files do not show: ``held_back`` of them ``mf publish`` held back for
    review (scored like the others), and the listed ones that have no tracklet file
    (``no_tracklet_file``, each a failure of the check)."""

    held_back: int = 0
    no_tracklet_file: list[str] = field(default_factory=list)

    def as_dict(self, details: bool = False) -> dict:
        return {
            **super().as_dict(details),
            "held_back": self.held_back,
            "no_tracklet_file": self.no_tracklet_file,
        }


def listed_videos(dataset: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(product id, video path) of every video the split files list, in file order."""
    from annotations.builder import load_splits

    return [
        (pid, vp)
        for split in load_splits(dataset).values()
        for pid, entry in split.items()
        for vp in entry.video_paths
    ]


def without_tracklet_file(
    pairs: list[tuple[str, str]], results: list[VideoTracklets], shared: Collection[str]
) -> list[tuple[str, str]]:
    """The (product id, video path) of ``pairs`` that have no tracklet file in ``results``: a
    video one product lists has it when any file is of the video, one several products list
    (``shared``) when that product's file is (each has its own)."""
    built = {(vt.product_id, vt.video) for vt in results}
    videos = {vt.video for vt in results}
    return [(pid, vp) for pid, vp in pairs if ((pid, vp) not in built if vp in shared else vp not in videos)]


def _unbuilt(pid: str, video: str) -> VideoTracklets:
    """A stand-in for a video without a tracklet file: no tracklet, so a failure of the check."""
    return VideoTracklets(product_id=pid, video=video, frames=0, width=0, height=0, tracklets=[])


def score_tracklets(
    dataset: str | os.PathLike[str],
    world_dir: str | os.PathLike[str],
    *,
    iou_hit: float = 0.5,
    min_fraction: float = 0.5,
) -> WorldQAReport:
    """:func:`annotations.qa.qa_report` of the dataset's tracklet files against the world's
    truth, over every video the split files list (one without a tracklet file fails the check)
    and those publish held back for review."""
    results = require_results(dataset)
    truth = truth_boxes_for_dataset(dataset, world_dir)
    held = held_videos(dataset)
    pairs = listed_videos(dataset) + [(pid, vp) for vp, (pid, _, _) in held.items()]
    shared = shared_videos((pid, [vp]) for pid, vp in pairs)
    unbuilt = [p for p in without_tracklet_file(pairs, results, shared) if p[1] in truth]
    rep = qa_report([*results, *(_unbuilt(pid, vp) for pid, vp in unbuilt)], truth, iou_hit, min_fraction)
    scored = {c.video for c in rep.checks}
    return WorldQAReport(
        **{f.name: getattr(rep, f.name) for f in fields(QAReport)},
        held_back=sum(vp in scored for vp in held),
        no_tracklet_file=[tracklet_key(vp, pid, shared=vp in shared) for pid, vp in unbuilt],
    )
