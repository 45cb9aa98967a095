"""Executors run collection tasks; chosen by name (``--executor local``).

The sources never see an executor: the runner hands it zero-argument tasks, each tagged with
a key (the host it will mostly talk to), and reads results back as they complete. A
distributed backend (Ray) implements the same three methods and adds one registry line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.registry import lookup


@dataclass
class TaskResult:
    """What came back from one task: its tag, its value or the exception it raised."""

    tag: Any
    value: Any = None
    error: BaseException | None = None


class Executor(Protocol):
    """Submit tasks, iterate results as they finish, cancel what has not started."""

    def submit(self, fn: Callable[[], Any], *, tag: Any = None, key: str | None = None) -> None: ...

    @property
    def pending(self) -> int: ...

    def results(self, *, block: bool = True) -> Iterator[TaskResult]: ...

    def cancel_pending(self) -> int: ...

    def close(self) -> None: ...


class LocalExecutor:
    """A thread pool with a cap on tasks running at once per key (host)."""

    def __init__(self, workers: int = 4, *, per_key: int | None = None) -> None:
        self.workers = max(1, workers)
        self.per_key = per_key or self.workers
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mf-collect")
        self._futures: dict[Future, Any] = {}
        self._lock = threading.Lock()
        self._keys: dict[str, threading.BoundedSemaphore] = {}

    def _slot(self, key: str | None) -> threading.BoundedSemaphore | None:
        if key is None:
            return None
        with self._lock:
            return self._keys.setdefault(key, threading.BoundedSemaphore(self.per_key))

    def submit(self, fn: Callable[[], Any], *, tag: Any = None, key: str | None = None) -> None:
        slot = self._slot(key)

        def run() -> Any:
            if slot is None:
                return fn()
            with slot:
                return fn()

        self._futures[self._pool.submit(run)] = tag

    @property
    def pending(self) -> int:
        return len(self._futures)

    def results(self, *, block: bool = True) -> Iterator[TaskResult]:
        """Yield finished tasks; with ``block`` wait for at least one when any is running."""
        if not self._futures:
            return
        done, _ = wait(list(self._futures), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            tag = self._futures.pop(fut)
            if fut.cancelled():
                continue
            exc = fut.exception()
            yield TaskResult(tag, None if exc else fut.result(), exc)

    def cancel_pending(self) -> int:
        cancelled = 0
        for fut in list(self._futures):
            if fut.cancel():
                self._futures.pop(fut)
                cancelled += 1
        return cancelled

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: Executor backends by name. A Ray backend would add ``"ray": RayExecutor`` here.
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor}


def check_executor(name: str) -> Callable[..., Executor]:
    """The executor factory called ``name``; :class:`ConfigError` names the choices."""
    return lookup(EXECUTORS, name, what="executor", where="--executor")


def make_executor(name: str, workers: int, *, per_key: int | None = None) -> Executor:
    """A new executor of backend ``name`` with ``workers`` tasks at once (``per_key`` per host)."""
    return check_executor(name)(workers, per_key=per_key)
