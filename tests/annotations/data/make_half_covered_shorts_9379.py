"""Write ``half_covered_shorts_9379.json``, the stored excerpt read by
``tests/annotations/test_tracking.py::test_half_covered_shorts_of_a_world_are_boxed_on_their_visible_part``.

The excerpt is video ``CmECp9RO6Ka_0`` of synthetic world seed 9379 (50 products, quick) as the
embedded detector and RoI matcher see it at stride 2: every detection (box, score, class, RoI
descriptor), the shop image's descriptor and the world's true item boxes.

When to run it: after the embedded detector or RoI matcher (``movingfashion/models/weights``,
``make weights``) is retrained, or after a change to what they compute (the detector's
preprocessing, the RoI descriptor): the stored descriptors are the old weights' and the test tracks
them with the embedded matcher head. Then run the test; this script prints what it will find (the
tracklet with and without ``tracker.cover_penalty``) and exits 1 when the video no longer shows the
case the test is about (the old ranking must fail, the new one box the item on every frame): pick
another half-covered shorts video then.

The world, its ground-truth dataset (without the true boxes) and the detections are made under
``--work`` exactly as ``python -m movingfashion.world.flag_fit eval --work WORK --world
v9379=50:9379:quick`` makes them (``WORK/v9379/{world,dataset,detections}``), so such a work folder
is reused: the detections are read from its cache file when the current weights and settings made
it, else detected again (and the cache file replaced). From scratch: the world takes about two
minutes on 2 CPU cores, the detection of the one video seconds.

Torch's thread count changes the last stored decimal of a few descriptors: the committed file holds
detections cached by ``flag_fit eval`` (which runs torch on half the cores) and a shop descriptor
taken at torch's default thread count, on 2 cores. This script on that cache writes it byte for
byte; from scratch (default thread count) 288 of the 2944 stored RoI descriptor values differ by
1e-5, and the tracking the test checks is the same.

Run: ``.venv/bin/python tests/annotations/data/make_half_covered_shorts_9379.py --work build/excerpt``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

#: the world (flag_fit's ``NAME=products:seed:quick`` spec) and the video
WORLD_SPEC = "v9379=50:9379:quick"
VIDEO = "videos/CmECp9RO6Ka_0.mp4"
OUT = Path(__file__).resolve().parent / "half_covered_shorts_9379.json"
WHAT = (
    "seed 9379 (50 products, quick) video CmECp9RO6Ka_0: the embedded detector's detections at"
    " stride 2 and their RoI descriptors, the shop image's, and the world's true item boxes"
)


def prepared_world(work: Path) -> tuple[Path, Path]:
    """``(world, dataset)`` under ``work/v9379``, generated / exported when missing (as flag_fit)."""
    from movingfashion.world.flag_fit import world_dataset, world_spec
    from movingfashion.world.gt_dataset import export_gt_dataset

    name = WORLD_SPEC.split("=", 1)[0]
    world = work / name / "world"
    if not (world / "world.json").is_file():
        world = world_spec(WORLD_SPEC, work)
    ds = world_dataset(work / name)
    if not (ds / "train.json").is_file():
        tmp = work / name / "dataset.part"
        shutil.rmtree(tmp, ignore_errors=True)
        export_gt_dataset(world, tmp)
        shutil.rmtree(tmp / "tracklets")  # as flag_fit's build: the true boxes come from the world
        tmp.rename(ds)
    return world, ds


def excerpt(work: Path) -> tuple[dict, object]:
    """The excerpt's JSON object, and the builder that made it."""
    import numpy as np

    from annotations.builder import load_splits, video_jobs
    from movingfashion.media.video_source import VideoSource
    from movingfashion.world.flag_fit import build_config, cached_builder
    from movingfashion.world.scoring.tracklets import truth_boxes_for_dataset

    world, ds = prepared_world(work)
    builder = cached_builder(work / WORLD_SPEC.split("=", 1)[0] / "detections", build_config())
    jobs = [j for j in video_jobs(load_splits(ds)) if j.video_path == VIDEO]
    if not jobs:
        raise SystemExit(f"{ds}: no split file lists {VIDEO}; is {world} seed 9379's world?")
    job = jobs[0]
    shop = builder.shop_embedding(ds / job.img_path)
    src = VideoSource(ds / VIDEO, backend=builder.config.video_backend)
    try:
        dets, _ = builder.detect_video(src, defaultdict(float))
    finally:
        src.close()
    truth = truth_boxes_for_dataset(ds, world)[VIDEO]
    out = {
        "what": WHAT,
        "item_class": job.item_class,
        "frames": np.asarray(dets.frames).tolist(),
        "boxes": np.round(np.asarray(dets.boxes), 2).tolist(),
        "scores": np.round(np.asarray(dets.scores), 4).tolist(),
        "classes": np.asarray(dets.classes).tolist(),
        "embeddings": np.round(dets.embeddings.cpu().numpy(), 5).tolist(),
        "shop": np.round(shop.cpu().numpy(), 5).tolist(),
        "truth": {str(k): v for k, v in truth.items()},
    }
    return out, builder


def checks(d: dict, head: object) -> dict[str, object]:
    """The test's two tracklets checked against the truth: ``old`` (cover_penalty 0), ``new``."""
    import numpy as np
    import torch

    from annotations.config import TrackerConfig
    from annotations.qa import check_tracklet
    from annotations.tracking import VideoDetections, training_tracking
    from schemas.dataset import Tracklet

    dets = VideoDetections(
        np.array(d["frames"]),
        np.array(d["boxes"], np.float32),
        np.array(d["scores"], np.float32),
        np.array(d["classes"]),
        torch.tensor(d["embeddings"]),
    )
    res = {}
    for name, cfg in (("old", TrackerConfig(cover_penalty=0)), ("new", TrackerConfig())):
        tr = training_tracking(dets, head, torch.tensor(d["shop"]), cfg, item_class=d["item_class"])
        boxes = {int(dets.frames[m]): dets.boxes[m].tolist() for m in tr.members}
        tracklet = Tracklet(video="v.mp4", boxes=boxes, scores=dict.fromkeys(boxes, 0.5))
        res[name] = check_tracklet("v.mp4", tracklet, d["truth"])
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--work",
        type=Path,
        required=True,
        help="folder for the world, its dataset and the detections (WORK/v9379/...); a flag_fit "
        "--work folder holding v9379 is reused",
    )
    ap.add_argument(
        "--out", type=Path, default=OUT, help=f"the JSON written (default: {OUT.name} beside this script)"
    )
    args = ap.parse_args(argv)

    from schemas.atomic import atomic_write_text

    d, builder = excerpt(args.work)
    text = json.dumps(d, separators=(",", ":")) + "\n"
    atomic_write_text(args.out, text)
    print(f"wrote {args.out} ({len(text)} bytes, {len(d['frames'])} detections)")
    res = checks(json.loads(text), builder.matcher.m)
    for name, r in res.items():
        print(f"{name}: {r}")
    old, new = res["old"], res["new"]
    if old.passed or not (new.passed and new.contain_fraction == 1.0):
        print(
            "the video no longer shows the case: test_half_covered_shorts_of_a_world_are_boxed_on_"
            "their_visible_part needs the old ranking to fail and the new one to box the item on "
            "every frame; pick another half-covered shorts video (WORLD_SPEC, VIDEO)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # this checkout's packages
    sys.exit(main())
