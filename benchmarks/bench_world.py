"""Benchmark: world generation with a pool of 2 processes vs one process (same world, same run).

Prints seconds for each and the speed-up ratio, plus rendering cost per frame. The two worlds
must be byte-identical (same seed), which the script checks.

    python benchmarks/bench_world.py [--products 24] [--full]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--products", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--full", action="store_true", help="full-length clips (default: quick)")
    args = ap.parse_args()
    from movingfashion.world.generate import generate_world

    quick = not args.full
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        truths = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            truths[workers] = generate_world(
                Path(tmp, f"w{workers}"), args.products, args.seed, quick=quick, workers=workers
            )
            times[workers] = time.perf_counter() - t0
        same = [v.sha256 for v in truths[1].videos] == [v.sha256 for v in truths[2].videos]
        frames = sum(v.frames for v in truths[1].videos)
    print(f"world: {args.products} products, {'quick' if quick else 'full'} clips, {frames} frames (H.264)")
    print(
        f"baseline, 1 process : {times[1]:6.1f} s  ({1000 * times[1] / frames:.1f} ms per frame, all included)"
    )
    print(f"pool of 2 processes : {times[2]:6.1f} s")
    print(f"ratio               : {times[1] / times[2]:.2f}x   identical output: {same}")


if __name__ == "__main__":
    main()
