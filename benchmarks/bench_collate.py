"""Batching clips in the main process: ``collate_clips`` against ``torch.stack`` on torch's threads.

With 0 DataLoader workers the batch is made in the training process, where torch runs its
intra-op thread pool (one thread per core by default). ``torch.stack`` splits a large copy
across those threads; on a machine whose cores are busy with other work the threads wait for a
core and spin, and one batch costs several times the CPU of a copy on one thread.
:func:`movingfashion.batching.collate_clips` copies CPU tensors with numpy on the calling thread.

Per dtype (``uint8``, the loader's recommended items, and ``float32``, the default) it builds
``--batch`` clips of ``--frames`` x 3 x ``--size`` x ``--size`` and times, interleaved
``--rounds`` times, the baseline ``torch.stack`` (a new batch tensor each call, as the collate
makes one) with ``--threads`` intra-op threads (default: torch's default) against ``collate_clips`` (same bytes: checked), in process CPU time
and in wall clock per batch (median), and prints baseline / collate for both. The load average
is printed before and after: the gain is largest on a loaded machine, nearly none on an idle one.

Example::

    python benchmarks/bench_collate.py
    python benchmarks/bench_collate.py --batch 16 --rounds 5 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from functools import partial
from typing import Any

import torch

from movingfashion.batching import collate_clips

DTYPES = {"uint8": torch.uint8, "float32": torch.float32}


def _items(batch: int, frames: int, size: int, dtype: torch.dtype) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    clips = [
        torch.randint(0, 256, (frames, 3, size, size), generator=gen, dtype=torch.uint8) for _ in range(batch)
    ]
    if dtype != torch.uint8:
        clips = [c.to(dtype).div_(255) for c in clips]
    return [{"frames": c} for c in clips]


def _time(fn: Any, reps: int) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, over ``reps`` calls."""
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.process_time() - c0) / reps * 1e3, (time.perf_counter() - w0) / reps * 1e3


def measure(batch: int, frames: int, size: int, rounds: int, reps: int, threads: int) -> dict[str, Any]:
    """Per dtype: median CPU and wall ms per batch of the baseline and of ``collate_clips``, and
    their ratios (baseline / collate)."""
    out: dict[str, Any] = {}
    for name, dtype in DTYPES.items():
        items = _items(batch, frames, size, dtype)
        vals = [it["frames"] for it in items]
        dst = torch.empty((batch, *vals[0].shape), dtype=dtype)
        if not torch.equal(torch.stack(vals, out=dst), collate_clips(items)["frames"]):
            raise SystemExit(f"{name}: collate_clips and torch.stack give different bytes")
        base: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(rounds):
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                base.append(_time(partial(torch.stack, vals), reps))
            finally:
                torch.set_num_threads(before)
            ours.append(_time(partial(collate_clips, items), reps))
        b_cpu, b_wall = (statistics.median(x[i] for x in base) for i in (0, 1))
        o_cpu, o_wall = (statistics.median(x[i] for x in ours) for i in (0, 1))
        out[name] = {
            "stack_cpu_ms": b_cpu,
            "stack_wall_ms": b_wall,
            "collate_cpu_ms": o_cpu,
            "collate_wall_ms": o_wall,
            "cpu_ratio": b_cpu / o_cpu if o_cpu > 0 else float("inf"),
            "wall_ratio": b_wall / o_wall if o_wall > 0 else float("inf"),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4, help="clips per batch (default 4)")
    ap.add_argument("--frames", type=int, default=10, help="frames per clip, T (default 10)")
    ap.add_argument("--size", type=int, default=224, help="crop side in px (default 224)")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved baseline/collate rounds (default 5)")
    ap.add_argument("--reps", type=int, default=20, help="batches timed per round and way (default 20)")
    ap.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="the baseline's intra-op threads (default: torch's)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    res = measure(args.batch, args.frames, args.size, args.rounds, args.reps, args.threads)
    doc = {
        "batch": args.batch,
        "frames": args.frames,
        "size": args.size,
        "threads": args.threads,
        "load_start": load0,
        "load_end": os.getloadavg()[0],
        "dtypes": res,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"batch of {args.batch} clips x {args.frames} x 3 x {args.size}^2; baseline torch.stack on "
        f"{args.threads} threads; load average {doc['load_start']:.1f} at start, {doc['load_end']:.1f} at end"
    )
    print(
        f"   {'dtype':8} {'stack CPU ms':>13} {'collate CPU ms':>15} {'x CPU':>7} {'stack wall':>11} {'collate wall':>13} {'x wall':>7}"
    )
    for name, r in res.items():
        print(
            f"   {name:8} {r['stack_cpu_ms']:13.2f} {r['collate_cpu_ms']:15.2f} {r['cpu_ratio']:6.2f}x "
            f"{r['stack_wall_ms']:11.2f} {r['collate_wall_ms']:13.2f} {r['wall_ratio']:6.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
