"""Batching clips in the main process: ``collate_clips`` and ``unit_float`` against torch's threads.

With 0 DataLoader workers the batch is made in the training process, where torch runs its
intra-op thread pool (one thread per core by default). ``torch.stack`` splits a large copy
across those threads; on a machine whose cores are busy with other work the threads wait for a
core and spin, and one batch costs several times the CPU of a copy on one thread.
:func:`movingfashion.batching.collate_clips` copies CPU tensors with numpy on the calling thread.

The conversion of a uint8 batch to float (:func:`movingfashion.batching.frames_to_float` on the
CPU, and float32 items) is the same case: ``torch.div`` against :func:`movingfashion.unit_float.unit_float`
(row ``to float``).

Per dtype (``uint8``, the loader's recommended items, and ``float32``, the default) it builds
``--batch`` clips of ``--frames`` x 3 x ``--size`` x ``--size`` and times, interleaved
``--rounds`` times, the baseline ``torch.stack`` (a new batch tensor each call, as the collate
makes one) with ``--threads`` intra-op threads (default: torch's default) against ``collate_clips`` (same bytes: checked), in process CPU time
and in wall clock per batch (median), and prints baseline / collate for both. The load average
is printed before and after. Each timed block follows one untimed call and a sleep of
``SETTLE_S``: after a parallel region torch's OpenMP threads spin for a while, and that CPU
would otherwise be charged to the next block (in a first version of this script it made the
one-thread way look 3x dearer on an idle machine).

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
from movingfashion.unit_float import unit_float

DTYPES = {"uint8": torch.uint8, "float32": torch.float32}


def _items(batch: int, frames: int, size: int, dtype: torch.dtype) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    clips = [
        torch.randint(0, 256, (frames, 3, size, size), generator=gen, dtype=torch.uint8) for _ in range(batch)
    ]
    if dtype != torch.uint8:
        clips = [c.to(dtype).div_(255) for c in clips]
    return [{"frames": c} for c in clips]


#: seconds slept before each timed block: torch's OpenMP threads spin for a while after a
#: parallel region, and that spinning would count as CPU (and take a core) of the next block
SETTLE_S = 0.5


def _time(fn: Any, reps: int, settle: float = SETTLE_S) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, over ``reps`` calls, after one untimed call and ``settle`` s."""
    fn()
    time.sleep(settle)
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.process_time() - c0) / reps * 1e3, (time.perf_counter() - w0) / reps * 1e3


def _cases(batch: int, frames: int, size: int) -> dict[str, tuple[Any, Any]]:
    """Per row: (baseline on torch's threads, the package's way), both given the same input."""
    out: dict[str, tuple[Any, Any]] = {}
    for name, dtype in DTYPES.items():
        items = _items(batch, frames, size, dtype)
        vals = [it["frames"] for it in items]
        if not torch.equal(torch.stack(vals), collate_clips(items)["frames"]):
            raise SystemExit(f"{name}: collate_clips and torch.stack give different bytes")
        out[name] = (partial(torch.stack, vals), partial(collate_clips, items))
    u8 = torch.stack([it["frames"] for it in _items(batch, frames, size, torch.uint8)])
    if not torch.equal(torch.div(u8, 255.0), unit_float(u8)):
        raise SystemExit("to float: unit_float and torch.div give different values")
    out["to float"] = (partial(torch.div, u8, 255.0), partial(unit_float, u8))
    return out


def measure(
    batch: int, frames: int, size: int, rounds: int, reps: int, threads: int, settle: float = SETTLE_S
) -> dict[str, Any]:
    """Per row (a uint8 and a float32 batch collated, a uint8 batch made float): median CPU and
    wall ms per batch of the baseline and of the package's way, and their ratios (baseline / ours)."""
    out: dict[str, Any] = {}
    for name, (baseline, ours_fn) in _cases(batch, frames, size).items():
        base: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(rounds):
            before = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                base.append(_time(baseline, reps, settle))
            finally:
                torch.set_num_threads(before)
            ours.append(_time(ours_fn, reps, settle))
        b_cpu, b_wall = (statistics.median(x[i] for x in base) for i in (0, 1))
        o_cpu, o_wall = (statistics.median(x[i] for x in ours) for i in (0, 1))
        out[name] = {
            "torch_cpu_ms": b_cpu,
            "torch_wall_ms": b_wall,
            "ours_cpu_ms": o_cpu,
            "ours_wall_ms": o_wall,
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
    ap.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        help=f"seconds slept before each timed block (default {SETTLE_S})",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    res = measure(args.batch, args.frames, args.size, args.rounds, args.reps, args.threads, args.settle)
    doc = {
        "batch": args.batch,
        "frames": args.frames,
        "size": args.size,
        "threads": args.threads,
        "load_start": load0,
        "load_end": os.getloadavg()[0],
        "rows": res,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"batch of {args.batch} clips x {args.frames} x 3 x {args.size}^2; baselines (torch.stack, torch.div) on "
        f"{args.threads} threads; load average {doc['load_start']:.1f} at start, {doc['load_end']:.1f} at end"
    )
    print(
        f"   {'row':9} {'torch CPU ms':>13} {'ours CPU ms':>12} {'x CPU':>7} {'torch wall':>11} {'ours wall':>10} {'x wall':>7}"
    )
    for name, r in res.items():
        print(
            f"   {name:9} {r['torch_cpu_ms']:13.2f} {r['ours_cpu_ms']:12.2f} {r['cpu_ratio']:6.2f}x "
            f"{r['torch_wall_ms']:11.2f} {r['ours_wall_ms']:10.2f} {r['wall_ratio']:6.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
