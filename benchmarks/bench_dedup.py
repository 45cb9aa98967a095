"""Near-duplicate search over 64-bit perceptual hashes: multi-index hashing vs all pairs.

For N in 1K / 10K / 100K random codes with 1% planted near-duplicates (0..radius flipped
bits), time :class:`cleaning.mih.MultiIndexHash` ``pairs(radius)`` against the brute-force
baseline (numpy popcount over every pair). At 100K the all-pairs time is *estimated* from a
measured sample of rows (cost is linear in the rows scanned); the pairs found by both are
compared on the rows that were scanned. Run: ``.venv/bin/python benchmarks/bench_dedup.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cleaning.config import DedupConfig  # noqa: E402
from cleaning.mih import MultiIndexHash, all_pairs  # noqa: E402


def make_codes(n: int, radius: int, seed: int = 0) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, n, dtype=np.uint64)
    planted = max(1, n // 100)
    src = rng.choice(n, planted, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), planted, replace=False)
    for i, j in zip(src, dst, strict=True):
        c = codes[i]
        for b in rng.choice(64, int(rng.integers(0, radius + 1)), replace=False):
            c ^= np.uint64(1) << np.uint64(b)
        codes[j] = c
    return codes, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--sample-rows", type=int, default=2000, help="rows scanned by all-pairs above 20K codes")
    args = ap.parse_args()
    cfg = DedupConfig()
    radius, m = cfg.index_radius, cfg.index_chunks
    print(
        f"radius {radius} bits, multi-index hashing with m={m} substrings; CPU, numpy "
        f"{np.__version__}, one process"
    )
    print(f"{'N':>8} {'index s':>9} {'all-pairs s':>12} {'ratio':>8}  pairs  same-pairs  note")
    for n in (int(s) for s in args.sizes.split(",")):
        codes, planted = make_codes(n, radius)
        t0 = time.perf_counter()
        idx_pairs = MultiIndexHash(codes, m).pairs(radius)
        t_idx = time.perf_counter() - t0
        if n <= 20000:
            t0 = time.perf_counter()
            bf = all_pairs(codes, radius)
            t_bf = time.perf_counter() - t0
            same = np.array_equal(idx_pairs, bf)
            note = "measured"
        else:
            rows = np.sort(np.random.default_rng(1).choice(n, args.sample_rows, replace=False))
            t0 = time.perf_counter()
            bf = all_pairs(codes, radius, rows=rows)
            t_bf = (time.perf_counter() - t0) * n / len(rows)
            # the index's pairs whose first member is a scanned row must equal brute force on those rows
            mine = idx_pairs[np.isin(idx_pairs[:, 0], rows)]
            same = np.array_equal(mine, bf)
            note = (
                f"all-pairs ESTIMATED from {len(rows)} measured rows x {n // len(rows)}; "
                "compared on those rows"
            )
        print(
            f"{n:>8} {t_idx:>9.3f} {t_bf:>12.3f} {t_bf / t_idx:>7.1f}x  {len(idx_pairs):>5}  "
            f"{'yes' if same else 'NO'}  {note} (planted {planted})"
        )
        if not same:
            raise SystemExit("index and all-pairs disagree")


if __name__ == "__main__":
    main()
