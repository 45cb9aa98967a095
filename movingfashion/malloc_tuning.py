"""glibc malloc settings that keep a loader's per-clip buffers off fresh pages (Linux only).

A clip of 10 crops at 224 px is a 1.5 MB array, a batch of 4 about 6 MB. glibc's malloc, left
to itself, serves such a block with a fresh ``mmap`` while its mmap threshold is below it (128
KiB in a fresh process; it then rises on its own to the largest block freed so far) and gives
the top of its heap back to the kernel whenever more than its trim threshold (twice the mmap
threshold) is free. Either way the next item's buffer lands on pages the kernel has to fault in
and zero again, 4 KiB at a time. Which of the two a process pays, and how often, depends on
what it allocated before: a DataLoader worker inherits the main process's state at fork, and
the main process's state moves with its history. Measured on the real clips
(``docs/performance.md``, goal 3, "malloc"): a worker forked early faulted 1,440-1,470 pages a
batch of 4 on the crop cache (6.5-7.2 ms a batch against 3.0-3.5 for a worker that did not),
and a 0-worker process up to 970 pages a batch (the cache 3.8-5.0 ms a batch against 2.3-2.9).

:func:`tune_malloc` fixes both thresholds (which also turns glibc's dynamic adjustment off), so
blocks up to :data:`MMAP_THRESHOLD` come from the heap and up to :data:`TRIM_THRESHOLD` of free
heap stays mapped for the next batch. The cost is memory a process keeps after a peak: at most
about ``TRIM_THRESHOLD`` per malloc arena. :class:`MallocWorkerInit` applies it in each
DataLoader worker; :func:`movingfashion.batching.loader_settings` applies both by default, in
the calling process (the 0-worker path) and in each worker (``malloc_tuning=False`` turns it
off). Anywhere but Linux with glibc it does nothing and says
so by returning False.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass

#: blocks up to this size come from the heap, not from their own mmap (glibc's largest allowed
#: value on 64-bit: 32 MiB; batches of 16 clips of 1.5 MB fit under it)
MMAP_THRESHOLD = 32 * 1024 * 1024
#: free memory at the heap's top kept mapped rather than given back to the kernel
TRIM_THRESHOLD = 128 * 1024 * 1024

_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3

_tuned_pid: int | None = None  # the process tune_malloc last succeeded in (a forked child inherits it)


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``; None on other systems or C libraries."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return fn


def tune_malloc(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set this process's glibc mmap and trim thresholds; True when both were set, False where
    there is no glibc ``mallopt`` (a no-op) or glibc refused a value (above 32 MiB for the mmap
    threshold)."""
    global _tuned_pid
    fn = _mallopt()
    if fn is None:
        return False
    ok = fn(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok = fn(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
    if ok:
        _tuned_pid = os.getpid()
    return ok


def malloc_tuned() -> bool:
    """Whether :func:`tune_malloc` succeeded in this very process (a forked child does not count
    its parent's call)."""
    return _tuned_pid == os.getpid()


@dataclass(frozen=True)
class MallocWorkerInit:
    """A DataLoader ``worker_init_fn``: :func:`tune_malloc` in the worker, then ``then`` (the
    caller's own init, if any). Picklable, so it works with every start method."""

    mmap_threshold: int = MMAP_THRESHOLD
    trim_threshold: int = TRIM_THRESHOLD
    then: Callable[[int], object] | None = None

    def __call__(self, worker_id: int) -> None:
        tune_malloc(self.mmap_threshold, self.trim_threshold)
        if self.then is not None:
            self.then(worker_id)
