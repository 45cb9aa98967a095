"""The review queue of an archive without ``tracklets/`` (the real one as downloaded).

Generates, in a temp folder, a ``train.json`` of ``--videos`` products of one video each holding
a tracklet of ``--boxes`` boxes (default 15,000 x 390, the real archive's scale), then measures in
this process: ``build_queue`` (process CPU and wall-clock seconds, best of ``--repeat``), the
memory the queue keeps once built (``tracemalloc``, measured apart on ``--traced`` products and
scaled up: tracing slows the build tenfold), and what showing one video costs (its boxes
converted from the split file: ``item.split_boxes``). The baseline, in the same run, is the old
way: the split files parsed whole and every video's boxes converted up front; the ratio is its
CPU time over the queue's first build (what the split files' heads read keeps is dropped before
each); a build again over the same split files is printed apart.

Usage: python benchmarks/bench_review_queue.py [--videos 15000] [--boxes 390] [--traced 1500]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from split_bench import random_tracklet, write_dataset  # noqa: E402
from timing import best_of  # noqa: E402

import schemas.official as official  # noqa: E402
from annotations.review.queue import build_queue  # noqa: E402
from annotations.tracklet_files import load_splits  # noqa: E402
from movingfashion.frame_boxes import FrameBoxes  # noqa: E402


def make_archive(root: Path, videos: int, boxes: int, seed: int = 0) -> Path:
    """``root`` with a train.json of ``videos`` one-video products, each with its tracklet."""
    rng = random.Random(seed)
    train = {
        f"{i:07d}": {
            "video_paths": [f"videos/{i:07d}_0.mp4"],
            "img_path": f"imgs/{i:07d}.jpg",
            "source": i % 2,
            "tracklets": [random_tracklet(rng, boxes)],
        }
        for i in range(videos)
    }
    return write_dataset(root, {"train": train})


def kept_bytes(root: Path) -> int:
    """The bytes a queue of ``root`` keeps once built, with what the split files' heads read keeps
    for the next build (traced, after the split file is freed); a build before, untraced,
    imports what the first one imports (modules are no part of a queue)."""
    build_queue(root, sample_rate=0.1)
    official._entry_spans.clear()  # what the heads read keeps for the next build counts as kept
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    q = build_queue(root, sample_rate=0.1)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del q
    return kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=15_000)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--traced", type=int, default=1_500)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        small = make_archive(Path(tmp) / "small", args.traced, args.boxes)
        per_video = kept_bytes(small) / args.traced
        root = make_archive(Path(tmp) / "big", args.videos, args.boxes)

        def lazy() -> Any:  # a first build: nothing kept from an earlier read of the split files
            official._entry_spans.clear()
            return build_queue(root, sample_rate=0.1)

        def eager() -> Any:  # the old way: the split files parsed whole, every video's boxes converted
            official._entry_spans.clear()
            boxes = [
                FrameBoxes.of(entry.tracklet_boxes(i))
                for split in load_splits(root).values()
                for entry in split.values()
                for i in range(len(entry.video_paths))
            ]
            return build_queue(root, sample_rate=0.1), boxes

        old_cpu, old_wall, _ = best_of(eager, args.repeat)
        best_cpu, best_wall, q = best_of(lazy, args.repeat)
        again_cpu, _, _ = best_of(lambda: build_queue(root, sample_rate=0.1), args.repeat)  # files unchanged
        it = q.items[len(q.items) // 2]
        c, w = time.process_time(), time.perf_counter()
        n = len(it.split_boxes or {})
        show_cpu, show_wall = time.process_time() - c, time.perf_counter() - w
    print(
        f"build_queue, {args.videos} videos x {args.boxes} boxes without tracklet files: {best_cpu:.2f} s CPU,"
        f" {best_wall:.2f} s wall (best of {args.repeat}); split files parsed whole, every video converted (baseline)"
        f" {old_cpu:.2f} s CPU, {old_wall:.2f} s wall; ratio {old_cpu / max(best_cpu, 1e-6):.2f}x CPU;"
        f" built again over the same split files {again_cpu:.2f} s CPU;"
        f" the queue keeps {per_video / 1e3:.1f} kB a video"
        f" (~{per_video * args.videos / 1e6:.0f} MB at {args.videos}; traced on {args.traced});"
        f" one video's {n} boxes shown: {show_cpu * 1e3:.1f} ms CPU, {show_wall * 1e3:.1f} ms wall"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
