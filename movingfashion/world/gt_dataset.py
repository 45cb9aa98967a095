"""Export a published-style dataset straight from a world's ground truth.

What a perfect pipeline would publish: clothing items with a video, no duplicates, no wrong
shop associations; tracklets are the true boxes of the item; split-screen videos are cropped to
their moving half and their still half becomes the shop image. A retake (another clip of a
product's garment, the same shop image) is one more video of that product, as ``mf publish``
merges items carrying the same shop image; a test product keeps one video
(:func:`schemas.official.pick_test_video`). Layout as "Published dataset" in docs/contracts.md
(the real archive's: ``imgs/`` with ``.png`` Hard and ``.jpg`` Regular shop images, ``source`` 0/1),
described and verified like a published folder (:mod:`movingfashion.archive`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from movingfashion.archive.describe import describe
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import read_image, write_image
from movingfashion.media.readers import read_frames
from movingfashion.world.truth import VideoGroundTruth, WorldProduct, WorldTruth, load_video_gt, load_world
from schemas.atomic import atomic_write_text, sha256_file
from schemas.dataset import DatasetEntry, DatasetInfo, Split, Tracklet, VideoTracklets
from schemas.errors import ConfigError
from schemas.geometry import box_ious
from schemas.official import (
    OfficialEntry,
    VideoChoice,
    pick_test_video,
    shop_relpath,
    video_relpath,
    write_official,
)
from schemas.paths import folder_listing
from schemas.taxonomy import PARTITION_SOURCE_CODE

if TYPE_CHECKING:
    from movingfashion.models.detectors.base import Detector

#: How the ground-truth export describes itself (Croissant metadata and card).
WORLD_INFO = DatasetInfo(
    name="movingfashion-synthetic-world",
    pretty_name="MovingFashion synthetic world (ground truth)",
    description=(
        "A synthetic stand-in for MovingFashion rendered by the MovingFashion toolkit: Regular and Hard "
        "video-to-shop pairs of the 13 DeepFashion2 categories with their true boxes as tracklets, in "
        "the layout of the real archive. For testing pipelines, not for measuring real-world accuracy."
    ),
    synthetic=True,
    keywords=["fashion", "video-to-shop", "retrieval", "video", "tracking", "synthetic"],
)


def publishable(truth: WorldTruth) -> list[WorldProduct]:
    """Products a perfect cleaning keeps: clothing, with an original video, correct shop image."""
    keep = []
    for p in truth.products:
        if p.df2_class is None or not p.videos or p.wrong_shop:
            continue
        if any(truth.video(v).duplicate_of for v in p.videos):
            continue
        keep.append(p)
    return keep


def assign_splits(
    products: list[WorldProduct], seed: int = 0, test_fraction: float = 0.1, min_test: int = 3
) -> dict[str, Split]:
    """~90/10 within every class, with at least ``min_test`` test products (none with a
    ``test_fraction`` of 0: a training-only export)."""
    rng = np.random.default_rng([seed, 90])
    out: dict[str, Split] = {}
    by_class: dict[int, list[str]] = {}
    for p in products:
        by_class.setdefault(int(p.df2_class or 0), []).append(p.product_id)
    spare: list[str] = []
    for c in sorted(by_class):
        ids = sorted(by_class[c])
        ids = [ids[i] for i in rng.permutation(len(ids))]
        k = int(round(len(ids) * test_fraction))
        for i, pid in enumerate(ids):
            out[pid] = Split.TEST if i < k else Split.TRAIN
        spare += ids[k:]
    spare = [spare[i] for i in rng.permutation(len(spare))]
    least = min(min_test, len(out)) if test_fraction > 0 else 0
    while sum(s == Split.TEST for s in out.values()) < least and spare:
        out[spare.pop()] = Split.TEST
    return out


#: What ``export_gt_dataset`` writes as the dataset's (official) tracklets.
TRACKLET_SOURCES = ("truth", "tracked", "detected", "linked")

#: "linked" source: a detection carries a frame of the tracker's path when it overlaps the
#: tracker's box at least this much (the paper's IoU for a detection on the item).
LINK_IOU = 0.5

#: Corruption kinds where the world's tracker holds a box on nothing (the camera swung away, the
#: box left on the background): a tracklet linked from detections has no box there at all, so
#: the "detected" source leaves those frames out.
UNDETECTED_KINDS = ("out_of_frame", "background")


def _shift(boxes: dict[int, list[float]], mb: list[int] | None) -> dict[int, list[float]]:
    if mb is None:
        return boxes
    return {t: [b[0] - mb[0], b[1] - mb[1], b[2] - mb[0], b[3] - mb[1]] for t, b in boxes.items()}


def other_garment_boxes(gt: VideoGroundTruth, min_share: float = 0.2) -> list[dict[int, list[float]]]:
    """True boxes of every other garment in view in at least ``min_share`` of the frames (>= 3)
    with 20% of it visible: the tracklets a perfect inference tracker also finds."""
    by: dict[tuple[int, str], dict[int, list[float]]] = {}
    for t, garments in enumerate(gt.frames):
        for g in garments:
            if g.product_id == gt.product_id or g.box is None or g.visible < 0.2:
                continue
            by.setdefault((g.person, g.product_id), {})[t] = list(g.box)
    need = max(3, int(min_share * len(gt.frames)))
    return [b for _, b in sorted(by.items()) if len(b) >= need]


def link_detections(
    frames: np.ndarray | str | os.PathLike[str],
    tracked: dict[int, list[float]],
    detector: Detector,
    min_iou: float = LINK_IOU,
    region: list[int] | None = None,
) -> tuple[dict[int, list[float]], dict[int, float]]:
    """The tracker's path as a tracklet linked from real detections: on every frame ``t`` of
    ``tracked`` the detection of ``detector`` on frame ``t`` of ``frames`` (decoded frames, or a
    video decoded a detector batch at a time) that overlaps the tracker's box most,
    when at ``min_iou`` or more, with its box and its confidence; frames without one are left out.
    ``region`` ``[x1, y1, x2, y2]``: the part of the frame that is published (a split-screen
    video's moving half); boxes are cut to it first. Returns (boxes, confidences) in the frames'
    coordinates."""
    ts = sorted(tracked)
    boxes: dict[int, list[float]] = {}
    conf: dict[int, float] = {}
    if not ts:
        return boxes, conf
    dets = []
    for i in range(0, len(ts), detector.config.batch):
        chunk = ts[i : i + detector.config.batch]
        dets += detector.detect(
            frames[chunk] if isinstance(frames, np.ndarray) else read_frames(frames, chunk)
        )
    for t, d in zip(ts, dets, strict=True):
        if not len(d):
            continue
        found = d.boxes
        if region is not None:
            found = found.copy()
            found[:, 0::2] = found[:, 0::2].clip(region[0], region[2])
            found[:, 1::2] = found[:, 1::2].clip(region[1], region[3])
        iou = box_ious(np.asarray(tracked[t], np.float32)[None], found)
        j = int(iou.argmax())
        if iou[j] >= min_iou:
            boxes[t] = [round(float(v), 1) for v in found[j]]
            conf[t] = round(float(d.scores[j]), 4)
    return boxes, conf


def video_tracklets(
    gt: VideoGroundTruth,
    video: str,
    class_id: int | None,
    mb: list[int] | None,
    source: str,
    linked: tuple[dict[int, list[float]], dict[int, float]] | None = None,
) -> tuple[list[Tracklet], dict[int, list[float]]]:
    """The richer file's tracklets of one video and its official tracklet.

    ``tracklets[0]`` is the official one: the item's true boxes (``source`` "truth", mode
    "ground-truth") or the boxes of the world's tracker with their corrupted frames (``source``
    "tracked", mode "training": what the training tracking procedure publishes on noisy
    footage; "detected": the same without the frames of :data:`UNDETECTED_KINDS`, as a tracker
    linking detections would have them; "linked": ``linked``, the output of
    :func:`link_detections` on the tracker's path, in the world video's coordinates: real
    detections and their confidences, no planted ones). Then the inference tracklets: the item's
    (the official one's boxes when the world has a tracker, else the true boxes) and every other
    garment in view, so that the query selection by IoU with the ground truth (paper section 5)
    has something to choose from.
    """
    truth = _shift(gt.item_boxes(), mb)
    tracked = _shift(gt.tracked_boxes(), mb)
    conf = {t: float(c) for t, c in enumerate(gt.confidence or []) if c is not None and t in tracked}
    if source == "detected":
        kinds = gt.frame_noise()
        tracked = {t: b for t, b in tracked.items() if kinds.get(t) not in UNDETECTED_KINDS}
    elif source == "linked":
        if linked is None:
            raise ValueError("the linked source needs the linked detections (link_detections)")
        tracked, conf = _shift(linked[0], mb), dict(linked[1])
    conf = {t: c for t, c in conf.items() if t in tracked}
    noise = {t: k for t, k in gt.frame_noise().items() if t in tracked}
    if source in ("tracked", "detected", "linked") and tracked:
        first = Tracklet(
            video=video, boxes=tracked, scores=conf, class_id=class_id, mode="training", noise=noise
        )
    else:
        first = Tracklet(video=video, boxes=truth, class_id=class_id, mode="ground-truth")
    item = (
        Tracklet(video=video, boxes=tracked, scores=conf, class_id=class_id, mode="inference", noise=noise)
        if tracked
        else Tracklet(video=video, boxes=truth, class_id=class_id, mode="inference")
    )
    others = [Tracklet(video=video, boxes=_shift(b, mb), mode="inference") for b in other_garment_boxes(gt)]
    return [first, item, *others], first.boxes


def published_products(truth: WorldTruth) -> list[tuple[WorldProduct, list[str]]]:
    """(product, its video ids) as published: retakes join the product whose clip they retake."""
    keep = publishable(truth)
    ids = {p.product_id for p in keep}
    videos: dict[str, list[str]] = {p.product_id: list(p.videos) for p in keep}
    owners = []
    for p in keep:
        first = truth.video(p.videos[0])
        owner = truth.video(first.retake_of).product_id if first.retake_of else None
        if owner in ids and owner != p.product_id:
            videos[owner] += videos.pop(p.product_id)
        else:
            owners.append(p)
    return [(p, videos[p.product_id]) for p in owners]


#: What ``manifest.json`` of an export records as ``built_from`` (how a rerun recognises one).
BUILT_FROM = "synthetic world ground truth"
#: Suffix of the sibling folder an export is built in (``.<name><PARTIAL>``), moved in place when done.
PARTIAL = ".export-gt-partial"


def _check_out(out: Path) -> None:
    """Refuse an ``out`` that is a file, or a non-empty folder that is not an earlier export (its
    files would be replaced)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("not a folder", where=str(out), hint="pass a new or empty folder as --out")
    entries = [p.name for p in out.iterdir()] if out.is_dir() else []
    if not entries:
        return
    manifest = out / "manifest.json"
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        doc = None
    if isinstance(doc, dict) and doc.get("built_from") == BUILT_FROM:
        return
    raise ConfigError(
        f"folder is not empty and holds no earlier export of mf world export-gt ({folder_listing(entries)});"
        " an export replaces its --out folder whole",
        where=str(out),
        hint="pass a new or empty folder as --out",
    )


def _swap(built: Path, out: Path) -> None:
    """Move the complete export ``built`` to ``out`` (an empty folder or an earlier export)."""
    if out.is_dir():
        old = out.parent / f".{out.name}{PARTIAL}-old"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        built.rename(out)
        shutil.rmtree(old)
    else:
        built.rename(out)


def _place_image(src: Path, dst: Path) -> None:
    """Copy an image, or re-encode it when its format is not the one ``dst``'s suffix names."""
    if src.suffix.lower() == dst.suffix.lower():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    else:
        write_image(dst, read_image(src), quality=95)


def export_gt_dataset(
    world_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    *,
    tracklets: str = "truth",
    test_fraction: float = 0.1,
    detector: Detector | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write train.json/test.json, entries.jsonl, videos/, imgs/ (front/rear/fabric), tracklets/,
    then the tables, datasheet, card, Croissant metadata and manifest.

    ``tracklets``: "truth" (default) publishes the item's true boxes; "tracked" publishes the
    world's tracker boxes (noisy on worlds made with the noise knobs, see
    :func:`video_tracklets`); "detected" the tracker's boxes where a detection-linked tracklet
    would have one; "linked" the detections of ``detector`` (default: the embedded one) along
    the tracker's path, with their real confidences (:func:`link_detections`).
    ``test_fraction``: share of each class in the test split (1.0: a world made only for testing;
    0: none; else at least 3 test products).
    ``out_dir``: a new or empty folder, or an earlier export, replaced whole (nothing of it is
    kept); the export is built in a sibling folder and moved in place when complete.
    ``progress(done, total)`` is called after each product.
    """
    if tracklets not in TRACKLET_SOURCES:
        raise ValueError(f"tracklets must be one of {TRACKLET_SOURCES}, got {tracklets!r}")
    world, final = Path(world_dir), Path(out_dir)
    truth = load_world(world)
    _check_out(final)
    if tracklets != "truth" and not any(v.noisy_frames is not None for v in truth.videos):
        raise ConfigError(
            f"--tracklets {tracklets} needs the world tracker's boxes, and this world has none",
            where=str(world / "world.json"),
            hint="generate the world with --preset hard (or the noise knobs in --config), or export"
            " with --tracklets truth",
        )
    made_by = {"truth": "world-ground-truth", "tracked": "world-tracker", "detected": "world-tracker"}
    if tracklets == "linked":
        if detector is None:
            from movingfashion.models.detectors.registry import build_detector

            detector = build_detector()
        made_by["linked"] = f"world-tracker+{detector.name}:{detector.version}"
    target = final.resolve() if final.is_symlink() else final.absolute()  # a link keeps pointing at it
    out = target.parent / f".{target.name}{PARTIAL}"
    shutil.rmtree(out, ignore_errors=True)  # what an export cut short left
    out.mkdir(parents=True)
    try:
        _export(world, out, truth, seed, tracklets, test_fraction, detector, made_by, progress)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    _swap(out, target)
    return final


def _export(
    world: Path,
    out: Path,
    truth: WorldTruth,
    seed: int,
    tracklets: str,
    test_fraction: float,
    detector: Detector | None,
    made_by: dict[str, str],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write the whole export into the empty folder ``out`` (see :func:`export_gt_dataset`)."""
    products = published_products(truth)
    splits = assign_splits([p for p, _ in products], seed, test_fraction=test_fraction)
    official: dict[Split, dict[str, OfficialEntry]] = {Split.TRAIN: {}, Split.TEST: {}}
    lines = []
    for done, (p, vids) in enumerate(products, 1):
        split = splits[p.product_id]
        if split == Split.TEST and len(vids) > 1:
            choices = [VideoChoice(v.frames, v.width, v.height, v.video_id) for v in map(truth.video, vids)]
            vids = [vids[pick_test_video(choices)]]
        sha: dict[str, str] = {}
        video_paths: list[str] = []
        tracklets_json: list[dict[str, list[float]]] = []
        crops: list[list[int] | None] = []  # where each video was cropped from its source
        shop_rel = shop_relpath(p.product_id, p.partition)
        for n, vid in enumerate(vids):
            v = truth.video(vid)
            rel = video_relpath(p.product_id, n)
            gt = load_video_gt(world, v)
            w, h = v.width, v.height
            mb = None
            if v.split_screen is not None:
                mb = [int(x) for x in v.split_screen.moving_box]
                transcode(world / v.path, out / rel, crop=mb, crf=20, gop=None, preset="veryfast")
                w, h = mb[2] - mb[0], mb[3] - mb[1]
                crops.append(mb)
                if n == 0:
                    _place_image(world / v.split_screen.still_image, out / shop_rel)
            else:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(world / v.path, out / rel)
                crops.append(None)
            video_paths.append(rel)
            linked = None
            if tracklets == "linked" and detector is not None:
                region = mb or [0, 0, v.width, v.height]
                linked = link_detections(world / v.path, gt.tracked_boxes(), detector, region=region)
            trks, boxes = video_tracklets(gt, rel, p.df2_class, mb, tracklets, linked)
            tracklets_json.append({str(t): list(b) for t, b in sorted(boxes.items())})
            sha[rel] = sha256_file(out / rel)
            vt = VideoTracklets(
                product_id=p.product_id,
                video=rel,
                frames=v.frames,
                width=w,
                height=h,
                tracklets=trks,
                ground_truth=0,
                detector=made_by[tracklets],
            )
            atomic_write_text(out / f"tracklets/{p.product_id}_{n}.json", vt.model_dump_json(indent=1) + "\n")
        views = {}
        if "shop" in p.images:
            _place_image(world / p.images["shop"], out / shop_rel)
        for view in ("front", "rear", "fabric"):
            if view in p.images:
                rel = f"{view}/{p.product_id}.jpg"
                _place_image(world / p.images[view], out / rel)
                views[view] = rel
                sha[rel] = sha256_file(out / rel)
        sha[shop_rel] = sha256_file(out / shop_rel)
        official[split][p.product_id] = OfficialEntry(
            video_paths=video_paths,
            img_path=shop_rel,
            source=PARTITION_SOURCE_CODE[p.partition],
            tracklets=tracklets_json,
        )
        entry = DatasetEntry(
            product_id=p.product_id,
            df2_class=int(p.df2_class or 0),
            partition=p.partition,
            split=split,
            source=p.source,
            video_paths=video_paths,
            img_path=shop_rel,
            front_path=views.get("front"),
            rear_path=views.get("rear"),
            fabric_path=views.get("fabric"),
            video_crops=[None] * len(video_paths),
            tracklets=tracklets_json,
            sha256=sha,
            metadata={
                "title": p.title,
                "category_path": p.category_path,
                "designer": p.designer,
                "caption": p.caption,
                "confusable_group": p.confusable_group,
                "video_items": [truth.video(v).product_id for v in vids],
                "source_crops": crops,
                "from": "world-ground-truth",
            },
        )
        lines.append(entry.model_dump_json())
        if progress is not None:
            progress(done, len(products))
    write_official(out / "train.json", official[Split.TRAIN])
    write_official(out / "test.json", official[Split.TEST])
    atomic_write_text(out / "entries.jsonl", "\n".join(lines) + "\n")
    describe(
        out,
        WORLD_INFO,
        manifest_extra={
            "built_from": BUILT_FROM,
            "world_seed": truth.seed,
            "split_seed": seed,
            "tracklets": tracklets,
            "products": len(products),
            "train": len(official[Split.TRAIN]),
            "test": len(official[Split.TEST]),
        },
    )
