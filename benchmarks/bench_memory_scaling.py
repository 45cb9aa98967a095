"""Does a second process double the throughput of memory-bound work on this machine?

Goal 3 of ``bench_loader.py`` asks 2 DataLoader workers for >= 1.8x the throughput of 0 on 2
cores. Work that is limited by memory bandwidth cannot scale so if one process already uses
the machine's bandwidth. This benchmark runs three kernels on one process, then on two processes
at once (started together, interleaved 1, 2, 1, 2 ... ``--rounds`` times), and prints for each
the two-process / one-process throughput ratio:

* ``copy``: a contiguous copy of a batch-sized block (``--batch`` clips x ``--frames`` frames of
  ``--size`` px, uint8 HWC: 6 MB by default), as collate does into a batch's slot;
* ``planes``: the HWC -> CHW plane split of the same bytes, one ``cv2.split`` per frame, as
  ``movingfashion.planes._into_planes`` does on the crop cache's path;
* ``compute``: a control with no memory traffic (a pure-Python loop): ~2x proves the two cores
  are real and free enough.

Each process reads 8 rotating source blocks (48 MB by default, more than the last-level cache),
so every block comes from memory. Besides the wall-clock ratio (which another process's load
blurs: a process waiting for a core is not running) it times every block in wall and thread CPU
time and keeps the blocks that ran without interruption (CPU >= 95% of wall) while, with two
processes, the other one was on a core for the whole block (its uninterrupted blocks cover it):
a core stalled on memory still counts as busy, so CPU ms per such block that grows from one
process to two is the bandwidth limit, measured even on a loaded machine. The CPU-time ratio
2 x (one process's median CPU ms per block) / (two processes' median), over the clean blocks
of every round, is the throughput two
cores would reach if each ran one process all the time. The load average is printed before
and after.

Example::

    python benchmarks/bench_memory_scaling.py --rounds 3
    python benchmarks/bench_memory_scaling.py --blocks 500 --json > membw.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import statistics
import sys
import threading
import time
from typing import Any

import numpy as np

KERNELS = ("copy", "planes", "compute")
SOURCES = 8


def _load() -> float:
    return os.getloadavg()[0]


def _work(kernel: str, shape: tuple[int, ...], blocks: int, start: Any, out: Any) -> None:
    """One process: ``blocks`` repetitions of ``kernel``; puts (wall s, CPU s) on ``out``."""
    import cv2

    cv2.setNumThreads(1)
    rng = np.random.default_rng(os.getpid())
    if kernel == "compute":
        src = dst = None
    else:
        src = rng.integers(0, 255, size=(SOURCES, *shape), dtype=np.uint8)
        n, t, h, w, c = shape
        dst = np.empty((n, t, c, h, w) if kernel == "planes" else shape, np.uint8)
        dst.fill(0)  # pages faulted in before the clock starts
    log = np.empty((blocks, 4))  # per block: wall start, wall end, CPU start, CPU end (s)
    start.wait()
    clock, cpu = time.perf_counter, time.thread_time
    for i in range(blocks):
        log[i, 0], log[i, 2] = clock(), cpu()
        if kernel == "copy":
            np.copyto(dst, src[i % SOURCES])
        elif kernel == "planes":
            s = src[i % SOURCES]
            for k in range(shape[0]):
                for f in range(shape[1]):
                    cv2.split(s[k, f], list(dst[k, f]))
        else:
            x = 0
            for j in range(20000):  # ~0.8 ms of interpreter work, nothing leaves L1
                x += j * j
        log[i, 1], log[i, 3] = clock(), cpu()
    out.put(log)


#: a block counts as run without interruption when its CPU time is at least this share of its
#: wall time (not preempted by another process, no page fault to disk)
WHOLE = 0.95
#: the longest pause between two blocks of one process that still counts as running on (s)
GAP = 50e-6


def _whole(log: np.ndarray) -> np.ndarray:
    return (log[:, 3] - log[:, 2]) >= WHOLE * (log[:, 1] - log[:, 0])


def _covered(log: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per block of ``log``: whether ``other`` was on a core for all of it (its span lies inside
    a run of ``other``'s uninterrupted, back-to-back blocks)."""
    ok = _whole(other)
    # runs of uninterrupted blocks of `other` with no pause between them (a process taken off
    # its core between two blocks leaves a gap): [start of first, end of last]
    runs, begin = [], None
    for k in range(len(other)):
        joined = k > 0 and other[k, 0] - other[k - 1, 1] <= GAP
        if begin is not None and not (ok[k] and joined):
            runs.append((begin, other[k - 1, 1]))
            begin = None
        if ok[k] and begin is None:
            begin = other[k, 0]
    if begin is not None:
        runs.append((begin, other[-1, 1]))
    if not runs:
        return np.zeros(len(log), bool)
    starts = np.array([r[0] for r in runs])
    ends = np.array([r[1] for r in runs])
    j = np.searchsorted(starts, log[:, 0], side="right") - 1
    inside = j >= 0
    inside[inside] &= ends[j[inside]] >= log[inside, 1]
    return inside


#: how long the processes of one run may take to reach the start barrier (s)
START_TIMEOUT = 120.0


def run_once(kernel: str, shape: tuple[int, ...], blocks: int, procs: int) -> dict[str, Any]:
    """``procs`` processes doing ``kernel`` at once: blocks per second over all of them, and the
    CPU ms of each block run without interruption (with two processes: while the other one was
    on a core too, i.e. truly at the same time)."""
    ctx = mp.get_context("fork")
    start, out = ctx.Barrier(procs + 1), ctx.Queue()
    ps = [ctx.Process(target=_work, args=(kernel, shape, blocks, start, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    try:
        start.wait(timeout=START_TIMEOUT)
        logs = [out.get(timeout=START_TIMEOUT + 60) for _ in ps]
    except (threading.BrokenBarrierError, queue.Empty):
        for p in ps:
            p.terminate()
        raise RuntimeError(
            f"{kernel}: the {procs} worker process(es) did not start or finish within "
            f"{START_TIMEOUT:.0f} s (a fork of a process with other threads can hang); run the "
            "script as its own command, not from a process with threads"
        ) from None
    for p in ps:
        p.join()
    wall = max(g[-1, 1] for g in logs) - min(g[0, 0] for g in logs)
    clean = []
    for k, log in enumerate(logs):
        keep = _whole(log)
        for other in logs[:k] + logs[k + 1 :]:
            keep &= _covered(log, other)
        clean.append((log[keep, 3] - log[keep, 2]) * 1000)
    return {
        "blocks_per_s": procs * blocks / wall,
        "clean_ms": np.concatenate(clean),
        "blocks": procs * blocks,
    }


def measure(kernel: str, shape: tuple[int, ...], blocks: int, rounds: int) -> dict[str, Any]:
    """``rounds`` interleaved pairs (one process, then two at once) of ``kernel``: the wall ratio
    per pair, and the median CPU ms per clean block over every round (one process; two at once)."""
    pairs = [(run_once(kernel, shape, blocks, 1), run_once(kernel, shape, blocks, 2)) for _ in range(rounds)]
    one = np.concatenate([a["clean_ms"] for a, _ in pairs])
    two = np.concatenate([b["clean_ms"] for _, b in pairs])
    one_ms = float(np.median(one)) if len(one) else float("nan")
    two_ms = float(np.median(two)) if len(two) else float("nan")
    return {
        "ratio": [b["blocks_per_s"] / a["blocks_per_s"] for a, b in pairs],
        "one_cpu_ms": one_ms,
        "two_cpu_ms": two_ms,
        "cpu_ratio": 2 * one_ms / two_ms if len(one) and len(two) else float("nan"),
        "one_blocks": int(len(one)),
        "two_blocks": int(len(two)),
        "two_of": sum(b["blocks"] for _, b in pairs),
    }


def _span(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/bench_memory_scaling.py --rounds 3 --json",
    )
    ap.add_argument("--batch", type=int, default=4, help="clips per block (default 4, goal 3's batch)")
    ap.add_argument("--frames", type=int, default=10, help="frames per clip (default 10)")
    ap.add_argument("--size", type=int, default=224, help="crop side in px (default 224)")
    ap.add_argument(
        "--blocks", type=int, default=1500, help="blocks per process per run (default 1500: ~0.5-1.5 s)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="interleaved one/two-process pairs (default 3)")
    ap.add_argument("--kernels", default=",".join(KERNELS), help=f"comma list of {', '.join(KERNELS)}")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of text")
    args = ap.parse_args(argv)
    kernels = [k for k in args.kernels.split(",") if k]
    bad = [k for k in kernels if k not in KERNELS]
    if bad or not kernels:
        ap.error(f"--kernels: a comma list of {', '.join(KERNELS)}; got {args.kernels!r}")
    for name in ("batch", "frames", "size", "blocks", "rounds"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    shape = (args.batch, args.frames, args.size, args.size, 3)
    import cv2  # noqa: F401  (imported once here: the forked processes start with it)

    nbytes = int(np.prod(shape))
    load0 = _load()
    results = {k: measure(k, shape, args.blocks, args.rounds) for k in kernels}
    report = {
        "block_bytes": nbytes,
        "cores": os.cpu_count(),
        "load_start": load0,
        "load_end": _load(),
        "kernels": results,
    }
    if "copy" in results:  # one process's copy bandwidth: read + write of the block
        ms = results["copy"]["one_cpu_ms"]
        report["copy_gb_s"] = nbytes / (ms / 1000) / 1e9
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"block {nbytes / 1e6:.2f} MB ({args.batch} x {args.frames} x {args.size}x{args.size}x3 uint8),"
        f" {SOURCES} rotating sources, {args.blocks} blocks per process per run, {args.rounds} interleaved"
        f" pairs; {os.cpu_count()} cores, load average {load0:.1f} at start"
    )
    for k, r in results.items():
        print(
            f"  {k:8s} 2 procs / 1 proc: throughput {_span(r['ratio'])}x (wall), {r['cpu_ratio']:.2f}x (CPU"
            f" time, both on a core); median CPU ms per block: 1 proc {r['one_cpu_ms']:.3f}, 2 procs at"
            f" once {r['two_cpu_ms']:.3f} each ({r['two_blocks']} of {r['two_of']} blocks ran while the"
            " other process was on a core)"
        )
    if "copy_gb_s" in report:
        print(f"  one process copies {report['copy_gb_s']:.1f} GB/s (block bytes / CPU time per block)")
    print(f"(load average {load0:.1f} at start, {report['load_end']:.1f} at end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
