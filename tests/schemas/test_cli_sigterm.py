"""SIGTERM (``timeout``, ``docker stop``, systemd, Slurm) stops a command as Ctrl-C does, exit 143.

It used to kill the main process at once: no ``finally`` ran, and the spawn workers of
``mf world generate --workers 2`` went on writing into the world, then waited forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import psutil
import pytest

from schemas.cli_support import run_main
from tests.polling import wait_for


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(autouse=True)
def sigterm_not_fatal_here():
    """A SIGTERM that no command handles fails the test instead of killing pytest."""

    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached the handler in force before run_main")

    before = signal.signal(signal.SIGTERM, unhandled)
    yield unhandled
    signal.signal(signal.SIGTERM, before)


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # gone meanwhile
        return ""


def _command(body) -> click.Command:
    @click.command()
    def cmd() -> None:
        body()

    return cmd


def test_sigterm_unwinds_like_ctrl_c_and_exits_143(capsys, sigterm_not_fatal_here):
    ran = []

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # not reached: the signal raises here
        finally:
            ran.append("finally")

    with pytest.raises(SystemExit) as exc:
        run_main(_command(body), [])
    assert exc.value.code == 143
    assert ran == ["finally"]
    assert "interrupted: state is saved" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is sigterm_not_fatal_here  # restored once the command is over


def test_a_command_handling_the_interrupt_itself_still_exits_143():
    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:  # as collectors' runner does: its summary, then 130
            sys.exit(130)

    with pytest.raises(SystemExit) as exc:
        run_main(_command(body), [])
    assert exc.value.code == 143


def test_ctrl_c_still_exits_130():
    def body() -> None:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exc:
        run_main(_command(body), [])
    assert exc.value.code == 130


def test_sigterm_of_world_generate_leaves_no_worker_and_no_partial_file(tmp_path):
    out = tmp_path / "world"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    argv = ["world", "generate", "--products", "30", "--seed", "7", "--workers", "2", "--out", str(out)]
    log = tmp_path / "stderr.log"
    with log.open("w") as err_file:  # not a pipe: orphans holding it would keep it open
        proc = subprocess.Popen(
            [sys.executable, "-m", "movingfashion", *argv],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    main = psutil.Process(proc.pid)
    workers: list[psutil.Process] = []
    everyone: list[psutil.Process] = []

    def rendering() -> bool:
        assert proc.poll() is None, log.read_text()
        workers[:] = [c for c in main.children(recursive=True) if "spawn_main" in _cmdline(c)]
        return len(workers) >= 2

    try:
        wait_for(rendering, "2 spawn workers started", 90)
        everyone[:] = main.children(recursive=True)  # the workers and multiprocessing's resource tracker
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)  # the workers finish the products they are rendering
        except subprocess.TimeoutExpired:
            pytest.fail("mf world generate did not end within 60s of SIGTERM")
        err = log.read_text()
        assert proc.returncode == 143, err
        assert "interrupted: state is saved" in err
        wait_for(lambda: not any(_alive(p) for p in everyone), "no process left after SIGTERM")
        assert not [p for p in out.rglob("*") if ".part" in p.name or ".tmp" in p.name]
    finally:
        for p in [main, *workers, *everyone]:
            if _alive(p):
                p.kill()
