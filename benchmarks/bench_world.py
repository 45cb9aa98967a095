"""Benchmark: world generation with a pool of 2 processes vs one process (same world, same run).

Prints seconds for each and the speed-up ratio, plus rendering cost per frame. The two worlds
must be byte-identical (same seed): the script compares every file of the two folders (same
relative paths, same SHA-256), names the first differences and exits 1 when there is one.

    python benchmarks/bench_world.py [--products 24] [--full]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path


def file_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root``, by path relative to it."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths whose files differ between the folders ``a`` and ``b`` (or are in one only)."""
    ha, hb = file_hashes(a), file_hashes(b)
    return sorted(k for k in set(ha) | set(hb) if ha.get(k) != hb.get(k))


def main() -> int:
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
        diffs = differences(Path(tmp, "w1"), Path(tmp, "w2"))
        files = len(file_hashes(Path(tmp, "w1")))
        frames = sum(v.frames for v in truths[1].videos)
    print(f"world: {args.products} products, {'quick' if quick else 'full'} clips, {frames} frames (H.264)")
    print(
        f"baseline, 1 process : {times[1]:6.1f} s  ({1000 * times[1] / frames:.1f} ms per frame, all included)"
    )
    print(f"pool of 2 processes : {times[2]:6.1f} s")
    print(f"ratio               : {times[1] / times[2]:.2f}x")
    if diffs:
        print(f"NOT byte-identical: {len(diffs)} of {files} files differ, e.g. {', '.join(diffs[:5])}")
        return 1
    print(f"identical output    : all {files} files byte-identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
