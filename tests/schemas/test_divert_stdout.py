"""``divert_stdout``: while a library's threads may print on stdout (Ray's driver prints a worker's
death there), what is printed goes to stderr and ``emit`` still writes the result to stdout."""

from __future__ import annotations

import json
import sys

from schemas.cli_support import divert_stdout, emit


def test_prints_go_to_stderr_and_the_result_to_stdout(capsys):
    real = sys.stdout
    restore = divert_stdout()
    try:
        print("(raylet) A worker died or was killed")
        emit({"ok": 1}, True)
    finally:
        restore()
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": 1} and err == "(raylet) A worker died or was killed\n"
    assert sys.stdout is real
    restore()  # twice: nothing more happens
    assert sys.stdout is real


def test_diverts_nest_and_may_end_in_any_order(capsys):
    real = sys.stdout
    first, second = divert_stdout(), divert_stdout()
    first()
    print("noise")
    emit("result", False)
    second()
    assert sys.stdout is real
    assert capsys.readouterr() == ("result\n", "noise\n")
