"""``ending_pool``: Ctrl-C (or an error) while a process pool's results are read ends its workers at
once, even workers that ignore SIGINT (a script's background job) and tasks that would run for an
hour; the stdlib's own ``with`` waited for them (``mf world generate`` hung after "interrupted")."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from schemas.worker_life import dying_with_parent, ending_pool
from tests.polling import wait_for


def _deaf() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _forever(i: int) -> int:
    time.sleep(3600)
    return i


def _ended(pid: int) -> bool:
    """Whether process ``pid`` is gone or a zombie: asked of the OS, not of ``Process.is_alive``,
    which reads False late when the pool's own manager thread reaped the process first."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def _square(i: int) -> int:
    return i * i


@pytest.mark.timeout(120)
def test_an_interrupt_ends_deaf_busy_workers_at_once():
    pool = ProcessPoolExecutor(2, mp_context=get_context("spawn"), **dying_with_parent(_deaf))
    with pytest.raises(KeyboardInterrupt), ending_pool(pool):
        futures = [pool.submit(_forever, i) for i in range(4)]
        procs = list(pool._processes.values())
        assert len(procs) == 2
        raise KeyboardInterrupt
    assert all(_ended(p.pid) for p in procs)
    # the pending ones cancelled, the running ones failed by the pool's manager thread (soon after);
    # not concurrent.futures.wait: it never counts a future cancelled by shutdown(cancel_futures=True)
    # as done (never notified), so it always ran out its whole timeout (60 s of every suite run)
    wait_for(lambda: all(f.cancelled() or f.done() for f in futures), "every task cancelled or failed")


def test_a_normal_end_waits_for_the_results():
    pool = ProcessPoolExecutor(2, mp_context=get_context("spawn"), **dying_with_parent())
    with ending_pool(pool) as p:
        assert list(p.map(_square, range(5))) == [0, 1, 4, 9, 16]
    with pytest.raises(RuntimeError):
        pool.submit(_square, 1)  # shut down
