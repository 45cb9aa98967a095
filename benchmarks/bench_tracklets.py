"""Benchmark of the tracklet builder, per video resolution, on the synthetic world or any dataset.

1. Throughput per resolution: frames/s of detection alone (frames decoded beforehand, batched
   detector) vs the whole builder (decode in a prefetch thread + detect + embed + track), the
   builder / detection time ratio (goal <= 1.15x), the matcher's embedding as a share of
   detection time and the tracking overhead (target <= 10%).
2. Tracker: the vectorised tracker (one score matrix per video) vs a naive per-detection-pair
   loop on identical detections; checks the tracklets are the same and prints the ratio.

Usage: python benchmarks/bench_tracklets.py [--world DIR | --dataset DIR] [--videos 12] [--stride 1]
(without either, a quick 20-product world is generated once under the temp folder;
``--dataset build/real-clips/dataset`` runs on real clips of several resolutions, see
``benchmarks/real_clips.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
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
    ap.add_argument("--dataset", type=Path, help="an official-format folder instead of a world")
    ap.add_argument("--videos", type=int, default=12, help="videos per resolution")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    world = args.world
    if world is None and args.dataset is None:
        from movingfashion.world import generate_world

        world = Path(tempfile.gettempdir()) / f"mf-bench-world-{os.getuid()}"
        generate_world(world, products=20, seed=0, quick=True)
    work = Path(tempfile.mkdtemp(prefix="mf-bench-tracklets-"))
    try:
        ds = args.dataset if args.dataset is not None else dataset_from_world(world, work)
        cfg = BuildConfig(stride=args.stride)
        det = build_detector("ultralytics", None, cfg.detector)
        builder = TrackletBuilder(det, load_matcher(None, device=det.device), cfg)
        by_size: dict[str, list] = {}
        for j in video_jobs(load_splits(ds)):
            src = VideoSource(ds / j.video_path)
            key = f"{src.width}x{src.height}"
            src.close()
            if len(by_size.setdefault(key, [])) < args.videos:
                by_size[key].append(j)
        jobs = [j for js in by_size.values() for j in js]
        print(f"device {det.device}, {len(jobs)} videos, stride {args.stride}, detector {det.version}")
        print(
            f"{'resolution':<11}{'videos':>7}{'frames':>7}{'det fps':>9}{'builder fps':>12}"
            f"{'builder/det':>12}{'embed/det':>10}{'track/det':>10}"
        )
        det.detect(np.zeros((2, 64, 64, 3), np.uint8))  # warm-up
        worst = 0.0
        for key, js in by_size.items():
            # 1a. detection alone on pre-decoded frames
            decoded = []
            for j in js:
                src = VideoSource(ds / j.video_path)
                decoded.append(src.get_batch(frame_indices(src.frames, args.stride)))
                src.close()
            n = sum(len(f) for f in decoded)
            t = time.perf_counter()
            for frames in decoded:
                det.detect(frames)
            det_s = time.perf_counter() - t
            del decoded
            # 1b. the whole builder (decode thread + detect + embed + track) on the same videos
            timings = {"decode_wait": 0.0, "detect": 0.0, "embed": 0.0, "track": 0.0, "write": 0.0}
            t = time.perf_counter()
            for j in js:
                builder.process(ds, j, timings)
            whole_s = time.perf_counter() - t
            worst = max(worst, whole_s / det_s)
            print(
                f"{key:<11}{len(js):>7}{n:>7}{n / det_s:>9.1f}{n / whole_s:>12.1f}{whole_s / det_s:>11.2f}x"
                f"{timings['embed'] / timings['detect']:>10.0%}{timings['track'] / timings['detect']:>10.1%}"
            )
        print(
            f"builder / detection alone, worst resolution: {worst:.2f}x (goal <= 1.15x): "
            f"{'OK' if worst <= 1.15 else 'NOT MET'}"
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
