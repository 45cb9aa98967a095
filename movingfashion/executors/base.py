"""The executor contract: :class:`Executor` (``map`` and ``pool``), :class:`Pool`, results.

``map(fn, tasks)`` runs a picklable function over picklable tasks and returns one
:class:`Outcome` per task, in task order (``imap``: as they finish); an exception in one task becomes that task's
``error`` (one line, :func:`describe`), the others go on; a local fault (:mod:`schemas.faults`:
disk full, no permission, no file handle) is no task's fault and stops the map.
``pool(fn, setup=...)`` gives workers that each build their state once (``setup()``) and then
run ``fn(state, task)`` on the tasks submitted to the pool; :meth:`Pool.results` yields :class:`TaskResult` as tasks
finish, with the exception a task raised (``error``) instead of a value. Every task submitted to a
pool ends once: done or failed (a result), or cancelled (its tag in :attr:`Pool.cancelled`).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from schemas.errors import MFError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of one mapped task, or why it failed, and the node it ran on (``None`` in this
    process or when not known; not compared: the same result is equal wherever it was computed)."""

    value: R | None = None
    error: str | None = None
    node: str | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None


#: what to do when an executor's workers cannot see a file this process has (a cluster)
SHARED_FOLDER_HINT = (
    "on a cluster, the folders a stage reads and writes (--root, --dataset, --out) must be one folder "
    "shared by every node at the same path; then run the command again"
)


def unseen_on_worker(exc: BaseException, node: str | None = None) -> MFError | None:
    """The error that stops a run when a remote worker's "file not found" (``exc``) names a file
    this process has: no item's fault, the workers do not share the folder (None otherwise).
    ``node``: the worker's node as :meth:`Executor.node_name` names it (named in the message)."""
    import os

    from schemas.errors import ConfigError

    if isinstance(exc, FileNotFoundError):
        path = exc.filename
    elif isinstance(exc, MFError) and re.match(r"(video |image )?file not found", exc.message):
        path = exc.where  # (not a decoder's "moov atom not found": that file is there)
    else:
        return None
    if not path or not os.path.exists(os.fspath(path)):
        return None
    return ConfigError(
        f"a worker of the executor{f' on node {node}' if node else ''} cannot see {os.fspath(path)}, "
        "which is here",
        where="--executor",
        hint=SHARED_FOLDER_HINT,
    )


def describe(exc: BaseException) -> str:
    """One line naming an error: the toolkit's own errors as they render, others with their type."""
    return str(exc) if isinstance(exc, MFError) else f"{type(exc).__name__}: {exc}"


class WorkerLostError(RuntimeError):
    """A worker died while running a task, more often than the executor retries."""


@dataclass
class TaskResult:
    """What came back from one pool task: its tag, its value or the exception it raised, and the
    node it ran on (``None`` in this process)."""

    tag: Any
    value: Any = None
    error: BaseException | None = None
    node: str | None = None


@dataclass(frozen=True)
class WorkerResources:
    """What one pool worker reserves on a cluster (ignored by the local executor).

    ``gpus`` may be a fraction (0.5: two workers share a GPU); ``custom`` are a cluster's own
    resources (``{"big_disk": 1}``).
    """

    cpus: float = 1.0
    gpus: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)


def gpu_share_problem(gpus: float) -> str | None:
    """Why ``gpus`` cannot be a worker's GPU share (Ray takes a share below 1 or a whole number
    of GPUs, so that a worker never spans two GPUs), or None when it can."""
    if gpus < 0:
        return f"a GPU share cannot be negative, got {gpus:g}"
    if gpus > 1 and not float(gpus).is_integer():
        return f"{gpus:g} GPUs is more than one GPU and not a whole number"
    return None


#: What to ask instead of a GPU share :func:`gpu_share_problem` refuses.
GPU_SHARE_HINT = "use a share below 1 (e.g. 0.5: two workers per GPU) or a whole number of GPUs"


class Pool(ABC):
    """Workers with their state, fed one task at a time; results as they finish.

    ``key`` (a host, ...) caps how many tasks with the same key run at once (``per_key`` of
    :meth:`Executor.pool`). Every submitted task ends once: as a result of :meth:`results` (its
    value or its error), or cancelled by a stop (:meth:`cancel_pending`, :meth:`close`): its tag
    is then in :attr:`cancelled` and nothing of it came back, so a rerun does it.
    """

    def __init__(self) -> None:
        #: tags of the tasks cancelled, in the order they were: not started when the pool was
        #: stopped, put back in the queue (their worker died) before or after the stop, or
        #: abandoned by :meth:`close`
        self.cancelled: list[Any] = []
        #: set by :meth:`cancel_pending`: no task is started or run again from then on
        self.stopped = False
        #: one entry per task run again because its worker died running it (``tag``, ``worker``:
        #: the dead worker's id, ``reason``), in the order they died; empty where none can die
        self.worker_retries: list[dict[str, Any]] = []

    @abstractmethod
    def submit(self, task: Any, *, tag: Any = None, key: str | None = None) -> None:
        """Queue ``task``; its result carries ``tag`` (after :meth:`cancel_pending`: cancelled at once)."""

    @property
    @abstractmethod
    def pending(self) -> int:
        """Tasks submitted whose result has not been yielded yet."""

    @abstractmethod
    def results(self, *, block: bool = True) -> Iterator[TaskResult]:
        """Yield finished tasks; with ``block`` wait for at least one when any is pending."""

    @abstractmethod
    def cancel_pending(self) -> int:
        """Stop: cancel the tasks not started yet, those waiting to run again after their worker
        died included, and from then on every task whose worker dies (it is not run again);
        returns how many were cancelled now. Running tasks finish and come back as results."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers (tasks still running are abandoned: cancelled, no result)."""

    def drain(self) -> Iterator[TaskResult]:
        """Every remaining result, as tasks finish."""
        while self.pending:
            yield from self.results(block=True)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Executor(ABC):
    """Runs a stage's per-item work; see the module docstring of :mod:`movingfashion.executors`."""

    name: ClassVar[str]
    #: True when workers are other processes, maybe on other machines: they share no memory
    #: (or open files, or catalog connections) with the driver.
    remote: ClassVar[bool] = False

    def __init__(self, workers: int | None = None, *, show_progress: bool = False) -> None:
        if workers is not None and workers < 1:
            from schemas.errors import ConfigError

            raise ConfigError(f"workers must be at least 1, got {workers}", where="--workers")
        self.workers = workers
        self.show_progress = show_progress
        #: tasks run per node id (remote executors; empty locally)
        self.nodes: Counter[str] = Counter()

    # -- the two ways to run work ------------------------------------------------------
    @abstractmethod
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
        """Workers running ``fn(state, task)`` with ``state = setup()`` built once per worker
        (``fn(task)`` without ``setup``). ``workers`` overrides the executor's count.
        ``on_lost(worker_id)`` is called in this process when a worker is lost for good (remote
        executors; default: ``setup.on_lost`` when the setup has that method), so that what
        the worker held elsewhere (a host slot, a claim) is handed back."""

    @abstractmethod
    def _map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, Outcome[R]]]:
        """(task index, outcome) pairs in the order tasks finish."""

    def imap(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[int, Outcome[R]]]:
        """``fn`` over ``tasks`` as :meth:`map` runs it (remote: in the same reused worker processes,
        a function's module-level caches kept), yielding ``(task index, outcome)`` as tasks finish."""
        tasks = list(tasks)
        if tasks:
            yield from self._map(fn, tasks)

    def map(
        self,
        fn: Callable[[T], R],
        tasks: Sequence[T],
        *,
        desc: str,
        unit: str = "video",
        on_outcome: Callable[[int, Outcome[R]], None] | None = None,
    ) -> list[Outcome[R]]:
        """``fn`` over ``tasks``: one outcome per task, in task order. ``on_outcome(i, outcome)``
        is called in this process as each one arrives (to record it at once)."""
        tasks = list(tasks)
        if not tasks:  # everything came from a cache: no empty progress bar
            return []
        from schemas.cli_support import progress_bar

        out: list[Outcome[R] | None] = [None] * len(tasks)
        quiet = None if self.show_progress else True
        bar: Any = progress_bar(desc=desc, total=len(tasks), unit=unit, disable=quiet)
        try:
            for i, outcome in self._map(fn, tasks):
                out[i] = outcome
                if on_outcome is not None:
                    on_outcome(i, outcome)
                bar.update(1)
        finally:
            bar.close()
        return out  # type: ignore[return-value]

    def gpu_count(self) -> float:
        """GPUs the workers can use (0 here: a local run picks its own device)."""
        return 0.0

    def node_name(self, node: str | None) -> str | None:
        """What a user knows the node of a task's result (:attr:`TaskResult.node`) by: its
        address on a cluster; the id itself when that is not known, None for this process."""
        return node

    def report(self) -> dict[str, Any]:
        """What ran where: the backend's name and the tasks per node (for ``--json`` output)."""
        return {"name": self.name, "nodes": dict(sorted(self.nodes.items()))}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the executor holds (a Ray session it started)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
