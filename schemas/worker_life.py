"""Worker processes that do not outlive their parent.

A process pool's workers wait on their call queue forever once the parent is gone (a SIGKILL,
an out-of-memory kill): spawn workers hold the queue's write end themselves, so they never see
its end, and they finish and write what they were doing meanwhile. Every process pool of the
toolkit is made with :func:`dying_with_parent`::

    ProcessPoolExecutor(max_workers=n, mp_context=ctx, **dying_with_parent())

Each worker then ends (SIGTERM) as soon as its parent dies: at once on Linux
(``prctl(PR_SET_PDEATHSIG)``), within :data:`POLL_S` seconds elsewhere (a thread watching
``os.getppid()``). Standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: How often a worker's watcher thread checks that its parent is still alive (seconds).
POLL_S = 0.5

_PR_SET_PDEATHSIG = 1


def dying_with_parent(
    initializer: Callable[..., Any] | None = None, initargs: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """``initializer``/``initargs`` keyword arguments of a ``ProcessPoolExecutor`` or a
    ``multiprocessing`` pool whose workers end when this process dies; a pool's own
    ``initializer`` (with its ``initargs``) runs after, in each worker.

    On Linux a worker is also ended when the thread that started it ends (workers start at
    the first submits): a pool made in the main thread must be fed from it (a ``with`` block
    around ``pool.map`` is); one made in another thread relies on the watcher thread alone."""
    in_main = threading.current_thread() is threading.main_thread()
    return {"initializer": _start_worker, "initargs": (os.getpid(), in_main, initializer, tuple(initargs))}


def exit_with_parent(parent_pid: int, *, pdeathsig: bool = True, poll_s: float = POLL_S) -> None:
    """In a child process: end it with SIGTERM when ``parent_pid`` is no longer its parent.

    ``pdeathsig``: also ask Linux to send SIGTERM when the parent's thread that started this
    process ends (immediate; a no-op elsewhere)."""
    if pdeathsig:
        _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the above was in force
        _end_self()
    threading.Thread(
        target=_watch_parent, args=(parent_pid, poll_s), name="mf-parent-watch", daemon=True
    ).start()


def _start_worker(
    parent_pid: int,
    pdeathsig: bool,
    initializer: Callable[..., Any] | None,
    initargs: tuple[Any, ...],
) -> None:
    exit_with_parent(parent_pid, pdeathsig=pdeathsig)
    if initializer is not None:
        initializer(*initargs)


def _set_pdeathsig(signum: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, signum)``; False where there is no such call (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    return False


def _watch_parent(parent_pid: int, poll_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    _end_self()


def _end_self() -> None:
    """End this process as the parent's death signal would (SIGTERM's own handler, if any)."""
    os.kill(os.getpid(), signal.SIGTERM)
