"""The ``local`` executor: this process. Without ``workers`` every task runs in the calling
thread, in order; with ``workers`` a thread pool runs that many at once (I/O-bound work such as
downloads), with a cap on tasks per key (host)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from movingfashion.executors.base import (
    Executor,
    Outcome,
    Pool,
    R,
    T,
    TaskResult,
    WorkerResources,
    describe,
)
from schemas.faults import reraise_local_fault


class InlinePool(Pool):
    """Runs each task in the calling thread when its result is asked for (``results``)."""

    def __init__(self, call: Callable[[Any], Any]) -> None:
        super().__init__()
        self._call = call
        self._queue: deque[tuple[Any, Any]] = deque()

    def submit(self, task: Any, *, tag: Any = None, key: str | None = None) -> None:
        if self.stopped:
            self.cancelled.append(tag)
            return
        self._queue.append((task, tag))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def results(self, *, block: bool = True) -> Iterator[TaskResult]:
        if not block or not self._queue:
            return
        task, tag = self._queue.popleft()
        try:
            yield TaskResult(tag, self._call(task))
        except Exception as exc:  # noqa: BLE001 - handed to the caller as the task's error
            yield TaskResult(tag, error=exc)

    def cancel_pending(self) -> int:
        self.stopped = True
        return self._cancel_queued()

    def _cancel_queued(self) -> int:
        n = len(self._queue)
        self.cancelled.extend(tag for _, tag in self._queue)
        self._queue.clear()
        return n

    def close(self) -> None:
        self._cancel_queued()


class ThreadPool(Pool):
    """A thread pool with a cap on tasks running at once per key (host)."""

    def __init__(self, call: Callable[[Any], Any], workers: int, per_key: int | None = None) -> None:
        super().__init__()
        self._call = call
        self.workers = max(1, workers)
        self.per_key = per_key or self.workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mf-worker")
        self._futures: dict[Future, Any] = {}
        self._lock = threading.Lock()
        self._keys: dict[str, threading.BoundedSemaphore] = {}

    def _slot(self, key: str | None) -> threading.BoundedSemaphore | None:
        if key is None:
            return None
        with self._lock:
            return self._keys.setdefault(key, threading.BoundedSemaphore(self.per_key))

    def submit(self, task: Any, *, tag: Any = None, key: str | None = None) -> None:
        if self.stopped:
            self.cancelled.append(tag)
            return
        slot = self._slot(key)

        def run() -> Any:
            if slot is None:
                return self._call(task)
            with slot:
                return self._call(task)

        self._futures[self._pool.submit(run)] = tag

    @property
    def pending(self) -> int:
        return len(self._futures)

    def results(self, *, block: bool = True) -> Iterator[TaskResult]:
        if not self._futures:
            return
        done, _ = wait(list(self._futures), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            tag = self._futures.pop(fut)
            if fut.cancelled():
                self.cancelled.append(tag)
                continue
            exc = fut.exception()
            yield TaskResult(tag, None if exc else fut.result(), exc)

    def cancel_pending(self) -> int:
        self.stopped = True
        cancelled = 0
        for fut in list(self._futures):
            if fut.cancel():
                self.cancelled.append(self._futures.pop(fut))
                cancelled += 1
        return cancelled

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.cancelled.extend(self._futures.values())  # never handed to the caller
        self._futures.clear()


class LocalExecutor(Executor):
    """This process: in order in the calling thread, or ``workers`` threads."""

    name = "local"

    def pool(
        self,
        fn: Callable[..., Any],
        *,
        setup: Callable[[], Any] | None = None,
        per_key: int | None = None,
        resources: WorkerResources | None = None,
        workers: int | None = None,
        on_lost: Callable[[str], Any] | None = None,
    ) -> Pool:
        """One state for all threads (``setup()`` runs once, here): it must be thread-safe when
        there are several threads. No worker is ever lost here (``on_lost`` is not called)."""
        call = fn if setup is None else partial(fn, setup())
        n = workers or self.workers
        return InlinePool(call) if n is None else ThreadPool(call, n, per_key)

    def _map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, Outcome[R]]]:
        if not self.workers or self.workers == 1:
            for i, task in enumerate(tasks):
                yield i, _attempt(fn, task)
            return
        with ThreadPool(partial(_attempt, fn), self.workers) as pool:
            for i, task in enumerate(tasks):
                pool.submit(task, tag=i)
            for res in pool.drain():
                if res.error is not None:  # a local fault (_attempt keeps every other error)
                    raise res.error
                yield res.tag, res.value


def _attempt(fn: Callable[[T], R], task: T) -> Outcome[R]:
    try:
        return Outcome(fn(task))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        reraise_local_fault(exc)
        return Outcome(error=describe(exc))
