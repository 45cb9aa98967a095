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

import os
import shutil
from pathlib import Path

import numpy as np

from movingfashion.archive.describe import describe
from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import read_image, write_image
from movingfashion.world.truth import WorldProduct, WorldTruth, load_video_gt, load_world
from schemas.atomic import atomic_write_text, sha256_file
from schemas.dataset import DatasetEntry, DatasetInfo, Split, Tracklet, VideoTracklets
from schemas.official import (
    OfficialEntry,
    VideoChoice,
    pick_test_video,
    shop_relpath,
    video_relpath,
    write_official,
)
from schemas.taxonomy import PARTITION_SOURCE_CODE

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
    """~90/10 within every class, with at least ``min_test`` test products."""
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
    while sum(s == Split.TEST for s in out.values()) < min(min_test, len(out)) and spare:
        out[spare.pop()] = Split.TEST
    return out


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


def _place_image(src: Path, dst: Path) -> None:
    """Copy an image, or re-encode it when its format is not the one ``dst``'s suffix names."""
    if src.suffix.lower() == dst.suffix.lower():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    else:
        write_image(dst, read_image(src), quality=95)


def export_gt_dataset(
    world_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], seed: int = 0
) -> Path:
    """Write train.json/test.json, entries.jsonl, videos/, imgs/ (front/rear/fabric), tracklets/,
    then the tables, datasheet, card, Croissant metadata and manifest."""
    world, out = Path(world_dir), Path(out_dir)
    truth = load_world(world)
    products = published_products(truth)
    splits = assign_splits([p for p, _ in products], seed)
    official: dict[Split, dict[str, OfficialEntry]] = {Split.TRAIN: {}, Split.TEST: {}}
    lines = []
    for p, vids in products:
        split = splits[p.product_id]
        if split == Split.TEST and len(vids) > 1:
            choices = [VideoChoice(v.frames, v.width, v.height, v.video_id) for v in map(truth.video, vids)]
            vids = [vids[pick_test_video(choices)]]
        sha: dict[str, str] = {}
        video_paths, tracklets = [], []
        crops: list[list[int] | None] = []  # where each video was cropped from its source
        shop_rel = shop_relpath(p.product_id, p.partition)
        for n, vid in enumerate(vids):
            v = truth.video(vid)
            rel = video_relpath(p.product_id, n)
            gt = load_video_gt(world, v)
            boxes = gt.item_boxes()
            w, h = v.width, v.height
            if v.split_screen is not None:
                mb = [int(x) for x in v.split_screen.moving_box]
                transcode(world / v.path, out / rel, crop=mb, crf=20, gop=None, preset="veryfast")
                boxes = {
                    t: [b[0] - mb[0], b[1] - mb[1], b[2] - mb[0], b[3] - mb[1]] for t, b in boxes.items()
                }
                w, h = mb[2] - mb[0], mb[3] - mb[1]
                crops.append(mb)
                if n == 0:
                    _place_image(world / v.split_screen.still_image, out / shop_rel)
            else:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(world / v.path, out / rel)
                crops.append(None)
            video_paths.append(rel)
            trk = {str(t): list(b) for t, b in sorted(boxes.items())}
            tracklets.append(trk)
            sha[rel] = sha256_file(out / rel)
            vt = VideoTracklets(
                product_id=p.product_id,
                video=rel,
                frames=v.frames,
                width=w,
                height=h,
                tracklets=[Tracklet(video=rel, boxes=boxes, class_id=p.df2_class, mode="ground-truth")],
                ground_truth=0,
                detector="world-ground-truth",
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
            tracklets=tracklets,
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
            tracklets=tracklets,
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
    write_official(out / "train.json", official[Split.TRAIN])
    write_official(out / "test.json", official[Split.TEST])
    atomic_write_text(out / "entries.jsonl", "\n".join(lines) + "\n")
    describe(
        out,
        WORLD_INFO,
        manifest_extra={
            "built_from": "synthetic world ground truth",
            "world_seed": truth.seed,
            "split_seed": seed,
            "products": len(products),
            "train": len(official[Split.TRAIN]),
            "test": len(official[Split.TEST]),
        },
    )
    return out
