"""Run the ``mf`` command in-process through its real entry rule (``run_main``)."""

from __future__ import annotations

from movingfashion.app.cli import cli
from schemas.cli_support import run_main


def run_mf(args: list[str], capsys) -> tuple[int, str, str]:
    """``mf ARGS``: (exit code, stdout, stderr)."""
    try:
        run_main(cli, args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
