"""Executors: how a stage spreads its per-item work over workers, chosen by name.

Every stage (``mf-collect``, ``mf clean``, ``mf-tracklets build``, ``mf crop-cache``) hands its
per-item work to one :class:`Executor`:

* :meth:`Executor.map`: a picklable function over picklable tasks, one :class:`Outcome` per
  task in task order (cleaning's per-file work);
* :meth:`Executor.pool`: workers that each build their state once (``setup()``: a detector and
  matcher, a source with its HTTP client, a dataset) and run ``fn(state, task)`` on the tasks
  submitted; results stream back as they finish (:class:`TaskResult`).

Backends (:data:`EXECUTORS`): ``local`` (this process; threads when ``workers`` is given) and
``ray`` (a Ray cluster: tasks and actors spread over its nodes, retried a bounded number of
times when a worker dies). Ray is optional: it is imported only when ``ray`` is asked for, and
asking for it without Ray installed is a :class:`~schemas.errors.ConfigError` naming the install
command. The driver (the process that made the executor) is the only one that writes catalogs
and published files: workers compute and return, the driver records what comes back as it
arrives, so a killed driver resumes from what was recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from movingfashion.executors.base import (
    SHARED_FOLDER_HINT,
    Executor,
    Outcome,
    Pool,
    TaskResult,
    WorkerLostError,
    WorkerResources,
    describe,
    unseen_on_worker,
)
from movingfashion.executors.local import LocalExecutor
from schemas.errors import ConfigError
from schemas.registry import lookup

__all__ = [
    "EXECUTORS",
    "RAY_INSTALL",
    "SHARED_FOLDER_HINT",
    "Executor",
    "LocalExecutor",
    "Outcome",
    "Pool",
    "TaskResult",
    "WorkerLostError",
    "WorkerResources",
    "check_executor",
    "describe",
    "make_executor",
    "require_ray",
    "unseen_on_worker",
]

#: How to install the optional Ray backend (an installed toolkit; a checkout: ``pip install -e '.[ray]'``).
RAY_INSTALL = "pip install 'movingfashion-toolkit[ray]'"


def require_ray() -> None:
    """Raise :class:`ConfigError` with the install command when Ray cannot be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError(
            "Ray is not installed (needed by --executor ray)",
            where="--executor",
            hint=f"install it with `{RAY_INSTALL}` (in a checkout: pip install -e .[ray]), or use --executor local",
        ) from None


def _ray(**options: Any) -> Executor:
    require_ray()
    from movingfashion.executors.ray_backend import RayExecutor

    return RayExecutor(**options)


#: Executor backends by name (``--executor``, ``executor:`` in a stage's config).
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": LocalExecutor, "ray": _ray}


def known_executor(name: str) -> str:
    """``name`` when it names an executor backend, else ValueError naming the choices: the
    validator of every stage config's ``executor`` key (pydantic names the file and field)."""
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
    return name


def check_executor(name: str) -> Callable[..., Executor]:
    """The executor factory called ``name``; :class:`ConfigError` names the choices."""
    return lookup(EXECUTORS, name, what="executor", where="--executor")


def make_executor(
    name: str,
    *,
    workers: int | None = None,
    address: str | None = None,
    show_progress: bool = False,
    connect_timeout_s: float | None = None,
) -> Executor:
    """A new executor of backend ``name``.

    ``workers``: tasks at once (``local``: threads, none = in order in this thread; ``ray``:
    workers on the cluster, none = as many as its CPUs hold). ``address``: the Ray cluster to
    join (``host:port``); without it ``$RAY_ADDRESS``, else a local Ray is started for the run
    (in a process already connected to Ray: that cluster, and an address naming another one is
    an error). An unreachable cluster, or one whose head does not answer within
    ``connect_timeout_s`` (``ray``; default 30 s,
    :data:`~movingfashion.executors.ray_backend.CONNECT_TIMEOUT_S`), is a :class:`ConfigError`
    (exit 2) raised before anything is written.
    """
    factory = check_executor(name)
    if name != "ray":
        if address:
            raise ConfigError(
                "it is only read by --executor ray",
                where="--ray-address",
                hint="add --executor ray",
            )
        return factory(workers, show_progress=show_progress)
    timeout = {} if connect_timeout_s is None else {"connect_timeout_s": connect_timeout_s}
    return factory(workers=workers, address=address, show_progress=show_progress, **timeout)
