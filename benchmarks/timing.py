"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(run: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """The best process CPU and wall-clock seconds of ``repeat`` calls of ``run`` (a garbage
    collection before each), and the last call's result."""
    best_cpu = best_wall = float("inf")
    out: T
    for _ in range(max(1, repeat)):
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        out = run()
        best_cpu = min(best_cpu, time.process_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    return best_cpu, best_wall, out
