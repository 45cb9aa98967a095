"""SIGTERM (``timeout``, ``docker stop``, systemd, Slurm) stops a command as Ctrl-C does, exit 143.

It used to kill the main process at once: no ``finally`` ran, and the spawn workers of
``mf world generate --workers 2`` went on writing into the world, then waited forever."""

from __future__ import annotations

import contextlib
import io
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


class _InterruptedFile(io.RawIOBase):
    """A file whose third write is where the signal lands (SIGTERM sent to this process, or
    Ctrl-C raised): inside torch's zip writer, as during a checkpoint save."""

    def __init__(self, sigterm: bool) -> None:
        self.writes = 0
        self.sigterm = sigterm

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.writes += 1
        if self.writes == 3:
            if self.sigterm:
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise KeyboardInterrupt
        return len(b)


@pytest.mark.parametrize(("sigterm", "code"), [(True, 143), (False, 130)])
def test_an_interrupt_during_a_checkpoint_save_is_an_interrupt_not_a_failure(
    sigterm, code, capsys, monkeypatch, tmp_path
):
    """torch's zip writer turns the interrupt into ``RuntimeError: unexpected pos`` on its way
    out; the command still stops as interrupted (143 / 130, the one line), not exit 1. With
    ultralytics imported (the detector backend), whose ``torch.save`` retries on that
    RuntimeError, the interrupt was lost and a second archive written after the first's bytes."""
    import ultralytics.utils  # noqa: F401 - replaces torch.save, as any run with the detector does

    import schemas.atomic
    from movingfashion.models.checkpoints import save_torch_file

    target = _InterruptedFile(sigterm)

    @contextlib.contextmanager
    def opened(path, mode):
        yield target

    monkeypatch.setattr(schemas.atomic, "atomic_open", opened)

    def body() -> None:
        import torch

        save_torch_file({"w": torch.zeros(100_000), "b": torch.ones(1000)}, tmp_path / "last.pt")

    with pytest.raises(SystemExit) as exc:
        run_main(_command(body), [])
    assert exc.value.code == code
    err = capsys.readouterr().err
    assert "interrupted: state is saved" in err and "Traceback" not in err
    assert target.writes == 3  # no retry wrote on after the interrupt


def test_an_error_without_an_interrupt_behind_it_stays_an_error():
    def body() -> None:
        try:
            raise ValueError("first")
        except ValueError:
            raise RuntimeError("second") from None

    with pytest.raises(RuntimeError, match="second"):
        run_main(_command(body), [])


def test_a_second_sigterm_during_the_cleanup_does_not_cut_it_short(capsys):
    """The first SIGTERM unwinds; one sent again meanwhile (``kill`` repeated, a supervisor) is
    counted, not raised inside the cleanup (Ray's shutdown was cut short: exit 1, agents left)."""
    cleaned = []

    def body() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the second one, while the cleanup runs
            time.sleep(0.05)
            cleaned.append("done")

    with pytest.raises(SystemExit) as exc:
        run_main(_command(body), [])
    assert exc.value.code == 143 and cleaned == ["done"]
    assert "interrupted: state is saved" in capsys.readouterr().err


def test_after_a_sigterm_the_exit_hooks_are_not_cut_short():
    """A process that ends because of SIGTERM (the default handler was in force before the
    command) ignores further ones while its exit hooks run; otherwise the handler is restored."""
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:

        def body() -> None:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)

        with pytest.raises(SystemExit):
            run_main(_command(body), [])
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        with pytest.raises(SystemExit) as exc:  # no SIGTERM: the default is put back
            run_main(_command(lambda: sys.exit(0)), [])
        assert exc.value.code == 0
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        run_main(_command(lambda: None), [])
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)
