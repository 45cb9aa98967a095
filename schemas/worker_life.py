"""Worker processes that do not outlive their parent.

A process pool's workers wait on their call queue forever once the parent is gone (a SIGKILL,
an out-of-memory kill): spawn workers hold the queue's write end themselves, so they never see
its end, and they finish and write what they were doing meanwhile. Every process pool of the
toolkit is made with :func:`dying_with_parent`::

    ProcessPoolExecutor(max_workers=n, mp_context=ctx, **dying_with_parent())

Each worker then ends (SIGTERM) as soon as its parent dies: at once on Linux
(``prctl(PR_SET_PDEATHSIG)``), within :data:`POLL_S` seconds elsewhere (a thread watching
``os.getppid()``). What a worker's logging and warnings print on the stderr it shares with the
command shows control characters as escapes, as the command's own lines do
(:func:`schemas.cli_support.escape_terminal_output`).
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
from collections.abc import Callable, Iterator
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
    from schemas.cli_support import escape_terminal_output

    escape_terminal_output()  # its log lines reach the command's stderr: escaped as the command's
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


@contextlib.contextmanager
def ending_pool(pool: Any) -> Iterator[Any]:
    """``with ending_pool(ProcessPoolExecutor(...)) as pool:`` in place of the executor's own
    ``with``: a normal end waits for the workers as that does; an interrupt or an error (also one
    arriving while it waits) ends them at once (:func:`stop_pool`), with further Ctrl-C held off
    meanwhile (``timeout -s INT`` signals the process and its group: a second interrupt landing
    in the cleanup left idle workers, and the process, waiting forever)."""
    try:
        yield pool
        pool.shutdown(wait=True)
    except BaseException:
        with _interrupts_held():
            stop_pool(pool)
        raise


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT ignored in the block (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def stop_pool(pool: Any, *, grace_s: float = 5.0) -> None:
    """End a ``ProcessPoolExecutor`` now (an interrupt or an error while its results are read):
    pending tasks are cancelled and its workers terminated, so leaving its ``with`` block does not
    wait for tasks still running, or forever on workers that never saw the interrupt (started
    where SIGINT is ignored, as a script's background job: they do not end with the parent, who
    is still alive)."""
    # the stdlib keeps its workers here, and forgets them on shutdown: taken first
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:  # one that did not end on SIGTERM in time (a loaded machine, a busy start)
        with contextlib.suppress(Exception):
            if p.is_alive():
                p.kill()
                p.join(grace_s)
