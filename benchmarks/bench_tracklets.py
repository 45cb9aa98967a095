"""Benchmark of the tracklet builder (issue 6), on H.264 videos of the synthetic world.

1. Throughput: frames/s of detection alone (frames decoded beforehand, batched detector) vs the
   whole builder (decode in a prefetch thread + detect + embed + track + write); the tracking
   overhead (the tracker itself) as a share of detection time (target <= 10%).
2. Tracker: the vectorised tracker (one score matrix per video) vs a naive per-detection-pair
   loop on identical detections; checks the tracklets are the same and prints the ratio.

Usage: python benchmarks/bench_tracklets.py [--world DIR] [--videos 12] [--stride 1]
(without --world a quick 20-product world is generated under /tmp once).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the per-pair reference lives in tests/

from annotations.builder import TrackletBuilder, load_splits, video_jobs  # noqa: E402
from annotations.config import BuildConfig  # noqa: E402
from annotations.tracking import inference_tracking, similarity, training_tracking  # noqa: E402
from movingfashion.media.video_source import VideoSource, frame_indices  # noqa: E402
from movingfashion.models import load_matcher  # noqa: E402
from movingfashion.models.detectors import build_detector  # noqa: E402
from tests.annotations.naive_tracking import naive_inference_tracking, naive_training_tracking  # noqa: E402


def dataset_from_world(world: Path, out: Path) -> Path:
    from movingfashion.world import export_gt_dataset

    full = out / "full"
    if not (full / "train.json").is_file():
        export_gt_dataset(world, full)
    return full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", type=Path)
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    world = args.world
    if world is None:
        from movingfashion.world import generate_world

        world = Path(tempfile.gettempdir()) / "mf-bench-world"
        generate_world(world, products=20, seed=0, quick=True)
    work = Path(tempfile.mkdtemp(prefix="mf-bench-tracklets-"))
    try:
        ds = dataset_from_world(world, work)
        jobs = video_jobs(load_splits(ds))[: args.videos]
        cfg = BuildConfig(stride=args.stride)
        det = build_detector("ultralytics", None, cfg.detector)
        builder = TrackletBuilder(det, load_matcher(None, device=det.device), cfg)
        print(f"device {det.device}, {len(jobs)} videos, stride {args.stride}, detector {det.version}")

        # 1a. detection alone on pre-decoded frames
        decoded = []
        for j in jobs:
            src = VideoSource(ds / j.video_path)
            decoded.append(src.get_batch(frame_indices(src.frames, args.stride)))
            src.close()
        det.detect(decoded[0][:2])  # warm-up
        n = sum(len(f) for f in decoded)
        t = time.perf_counter()
        for frames in decoded:
            det.detect(frames)
        det_s = time.perf_counter() - t
        # 1b. the whole builder (decode thread + detect + embed + track) on the same videos
        t = time.perf_counter()
        timings = {"decode_wait": 0.0, "detect": 0.0, "embed": 0.0, "track": 0.0, "write": 0.0}
        for j in jobs:
            builder.process(ds, j, timings)
        whole_s = time.perf_counter() - t
        print(f"detection alone : {n / det_s:7.1f} frames/s ({det_s:.2f} s for {n} frames)")
        print(
            f"whole builder   : {n / whole_s:7.1f} frames/s ({whole_s:.2f} s); phases "
            + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
        )
        print(
            f"builder / detection-alone time ratio: {whole_s / det_s:.2f}x "
            f"(the matcher's crop embedding is {timings['embed'] / timings['detect']:.0%} of detection time)"
        )
        ratio = timings["track"] / timings["detect"]
        print(
            f"tracking overhead: {ratio:.1%} of detection time (target <= 10%): {'OK' if ratio <= 0.10 else 'OVER'}"
        )

        # 2. vectorised vs naive tracker on identical detections
        all_dets = []
        for j in jobs:
            src = VideoSource(ds / j.video_path)
            d, _ = builder.detect_video(src, dict.fromkeys(timings, 0.0))
            src.close()
            all_dets.append((d, builder.shop_embedding(ds / j.img_path)))
        head = builder.matcher.m
        tc = cfg.tracker
        t = time.perf_counter()
        fast = []
        for d, shop in all_dets:
            sim = similarity(head, d.embeddings) if len(d) else None
            fast.append(
                (inference_tracking(d, head, tc, sim=sim), training_tracking(d, head, shop, tc, sim=sim))
            )
        fast_s = time.perf_counter() - t
        t = time.perf_counter()
        slow = [
            (naive_inference_tracking(d, head, tc), naive_training_tracking(d, head, shop, tc))
            for d, shop in all_dets
        ]
        slow_s = time.perf_counter() - t
        same = all(
            [x.members.tolist() for x in a[0]] == [x.members.tolist() for x in b[0]]
            and (a[1] is None) == (b[1] is None)
            and (a[1] is None or a[1].members.tolist() == b[1].members.tolist())
            for a, b in zip(fast, slow, strict=True)
        )
        ndet = sum(len(d) for d, _ in all_dets)
        print(
            f"tracker on {ndet} detections: vectorised {fast_s * 1000:.1f} ms, naive {slow_s * 1000:.1f} ms, "
            f"ratio {slow_s / fast_s:.1f}x, same tracklets: {same}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
