"""A Ctrl-C that lands once a command's outcome is settled (its result printed, the exit rule
applied: :func:`schemas.cli_support.exit_if_failed`) no longer turns it into exit 130: the audit
saw ``mf training-copy`` print its whole success document, then exit 130 (a SIGINT at the end)."""

from __future__ import annotations

import json
import os
import signal
import time

import click
import pytest

from schemas.cli_support import emit, exit_if_failed, run_main


def _command(late_exit_rule: bool) -> click.Command:
    @click.command()
    def cmd() -> None:
        emit({"ok": True, "built": 3}, True)
        if late_exit_rule:
            exit_if_failed(0)
        os.kill(os.getpid(), signal.SIGINT)  # as if it landed in the teardown after the output
        time.sleep(0.05)  # a signal raises at the next bytecode: before this returns

    return cmd


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Ctrl-C as a command started from a shell has it (Python's KeyboardInterrupt), whatever the
    test process was given: a pytest-xdist worker runs with SIGINT ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_after_the_exit_rule_keeps_the_printed_success(capsys):
    before = signal.getsignal(signal.SIGINT)
    run_main(_command(late_exit_rule=True), [])  # was: SystemExit(130) under the document
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": True, "built": 3} and "interrupted" not in err
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works again once run_main is over


def test_a_ctrl_c_before_the_exit_rule_still_stops_the_command(capsys):
    """A server prints where it serves, then runs until Ctrl-C: that stays exit 130."""
    with pytest.raises(SystemExit) as exc:
        run_main(_command(late_exit_rule=False), [])
    assert exc.value.code == 130 and "interrupted" in capsys.readouterr().err
