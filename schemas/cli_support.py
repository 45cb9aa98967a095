"""Shared CLI plumbing: error handling (exit 2, one line), --debug, --json output, progress."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from schemas.errors import MFError

T = TypeVar("T")


def run_main(cmd: click.Command, argv: list[str] | None = None) -> None:
    """Run a click command; :class:`MFError` -> one line on stderr and exit 2.

    ``--debug`` anywhere on the command line shows the traceback instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    try:
        cmd.main(args=args, standalone_mode=False, prog_name=None)
    except MFError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted: state is saved, rerun the same command to resume", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SystemExit:
        raise


def emit(result: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print a result as JSON (``--json``) or as human text."""
    if as_json:
        click.echo(json.dumps(_plain(result), indent=2, sort_keys=True, default=str))
    else:
        click.echo(human(result) if human else str(result))


def _plain(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    return obj


def progress(
    iterable: Iterable[T],
    *,
    desc: str,
    total: int | None = None,
    unit: str = "it",
    disable: bool | None = None,
) -> Iterable[T]:
    """A tqdm progress bar on stderr (hidden when stderr is not a terminal unless forced)."""
    from tqdm import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(
        iterable, desc=desc, total=total, unit=unit, disable=disable, file=sys.stderr, dynamic_ncols=True
    )


json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON result.")
