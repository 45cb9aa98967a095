"""A review pick, then the review queue built again (what the page does after each pick): the
split file's entry rewritten alone, the queue refresh checking no box again.

Generates, in a temp folder, a ``train.json`` of ``--videos`` one-video products of ``--boxes``
boxes each (``bench_review_queue.make_archive``, no ``tracklets/``: the real archive as
downloaded), builds the queue once (the page's start), then times ``--repeat`` rounds of one pick
(a video's ground truth put into the split file: ``set_official_tracklets``) followed by
``build_queue``. The baseline, in the same run, is the old way: the split file read and written
whole for the pick (``read_official`` / ``write_official``), so the queue built next scans and
checks every box again. The ratio is the baseline's CPU time over the new way's, per round
(best of ``--repeat``); the queue refresh alone is printed too.

Usage: python benchmarks/bench_pick_refresh.py [--videos 3000] [--boxes 390] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_review_queue import make_archive  # noqa: E402
from timing import best_of  # noqa: E402

from annotations.review.queue import build_queue  # noqa: E402
from annotations.tracklet_files import _set_entries, set_official_tracklets  # noqa: E402
from schemas.official import read_official, write_official  # noqa: E402


@dataclass
class _Pick:
    """A video's new ground truth (what a pick puts into the split file)."""

    product_id: str
    video: str
    boxes: dict[str, list[float]]

    def official(self) -> dict[str, list[float]]:
        return self.boxes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=3_000)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    rounds = iter(range(1_000_000))

    def pick(root: Path) -> _Pick:  # a different video and boxes each round
        n = next(rounds)
        pid = f"{(n * 7919) % args.videos:07d}"
        return _Pick(
            pid, f"videos/{pid}_0.mp4", {str(f): [f, 1, f + 10 + n % 5, 20] for f in range(args.boxes)}
        )

    with tempfile.TemporaryDirectory() as tmp:
        root = make_archive(Path(tmp), args.videos, args.boxes)
        build_queue(root, sample_rate=0.1)  # the page's start: the heads read once
        refresh: dict[str, float] = {}

        def new() -> Any:
            set_official_tracklets(root, [pick(root)])
            c = time.process_time()
            q = build_queue(root, sample_rate=0.1)
            refresh["new"] = min(refresh.get("new", 1e9), time.process_time() - c)
            return q

        def old() -> Any:  # the pick read and wrote the split file whole
            p = root / "train.json"
            split = read_official(p)
            if _set_entries(split, {("x", "y"): pick(root)}):
                write_official(p, split)
            c = time.process_time()
            q = build_queue(root, sample_rate=0.1)
            refresh["old"] = min(refresh.get("old", 1e9), time.process_time() - c)
            return q

        old_cpu, old_wall, q_old = best_of(old, args.repeat)
        new_cpu, new_wall, q_new = best_of(new, args.repeat)
        assert len(q_old.items) == len(q_new.items)
    print(
        f"one pick then the queue built again, {args.videos} videos x {args.boxes} boxes: {new_cpu:.3f} s CPU,"
        f" {new_wall:.3f} s wall (queue refresh {refresh['new']:.3f} s CPU; best of {args.repeat});"
        f" split file read and written whole (baseline) {old_cpu:.3f} s CPU, {old_wall:.3f} s wall"
        f" (queue refresh {refresh['old']:.3f} s CPU); ratio {old_cpu / max(new_cpu, 1e-6):.1f}x CPU,"
        f" refresh alone {refresh['old'] / max(refresh['new'], 1e-6):.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
