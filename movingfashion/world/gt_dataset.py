"""Export a published-style dataset straight from a world's ground truth.

What a perfect pipeline would publish: clothing items with a video, no duplicates, no wrong
shop associations; tracklets are the true boxes of the item; split-screen videos are cropped to
their moving half and their still half becomes the shop image. Layout as "Published dataset"
in docs/contracts.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from movingfashion.media.ffmpeg import transcode
from movingfashion.media.images import read_image, write_image
from movingfashion.world.truth import WorldProduct, WorldTruth, load_video_gt, load_world
from schemas.atomic import atomic_write_json, atomic_write_text, sha256_file
from schemas.dataset import DatasetEntry, Split, Tracklet, VideoTracklets
from schemas.official import OfficialEntry, write_official
from schemas.taxonomy import PARTITION_SOURCE_CODE


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


def export_gt_dataset(
    world_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], seed: int = 0
) -> Path:
    """Write train.json/test.json, entries.jsonl, videos/, shop/ (front/rear/fabric), tracklets/."""
    world, out = Path(world_dir), Path(out_dir)
    truth = load_world(world)
    products = publishable(truth)
    splits = assign_splits(products, seed)
    official: dict[Split, dict[str, OfficialEntry]] = {Split.TRAIN: {}, Split.TEST: {}}
    lines = []
    for p in products:
        sha: dict[str, str] = {}
        video_paths, tracklets = [], []
        crops: list[list[int] | None] = []  # where each video was cropped from its source
        shop_rel = f"shop/{p.product_id}.jpg"
        for n, vid in enumerate(p.videos):
            v = truth.video(vid)
            rel = f"videos/{p.product_id}_{n}.mp4"
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
                write_image(out / shop_rel, read_image(world / v.split_screen.still_image), quality=92)
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
            (out / "shop").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(world / p.images["shop"], out / shop_rel)
        for view in ("front", "rear", "fabric"):
            if view in p.images:
                rel = f"{view}/{p.product_id}.jpg"
                (out / view).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(world / p.images[view], out / rel)
                views[view] = rel
                sha[rel] = sha256_file(out / rel)
        sha[shop_rel] = sha256_file(out / shop_rel)
        split = splits[p.product_id]
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
                "source_crops": crops,
                "from": "world-ground-truth",
            },
        )
        lines.append(entry.model_dump_json())
    write_official(out / "train.json", official[Split.TRAIN])
    write_official(out / "test.json", official[Split.TEST])
    atomic_write_text(out / "entries.jsonl", "\n".join(lines) + "\n")
    atomic_write_json(
        out / "manifest.json",
        {
            "built_from": "synthetic world ground truth",
            "world_seed": truth.seed,
            "split_seed": seed,
            "products": len(products),
            "train": len(official[Split.TRAIN]),
            "test": len(official[Split.TEST]),
        },
    )
    return out
