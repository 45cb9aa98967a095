"""Reading every video's own entry of a split file, one at a time (what showing each video of the
review queue does, or converting all of them).

Generates, in a temp folder, a ``train.json`` of ``--videos`` one-video products of ``--boxes``
boxes each (default 15,000 x 390, the real archive's scale; ``bench_review_queue.make_archive``),
then reads each product's entry with :func:`schemas.official.read_official_entry`: where each
entry is was kept by one scan of the file, built in the measured time. The baseline, in the same
run, is the old way: each entry found by searching the file's bytes from its start
(``schemas.official._entry_alone``, still the fallback), quadratic over the file; it is timed on
``--sample`` products spread evenly over the file and scaled to all of them. The ratio is the
baseline's CPU time over the new way's, for every video.

Usage: python benchmarks/bench_entry_reads.py [--videos 15000] [--boxes 390] [--sample 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_review_queue import make_archive  # noqa: E402
from timing import best_of  # noqa: E402

import schemas.official as official  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=15_000)
    ap.add_argument("--boxes", type=int, default=390)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_archive(Path(tmp), args.videos, args.boxes) / "train.json"
        identity = official.split_identity(path)
        pids = [f"{i:07d}" for i in range(args.videos)]
        step = max(1, args.videos // max(1, args.sample))
        sample = pids[step // 2 :: step]

        def old() -> Any:  # the identity check and a search from the file's start, per entry
            for pid in sample:
                assert official._file_identity(path) == identity
                entry = official._entry_alone(path, pid, f"videos/{pid}_0.mp4")
                assert entry is not None

        def new() -> Any:  # every entry, where the entries are found by one scan (not kept yet)
            official._entry_spans.clear()
            for pid in pids:
                assert official.read_official_entry(path, pid, f"videos/{pid}_0.mp4", identity=identity)

        old_cpu, old_wall, _ = best_of(old, args.repeat)
        new_cpu, new_wall, _ = best_of(new, args.repeat)
    scale = args.videos / len(sample)
    print(
        f"every entry of a {args.videos}-product split ({args.boxes} boxes each) read alone: "
        f"{new_cpu:.2f} s CPU, {new_wall:.2f} s wall ({new_cpu / args.videos * 1e3:.2f} ms a video, one scan included);"
        f" searched from the file's start (baseline) {old_cpu / len(sample) * 1e3:.2f} ms a video"
        f" (timed on {len(sample)}), {old_cpu * scale:.1f} s CPU, {old_wall * scale:.1f} s wall for all;"
        f" ratio {old_cpu * scale / max(new_cpu, 1e-6):.1f}x CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
