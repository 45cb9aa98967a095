"""A stop (``cancel_pending``) leaves no task unaccounted for: every submitted task ends as a
result (done or failed) or cancelled (its tag in ``pool.cancelled``), and a task whose worker died
is cancelled, not run again after the stop, whether it was put back in the queue before the stop
or its worker's death is seen after it. Local pools (inline and threads) and the Ray pool."""

from __future__ import annotations

import os
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from movingfashion.executors import LocalExecutor, Pool


def _ended(pool: Pool, submitted: list[int]) -> list:
    """Every result's tag (the pool drained) plus the cancelled ones, sorted."""
    got = [r.tag for r in pool.drain()]
    assert len(set(got) | set(pool.cancelled)) == len(got) + len(pool.cancelled), "a task ended twice"
    return sorted([*got, *pool.cancelled])


@pytest.mark.parametrize("workers", [None, 1], ids=["inline", "threads"])
def test_every_task_is_a_result_or_cancelled_after_a_stop(workers):
    gate = threading.Event()

    def task(x: int) -> int:
        if x == 0 and workers:
            gate.wait(10)
        if x == 1:
            raise ValueError("bad")
        return x

    pool = LocalExecutor(workers).pool(task)
    for x in range(6):
        pool.submit(x, tag=x)
    if workers is None:  # inline: the first two run as their results are asked for
        assert [r.tag for r in (next(pool.results()), next(pool.results()))] == [0, 1]
    n = pool.cancel_pending()
    gate.set()
    assert n == len(pool.cancelled) > 0
    pool.submit(6, tag=6)  # after the stop: cancelled at once, never run
    assert pool.cancelled[-1] == 6
    ended = _ended(pool, list(range(7))) if workers else sorted([0, 1, *pool.cancelled])
    pool.close()
    assert ended == list(range(7))


def test_close_cancels_what_it_abandons():
    pool = LocalExecutor().pool(lambda x: x)
    for x in range(3):
        pool.submit(x, tag=x)
    pool.close()
    assert pool.pending == 0 and pool.cancelled == [0, 1, 2]


# ------------------------------------------------------------------------ Ray
def _dies_first(marks: Path, x: int) -> int:
    """``x``; task 0 kills its worker on its first run; every run is marked."""
    (marks / f"run-{x}-{time.monotonic_ns()}").touch()
    if x == 0 and not (marks / "died").exists():
        (marks / "died").touch()
        os._exit(1)
    return x


def _runs(marks: Path, x: int) -> int:
    return len(list(marks.glob(f"run-{x}-*")))


def _wait_for(check, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("seen", ["before", "after"])
def test_a_ray_task_put_back_by_its_workers_death_is_cancelled_by_a_stop(ray_session, tmp_path, seen):
    """One worker, three tasks; task 0 kills the worker. ``before``: the death is seen (task 0 is
    back in the queue, waiting for the replacement) before the stop; ``after``: after it. No
    replacement is left starting once the pool is stopped."""
    from movingfashion.executors.ray_backend import RayExecutor

    with RayExecutor(workers=1) as ex, ex.pool(partial(_dies_first, tmp_path)) as pool:
        for x in range(3):
            pool.submit(x, tag=x)
        _wait_for(lambda: (tmp_path / "died").exists(), "the worker's death")
        if seen == "before":

            def requeued() -> bool:
                assert list(pool.results(block=False)) == []
                return any(deaths for *_, deaths in pool._queue)

            _wait_for(requeued, "task 0 put back in the queue")
        n = pool.cancel_pending()
        assert n == (3 if seen == "before" else 2)
        got = list(pool.drain())
        assert got == [] and sorted(pool.cancelled) == [0, 1, 2]
        # no worker starts in the dead one's place after the stop (``after``: one was started and
        # killed at close, and held a CPU for seconds after the kill: "1 of 2 CPUs still taken")
        assert pool._starting == {}
    assert _runs(tmp_path, 0) == 1  # not run again after the stop
    assert _runs(tmp_path, 1) == _runs(tmp_path, 2) == 0
