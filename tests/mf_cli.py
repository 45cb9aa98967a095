"""Run the project's commands in-process through their real entry rule (``run_main``)."""

from __future__ import annotations

from typing import Any

from schemas.cli_support import run_main


def run_command(group: Any, args: list[str], capsys) -> tuple[int, str, str]:
    """``group ARGS`` (a click command): (exit code, stdout, stderr)."""
    try:
        run_main(group, args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_mf(args: list[str], capsys) -> tuple[int, str, str]:
    """``mf ARGS``: (exit code, stdout, stderr)."""
    from movingfashion.app.cli import cli

    return run_command(cli, args, capsys)


def run_tracklets(args: list[str], capsys) -> tuple[int, str, str]:
    """``mf-tracklets ARGS``: (exit code, stdout, stderr)."""
    from annotations.cli import tracklets

    return run_command(tracklets, args, capsys)
