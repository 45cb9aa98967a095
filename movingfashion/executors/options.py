"""The command-line options every stage shares to pick its executor (``--executor``,
``--ray-address``) and torch's CPU threads (``--threads``), as click decorators; executor choices
come from the registry."""

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


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value:
        import torch

        torch.set_num_threads(value)
    return value


def threads_option(fn: F) -> F:
    """Decorate a click command with ``--threads``: torch's CPU threads for this process, set as
    the option is read (the command's function does not take it)."""
    return click.option(
        "--threads",
        type=click.IntRange(0),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_set_threads,
        help="torch CPU threads of this process's models (0: torch's default, as when absent) "
        "[default: torch's, one per core]. Scores "
        "depend on it in the 4th decimal: a Ray run (one thread per one-CPU task) equals a local run "
        "with --threads 1 byte for byte.",
    )(fn)
