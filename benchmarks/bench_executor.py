"""Benchmark of the executors (issue 16): the same clean and the same tracklet build with ``local``
and with ``ray`` on this machine, then a simulated cluster for the full dataset.

1. Ratio here: wall time of ``local`` / wall time of ``ray`` for ``mf clean`` (per-file work as Ray
   tasks) and ``mf-tracklets build`` (one detector + matcher per worker). Each run is a fresh
   process, as a command is: it imports its libraries and loads its models, and so do the Ray
   workers it starts (the models: once per worker). Ray itself is started once (2 CPUs), as on a
   cluster, and its start is reported apart. Runs alternate; the best of ``--repeat`` counts.
   Goal: >= 0.8x (Ray's overhead is bounded); the two outputs are checked to be identical (when
   they differ the goal is NOT MET and the script exits 1 after printing everything).
2. Overhead per task, measured on warm workers: a no-op mapped as Ray tasks, and sent through a
   pool of actors.
3. Scaling table from a simulated cluster: the full dataset (14,855 videos of ~390 frames) over
   1, 8 and 64 workers of this machine's speed per worker (one CPU core each). Per-video costs are
   the ones measured in 1 (tracklets: each video's own decode/detect/embed/track time; clean: its
   mean per video), scaled to 390 frames; videos go to the least loaded worker (longest first),
   each task pays the measured overhead, workers start once (measured), and the driver's own work
   per result (writing files) is serial: the makespan is the larger of the two.

Usage: python benchmarks/bench_executor.py [--world DIR] [--products 20] [--stride 2] [--repeat 2]
(without --world a quick world is generated under /tmp once).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The full MovingFashion dataset.
FULL_VIDEOS, FULL_FRAMES = 14_855, 390
WORKERS = (1, 8, 64)


def _noop(x: int) -> int:
    return x


def _noop_state(state: int, x: int) -> int:
    return x + state


def _zero() -> int:
    return 0


def make_executor(name: str):
    from movingfashion.executors import LocalExecutor
    from movingfashion.executors.ray_backend import RayExecutor

    return LocalExecutor() if name == "local" else RayExecutor(workers=2)


def clean_once(world: Path, work: Path, executor: str) -> dict:
    """One ``mf clean`` (seeding the catalog is not timed)."""
    from cleaning.pipeline import clean
    from movingfashion.world.seed import seed_catalog_from_world
    from schemas.catalog import Catalog

    cat_path, root = work / "catalog.sqlite", work / "collected"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(world, cat, root)
        t = time.perf_counter()
        with make_executor(executor) as ex:
            join = time.perf_counter() - t
            clean(cat, root, executor=ex)
        seconds = time.perf_counter() - t - join
    return {"seconds": seconds, "join": join, "videos": sum(1 for _ in root.rglob("*.mp4"))}


def build_once(dataset: Path, work: Path, executor: str, stride: int) -> dict:
    """One ``mf-tracklets build`` on a fresh copy; with (busy seconds, frames) per video."""
    from annotations.builder import build_dataset_tracklets
    from annotations.config import BuildConfig

    shutil.copytree(dataset, work)
    shutil.rmtree(work / "tracklets", ignore_errors=True)
    per_video: list[tuple[float, int]] = []
    last = {"busy": 0.0, "frames": 0}

    def on_video(job, outcome, rep):
        busy = sum(v for k, v in rep.timings.items() if k != "write")
        per_video.append((busy - last["busy"], rep.frames_detected - last["frames"]))
        last.update(busy=busy, frames=rep.frames_detected)

    t = time.perf_counter()
    with make_executor(executor) as ex:
        join = time.perf_counter() - t
        rep = build_dataset_tracklets(work, config=BuildConfig(stride=stride), on_video=on_video, executor=ex)
    seconds = time.perf_counter() - t - join
    return {
        "seconds": seconds,
        "join": join,
        "videos": rep.processed,
        "frames": rep.frames_detected,
        "write": rep.timings["write"],
        "per_video": [p for p in per_video if p[1] > 0],
    }


def worker_start(stride: int) -> dict:
    """Seconds to start 2 tracklet workers (each loads a detector and a matcher)."""
    from functools import partial

    from annotations.builder import BuilderSpec, make_builder, process_video
    from annotations.config import BuildConfig
    from movingfashion.executors import WorkerResources

    spec = BuilderSpec("ultralytics", None, None, BuildConfig(stride=stride))
    with make_executor("ray") as ex:
        t = time.perf_counter()
        ex.pool(process_video, setup=partial(make_builder, spec), resources=WorkerResources(1.0, 0.0)).close()
        return {"seconds": time.perf_counter() - t}


def overheads() -> dict:
    """Per-task overhead on warm workers: mapped Ray tasks, and a pool of two actors."""
    n = 400
    with make_executor("ray") as ex:
        ex.map(_noop, list(range(n)), desc="warm-up")
        t = time.perf_counter()
        ex.map(_noop, list(range(n)), desc="noop")
        t_map = time.perf_counter() - t
        with ex.pool(_noop_state, setup=_zero, workers=2) as pool:
            t = time.perf_counter()
            for i in range(n):
                pool.submit(i, tag=i)
            list(pool.drain())
            t_pool = time.perf_counter() - t
    return {"map": t_map / n * 2, "pool": t_pool / n * 2}  # per task and worker (two at once)


def child(argv: list[str]) -> None:
    """``--one WHAT EXECUTOR WORK ...``: one measurement in this fresh process, as JSON on stdout."""
    what, executor, work, source, stride = argv[0], argv[1], Path(argv[2]), Path(argv[3]), int(argv[4])
    if what == "clean":
        out = clean_once(source, work, executor)
    elif what == "tracklets":
        out = build_once(source, work, executor, stride)
    elif what == "start":
        out = worker_start(stride)
    else:
        out = overheads()
    print("RESULT " + json.dumps(out))


def measure(what: str, executor: str, work: Path, source: Path, stride: int, env: dict[str, str]) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    cmd = [sys.executable, __file__, "--one", what, executor, str(work), str(source), str(stride)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{what} with {executor} failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def asset_rows(path: Path) -> list[tuple]:
    """The catalog's asset rows without ids and timestamps."""
    import sqlite3

    with sqlite3.connect(path) as db:
        skip = ("id", "created_at", "updated_at")
        cols = [r[1] for r in db.execute("PRAGMA table_info(assets)") if r[1] not in skip]
        return sorted(db.execute(f"SELECT {', '.join(cols)} FROM assets").fetchall(), key=repr)


def makespan(costs: list[float], workers: int, overhead: float, start: float, driver_each: float) -> float:
    """Seconds for ``costs`` (one per video) on ``workers``: longest first to the least loaded."""
    loads = [start] * workers
    heapq.heapify(loads)
    for c in sorted(costs, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + c + overhead)
    return max(max(loads), driver_each * len(costs))


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def goal_lines(ratios: dict[str, float], same: dict[str, bool]) -> list[str]:
    """The goal verdict per stage; a stage whose two outputs differ gets no OK (its ratio compares
    different work)."""
    out = []
    for stage, ratio in ratios.items():
        verdict = "OK" if ratio >= 0.8 else "BELOW"
        if not same[stage]:
            verdict = f"NOT MET (local and ray outputs differ; ratio {ratio:.2f}x not comparable)"
        out.append(f"goal ray >= 0.8x local ({stage}): {verdict}")
    return out


def check_same(same: dict[str, bool]) -> None:
    """Exit non-zero (after everything was printed) when an executor's output differs from local's."""
    differ = [stage for stage, ok in same.items() if not ok]
    if differ:
        raise SystemExit(f"bench_executor: local and ray outputs differ for {', '.join(differ)}")


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", type=Path)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--stride", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each executor (the best one counts)")
    args = ap.parse_args()

    import ray

    from movingfashion.world import export_gt_dataset, generate_world

    world = args.world
    if world is None:
        from schemas.errors import ConfigError

        world = Path(tempfile.gettempdir()) / f"mf-bench-executor-world-{args.products}"
        try:
            generate_world(world, products=args.products, seed=0, quick=True)  # kept between runs
        except ConfigError:  # a world of another version of the generator is there: a new folder
            world = Path(tempfile.mkdtemp(prefix=f"mf-bench-executor-world-{args.products}-"))
            generate_world(world, products=args.products, seed=0, quick=True)
    work = Path(tempfile.mkdtemp(prefix="mf-bench-executor-"))
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the measuring processes join this machine's Ray
    try:
        dataset = work / "dataset"
        export_gt_dataset(world, dataset)
        t = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t
        env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address}
        root = Path(__file__).resolve().parents[1]
        env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
        print(f"Ray started in {start_s:.1f} s (once, as on a cluster; not in the ratios); 2 CPUs, 2 workers")

        # 1. the same runs with each executor, alternating, in fresh processes
        runs: dict[str, dict[str, list[dict]]] = {s: {"local": [], "ray": []} for s in ("clean", "tracklets")}
        same = {"clean": True, "tracklets": True}
        for _ in range(args.repeat):
            for ex in ("local", "ray"):
                runs["clean"][ex].append(measure("clean", ex, work / f"clean-{ex}", world, args.stride, env))
            same["clean"] &= asset_rows(work / "clean-local" / "catalog.sqlite") == asset_rows(
                work / "clean-ray" / "catalog.sqlite"
            )
            for ex in ("local", "ray"):
                runs["tracklets"][ex].append(
                    measure("tracklets", ex, work / f"trk-{ex}", dataset, args.stride, env)
                )
            same["tracklets"] &= files_of(work / "trk-local") == files_of(work / "trk-ray")
        start = measure("start", "ray", work / "start", dataset, args.stride, env)["seconds"]
        ratios = {}
        for stage, got in runs.items():
            best = {ex: min(r["seconds"] for r in rs) for ex, rs in got.items()}
            ratios[stage] = best["local"] / best["ray"]
            r = got["ray"][0]
            what = f"{r['videos']} videos" + (
                f", {r['frames']} frames at stride {args.stride}" if stage == "tracklets" else ""
            )
            seen = "; ".join(
                f"{ex} " + ", ".join(f"{x['seconds']:.1f}" for x in rs) for ex, rs in got.items()
            )
            print(
                f"{stage:<9}: local {best['local']:6.1f} s, ray {best['ray']:6.1f} s, ratio local/ray "
                f"{ratios[stage]:4.2f}x ({what}; identical output: {same[stage]}; runs {seen})"
            )
        joins = [r["join"] for st in runs.values() for r in st["ray"]]
        print(
            f"not in the ratios: joining the running Ray took {min(joins):.1f}-{max(joins):.1f} s per command; "
            f"in them: starting the 2 tracklet workers (models loaded in each) took {start:.1f} s"
        )
        for line in goal_lines(ratios, same):
            print(line)

        # 2. overhead per task
        o = measure("overhead", "ray", work / "overhead", dataset, args.stride, env)
        print(
            f"overhead per task: {o['map'] * 1000:.1f} ms (mapped tasks), {o['pool'] * 1000:.1f} ms (pool of actors)"
        )

        # 3. simulated cluster on the full dataset
        ray_runs = runs["tracklets"]["ray"]
        per_frame = [busy / frames for r in ray_runs for busy, frames in r["per_video"]]
        trk_costs = np.array(per_frame) * FULL_FRAMES
        write_each = min(r["write"] / max(1, r["videos"]) for r in ray_runs)
        local_trk = runs["tracklets"]["local"][0]
        frames_world = local_trk["frames"] * args.stride / max(1, local_trk["videos"])
        clean_best = min(r["seconds"] for r in runs["clean"]["local"])
        clean_each = clean_best / max(1, runs["clean"]["local"][0]["videos"]) * FULL_FRAMES / frames_world
        rng = np.random.default_rng(0)
        trk_full = list(rng.choice(trk_costs, FULL_VIDEOS))
        clean_full = [clean_each] * FULL_VIDEOS
        print(
            f"\nsimulated cluster: {FULL_VIDEOS} videos x {FULL_FRAMES} frames; per worker (one core of this "
            f"machine): tracklets {np.mean(trk_costs):.0f} s/video at stride 1 "
            f"({FULL_FRAMES / np.mean(trk_costs):.1f} frames/s), clean {clean_each:.1f} s/video; worker start "
            f"{start:.0f} s; driver {write_each * 1000:.0f} ms per result"
        )
        print(f"{'workers':>8} | {'tracklets':>10} | {'clean':>10} | speed-up (tracklets)")
        base = makespan(trk_full, 1, o["pool"], start, write_each)
        for w in WORKERS:
            t_trk = makespan(trk_full, w, o["pool"], start, write_each)
            t_cln = makespan(clean_full, w, o["map"], 0.0, 0.0)
            print(f"{w:>8} | {hours(t_trk):>10} | {hours(t_cln):>10} | {base / t_trk:6.1f}x")
        print(
            json.dumps(
                {
                    "ratio_clean": round(ratios["clean"], 3),
                    "ratio_tracklets": round(ratios["tracklets"], 3),
                    "worker_start_s": round(start, 1),
                    "overhead_ms": {k: round(v * 1000, 2) for k, v in o.items()},
                }
            )
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    check_same(same)


if __name__ == "__main__":
    main()
