"""Benchmark of the executors (issue 16): the same tracklet build and the same clean with ``local``
and with ``ray`` on this machine, then a simulated cluster for the full dataset.

1. Ratio here: wall time of ``local`` / wall time of ``ray`` (Ray started once, 2 CPUs, 2 workers),
   for ``mf clean`` (per-file work as Ray tasks) and ``mf-tracklets build`` (one detector + matcher
   per actor, worker start included). Goal: >= 0.8x (Ray's overhead is bounded); the outputs of the
   two runs are checked to be identical.
2. Overhead per task, measured: a no-op mapped as Ray tasks, and sent through a pool of actors.
3. Scaling table from a simulated cluster: the full dataset (14,855 videos of ~390 frames) over
   1, 8 and 64 workers of this machine's speed per worker (one CPU core each). Per-video costs are
   the ones measured in 1 (tracklets: each video's own detect/embed/track time; clean: its mean per
   video), scaled to 390 frames; videos go to the least loaded worker (longest first), each task
   pays the measured overhead, and the driver's own work per result (writing files, the catalog)
   is serial: the makespan is the larger of the two.

Usage: python benchmarks/bench_executor.py [--world DIR] [--products 12] [--stride 2]
(without --world a quick world is generated under /tmp once).
"""

from __future__ import annotations

import argparse
import heapq
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

#: The full MovingFashion dataset.
FULL_VIDEOS, FULL_FRAMES = 14_855, 390
WORKERS = (1, 8, 64)


def _noop(x: int) -> int:
    return x


def _noop_state(state: int, x: int) -> int:
    return x + state


def _zero() -> int:
    return 0


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def clean_once(world: Path, work: Path, executor) -> tuple[dict, float, Path]:
    from cleaning.pipeline import clean
    from movingfashion.world.seed import seed_catalog_from_world
    from schemas.catalog import Catalog

    shutil.rmtree(work, ignore_errors=True)
    cat_path, root = work / "catalog.sqlite", work / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(world, cat, root)
        report, seconds = timed(lambda: clean(cat, root, executor=executor))
    return report, seconds, cat_path


def build_once(
    dataset: Path, work: Path, stride: int, executor
) -> tuple[object, float, list[tuple[float, int]]]:
    """One build on a fresh copy; returns the report, the wall time and (busy seconds, frames) per video."""
    from annotations.builder import build_dataset_tracklets
    from annotations.config import BuildConfig

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(dataset, work)
    shutil.rmtree(work / "tracklets", ignore_errors=True)
    per_video: list[tuple[float, int]] = []
    last = {"busy": 0.0, "frames": 0}

    def on_video(job, outcome, rep):
        busy = sum(v for k, v in rep.timings.items() if k != "write")
        per_video.append((busy - last["busy"], rep.frames_detected - last["frames"]))
        last.update(busy=busy, frames=rep.frames_detected)

    rep, seconds = timed(
        lambda: build_dataset_tracklets(
            work, config=BuildConfig(stride=stride), on_video=on_video, executor=executor
        )
    )
    return rep, seconds, [p for p in per_video if p[1] > 0]


def asset_rows(path: Path) -> list[tuple]:
    """The catalog's asset rows without ids and timestamps."""
    import sqlite3

    with sqlite3.connect(path) as db:
        cols = [
            r[1]
            for r in db.execute("PRAGMA table_info(assets)")
            if r[1] not in ("id", "created_at", "updated_at")
        ]
        return sorted(db.execute(f"SELECT {', '.join(cols)} FROM assets").fetchall(), key=repr)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def makespan(costs: list[float], workers: int, overhead: float, driver_each: float) -> float:
    """Seconds for ``costs`` (one per video) on ``workers``: longest first to the least loaded."""
    loads = [0.0] * workers
    heapq.heapify(loads)
    for c in sorted(costs, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + c + overhead)
    return max(max(loads), driver_each * len(costs))


def hours(s: float) -> str:
    return f"{s / 3600:8.1f} h" if s >= 3600 else f"{s / 60:8.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", type=Path)
    ap.add_argument("--products", type=int, default=12)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the local run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    import ray

    from cleaning.steps.cache import ResultCache  # noqa: F401 - imported before timing starts
    from movingfashion.executors import LocalExecutor
    from movingfashion.executors.ray_backend import RayExecutor
    from movingfashion.world import export_gt_dataset, generate_world

    world = args.world
    if world is None:
        world = Path(tempfile.gettempdir()) / f"mf-bench-executor-world-{args.products}"
        generate_world(world, products=args.products, seed=0, quick=True)
    work = Path(tempfile.mkdtemp(prefix="mf-bench-executor-"))
    try:
        dataset = work / "dataset"
        export_gt_dataset(world, dataset)
        _, start_s = timed(
            lambda: ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        )
        ray_ex = RayExecutor(workers=2)
        local_ex = LocalExecutor()
        print(f"Ray started in {start_s:.1f} s (once per run; not in the ratios below); 2 CPUs, 2 workers")

        # 1a. clean
        rep_l, clean_l, cat_l = clean_once(world, work / "clean-local", local_ex)
        rep_r, clean_r, cat_r = clean_once(world, work / "clean-ray", ray_ex)
        same_clean = rep_l == rep_r and asset_rows(cat_l) == asset_rows(cat_r)
        n_videos = sum(1 for p in (work / "clean-local" / "collected").rglob("*.mp4"))
        print(
            f"clean      : local {clean_l:6.1f} s, ray {clean_r:6.1f} s, ratio local/ray {clean_l / clean_r:4.2f}x "
            f"({n_videos} videos; identical output: {same_clean})"
        )
        # 1b. tracklets
        b_l, build_l, _ = build_once(dataset, work / "trk-local", args.stride, local_ex)
        b_r, build_r, per_video = build_once(dataset, work / "trk-ray", args.stride, ray_ex)
        same_trk = files_of(work / "trk-local") == files_of(work / "trk-ray")
        print(
            f"tracklets  : local {build_l:6.1f} s, ray {build_r:6.1f} s, ratio local/ray {build_l / build_r:4.2f}x "
            f"({b_r.processed} videos, {b_r.frames_detected} frames at stride {args.stride}; worker start "
            f"included; identical output: {same_trk})"
        )
        for name, ratio in (("clean", clean_l / clean_r), ("tracklets", build_l / build_r)):
            print(f"goal ray >= 0.8x local ({name}): {'OK' if ratio >= 0.8 else 'BELOW'}")

        # 2. overhead per task
        n = 400
        _, t_map = timed(lambda: ray_ex.map(_noop, list(range(n)), desc="noop"))
        with ray_ex.pool(_noop_state, setup=_zero, workers=2) as pool:
            t0 = time.perf_counter()
            for i in range(n):
                pool.submit(i, tag=i)
            list(pool.drain())
            t_pool = time.perf_counter() - t0
        o_map, o_pool = t_map / n, t_pool / n * 2  # the pool's two workers run in parallel
        print(
            f"overhead per task: {o_map * 1000:.1f} ms (mapped tasks), {o_pool * 1000:.1f} ms (pool of actors)"
        )

        # 3. simulated cluster on the full dataset
        per_frame = [busy / frames for busy, frames in per_video]
        trk_costs = np.array(per_frame) * FULL_FRAMES
        write_each = b_r.timings["write"] / max(1, b_r.processed)
        frames_world = b_l.frames_detected * args.stride / max(1, b_l.processed)  # frames per world video
        clean_each = clean_l / max(1, n_videos) * FULL_FRAMES / frames_world
        rng = np.random.default_rng(0)
        trk_full = list(rng.choice(trk_costs, FULL_VIDEOS))
        clean_full = [clean_each] * FULL_VIDEOS
        print(
            f"\nsimulated cluster: {FULL_VIDEOS} videos x {FULL_FRAMES} frames; per worker (one core of this "
            f"machine): tracklets {np.mean(trk_costs):.1f} s/video at stride 1 "
            f"({FULL_FRAMES / np.mean(trk_costs):.1f} frames/s), clean {clean_each:.1f} s/video; driver "
            f"{write_each * 1000:.0f} ms per result"
        )
        print(f"{'workers':>8} | {'tracklets':>11} | {'clean':>11} | speed-up (tracklets)")
        base = makespan(trk_full, 1, o_pool, write_each)
        for w in WORKERS:
            t_trk = makespan(trk_full, w, o_pool, write_each)
            t_cln = makespan(clean_full, w, o_map, 0.0)
            print(f"{w:>8} | {hours(t_trk):>11} | {hours(t_cln):>11} | {base / t_trk:6.1f}x")
        print(
            json.dumps(
                {
                    "ratio_clean": round(clean_l / clean_r, 3),
                    "ratio_tracklets": round(build_l / build_r, 3),
                    "overhead_ms": {"map": round(o_map * 1000, 2), "pool": round(o_pool * 1000, 2)},
                }
            )
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
