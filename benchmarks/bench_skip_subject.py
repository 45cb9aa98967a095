"""Naming a loader's skips one by one at the real archive's scale.

``MovingFashionDataset.skip_subject`` tells what one skip left out (a product, or part of a
product that still loads). Called once per skip without the loaded ids at hand, it used to build
the set of every loaded product on each call: 3,000 skips over 15K products took seconds. The
dataset here is made without files (``products`` set by hand: only the ids matter to the call),
so the script measures the call alone, best of ``--repeat`` (process CPU seconds and wall-clock),
against the same run's baseline: the old way, the set of loaded ids built again for every call,
and prints the ratio.

Usage: python benchmarks/bench_skip_subject.py [--products 15000] [--skips 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of  # noqa: E402

from movingfashion.dataset import MovingFashionDataset  # noqa: E402


def fileless_dataset(products: int) -> MovingFashionDataset:
    """A dataset object holding ``products`` loaded products (ids only) and no line skips."""
    ds = MovingFashionDataset.__new__(MovingFashionDataset)
    ds.products = [SimpleNamespace(product_id=f"{i:07d}") for i in range(products)]
    ds._line_skips = set()
    return ds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=15_000)
    ap.add_argument("--skips", type=int, default=3_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    ds = fileless_dataset(args.products)
    # half of the skips of loaded products (a video dropped), half of products gone
    skips = [(f"{(i * 7) % (2 * args.products):07d}", "videos/x.mp4: broken") for i in range(args.skips)]

    def indexed() -> list[str]:
        return [ds.skip_subject(pid, why) for pid, why in skips]

    def rebuilt() -> list[str]:  # the old way: every loaded id gathered again per skip
        return [ds.skip_subject(pid, why, {p.product_id for p in ds.products}) for pid, why in skips]

    (old_cpu, old_wall, old_names), (new_cpu, new_wall, names) = (
        best_of(f, args.repeat) for f in (rebuilt, indexed)
    )
    if names != old_names:
        raise SystemExit("skip_subject: the index names the skips differently from the full scan")
    still = sum(n.startswith("part of") for n in names)
    print(
        f"skip_subject: {args.skips} skips over {args.products} products (best of {args.repeat}):"
        f" indexed {new_cpu:.3f} s CPU, {new_wall:.3f} s wall; ids gathered per skip (baseline)"
        f" {old_cpu:.3f} s CPU, {old_wall:.3f} s wall; ratio {old_cpu / max(new_cpu, 1e-6):.0f}x CPU;"
        f" {still} of products that still load"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
