"""SIGTERM while ``--executor ray`` starts its local Ray: the command's interrupt (exit 143 and
the one line), not Ray's own handler (``sys.exit(15)``: exit 15 and no line), and what the start
had set up is shut down.

``ray.init`` is replaced by a stand-in that does what Ray's does first (installs its SIGTERM
handler through ``ray._private.utils.set_sigterm_handler``) and then takes its time starting, during
which the signal arrives; a real start takes 5-40 s and cannot be hit on cue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import ray

from movingfashion.executors import ray_backend
from schemas.cli_support import run_main


@pytest.fixture(autouse=True)
def sigterm_not_fatal_here():
    """A SIGTERM no command handles fails the test instead of killing pytest."""

    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached the handler in force before run_main")

    before = signal.signal(signal.SIGTERM, unhandled)
    yield
    signal.signal(signal.SIGTERM, before)


def test_sigterm_while_the_local_ray_starts_is_the_commands_interrupt(monkeypatch, capsys):
    calls: list[str] = []

    def slow_init(**kw) -> None:
        ray._private.utils.set_sigterm_handler(lambda signum, frame: sys.exit(signum))  # as ray.init does
        calls.append("init")
        os.kill(os.getpid(), signal.SIGTERM)  # the signal lands while the processes start
        time.sleep(0.5)
        calls.append("init finished")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", slow_init)
    monkeypatch.setattr(ray, "shutdown", lambda *a, **k: calls.append("shutdown"))

    @click.command()
    def cmd() -> None:
        ray_backend.connect(None)

    with pytest.raises(SystemExit) as exc:
        run_main(cmd, [])
    assert exc.value.code == 143
    # held until the start returned (cut short, the raylet's agents would be left), then shut down
    assert calls == ["init", "init finished", "shutdown"]
    assert "interrupted: state is saved" in capsys.readouterr().err
    assert ray._private.utils.set_sigterm_handler.__module__ == "ray._private.utils"  # put back


def test_without_a_commands_handler_ray_keeps_its_own(monkeypatch):
    """Outside a command (a notebook, a library user), Ray's start sets its handler as usual."""
    installed: list = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(
        ray, "init", lambda **kw: installed.append(ray._private.utils.set_sigterm_handler.__module__)
    )
    assert ray_backend.connect(None) is True
    assert installed == ["ray._private.utils"]


SHUTDOWN_SCRIPT = """
import os, signal, sys
import ray
from movingfashion.executors.ray_backend import shutdown_keeping_sigterm
got = []
signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))  # as keeping_sigterm does
shutdown_keeping_sigterm()
os.kill(os.getpid(), signal.SIGTERM)
signal.raise_signal(signal.SIGTERM)
print("handled", len(got))
"""


def test_after_ray_shuts_down_sigterm_still_reaches_the_commands_handler():
    """Freeing Ray's core worker resets the C-level SIGTERM handler to the default although
    Python still names its own: a SIGTERM then killed the command (exit -15, no line)."""
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root), "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert "handled 2" in r.stdout
