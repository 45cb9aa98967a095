"""The command-line options every stage shares to pick its executor (``--executor``,
``--ray-address``), as click decorators; choices come from the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from movingfashion.executors import EXECUTORS

F = TypeVar("F", bound=Callable[..., Any])

_EXECUTOR: dict[str, Any] = {
    "type": click.Choice(sorted(EXECUTORS)),
    "default": None,
    "help": "Executor: local (this machine) or ray (a Ray cluster) [default: the config's, local].",
}
_ADDRESS: dict[str, Any] = {
    "metavar": "HOST:PORT",
    "default": None,
    "help": "Ray cluster to join with --executor ray: the head's port, 6379 unless `ray start --head "
    "--port` said otherwise (a head that does not answer within 30 s is an error) [default: "
    "$RAY_ADDRESS, else a local Ray started for this run].",
}


def executor_params() -> list[click.Parameter]:
    """``--executor`` and ``--ray-address`` as click parameters (for commands built by hand)."""
    return [click.Option(["--executor"], **_EXECUTOR), click.Option(["--ray-address"], **_ADDRESS)]


def executor_options(fn: F) -> F:
    """Decorate a click command with ``--executor`` and ``--ray-address``."""
    return click.option("--executor", **_EXECUTOR)(click.option("--ray-address", **_ADDRESS)(fn))
