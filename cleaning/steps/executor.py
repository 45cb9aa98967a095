"""The one place that maps per-file work (probe, frame hashes, split-screen, shop pick) over files.

A step hands a module-level function and a list of small task objects to
:meth:`Executor.map` and gets one :class:`Outcome` per task, in task order. An exception in one
task becomes that task's ``error`` (the step lists the item as failed); the other tasks go on.
A local fault (disk full, no permission, no file handle: :mod:`schemas.faults`) is no task's
fault: it stops the map and the run.
``local`` runs the tasks one after the other in this process, with a progress bar. Another
executor (a pool, a cluster) only needs the same ``map``; tasks and functions are picklable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from schemas.errors import MFError
from schemas.faults import reraise_local_fault

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of one task, or why it failed."""

    value: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe(exc: BaseException) -> str:
    """One line naming an error: the toolkit's own errors as they render, others with their type."""
    return str(exc) if isinstance(exc, MFError) else f"{type(exc).__name__}: {exc}"


class Executor(Protocol):
    """Maps a function over tasks; one outcome per task, in order."""

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], *, desc: str, unit: str = "video"
    ) -> list[Outcome[R]]: ...


class LocalExecutor:
    """Runs every task in this process, in order; a progress bar on stderr when asked."""

    def __init__(self, *, show_progress: bool = False) -> None:
        self.show_progress = show_progress

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], *, desc: str, unit: str = "video"
    ) -> list[Outcome[R]]:
        if not tasks:  # everything came from the cache: no empty progress bar
            return []
        from schemas.cli_support import progress

        out: list[Outcome[R]] = []
        quiet = None if self.show_progress else True
        for task in progress(tasks, desc=desc, total=len(tasks), unit=unit, disable=quiet):
            try:
                out.append(Outcome(fn(task)))
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                reraise_local_fault(exc)
                out.append(Outcome(error=describe(exc)))
        return out


#: executor name (``executor`` in the cleaning config) -> factory taking ``show_progress``
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor}
