"""A process pool's workers end when their parent dies, even of SIGKILL (no cleanup runs there):
they used to wait on their call queue forever, after finishing and writing what they had."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schemas import worker_life
from tests.polling import wait_for

PARENT = textwrap.dedent(
    """
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from schemas import worker_life

    def note_pid(path):
        with open(path + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(path + ".tmp", path)
        time.sleep(120)  # busy when the parent dies

    def watch_only(parent_pid):  # the watcher thread alone (what works where prctl does not)
        worker_life.exit_with_parent(parent_pid, pdeathsig=False, poll_s=0.1)

    if __name__ == "__main__":
        out, how = sys.argv[1], sys.argv[2]
        if how == "watch":
            opts = {"initializer": watch_only, "initargs": (os.getpid(),)}
        else:
            opts = worker_life.dying_with_parent()
        with ProcessPoolExecutor(2, mp_context=get_context("spawn"), **opts) as pool:
            list(pool.map(note_pid, [out + "/w0", out + "/w1"]))
    """
)


def _gone(pid: int) -> bool:
    """No such process any more, or a zombie (its parent, init here, reaps it when it will)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("how", ["pdeathsig", "watch"])
def test_pool_workers_end_when_their_parent_is_killed(tmp_path, how):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path), how], env=env, cwd=root)
    pids: list[int] = []
    try:
        wait_for(lambda: all((tmp_path / w).exists() for w in ("w0", "w1")), "both workers started", 60)
        pids = [int((tmp_path / w).read_text()) for w in ("w0", "w1")]
        parent.kill()  # SIGKILL: nothing of the parent's own runs
        parent.wait(10)
        wait_for(lambda: all(_gone(p) for p in pids), f"workers {pids} ended after their parent's SIGKILL")
    finally:
        parent.kill()
        for pid in pids:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_options_chain_a_pool_initializer():
    opts = worker_life.dying_with_parent(print, ("hello",))
    assert set(opts) == {"initializer", "initargs"}
    assert opts["initargs"][0] == os.getpid() and opts["initargs"][2:] == (print, ("hello",))


def test_set_pdeathsig_is_a_no_op_off_linux(monkeypatch):
    monkeypatch.setattr(worker_life.sys, "platform", "darwin")
    assert worker_life._set_pdeathsig(signal.SIGTERM) is False


def test_a_pool_workers_log_lines_and_warnings_are_escaped(tmp_path):
    """A spawned worker shares the command's stderr but not its logging setup: what it logs or
    warns (a site's text in a message) shows control characters as escapes there, as the
    command's own lines do, instead of reaching the terminal raw."""
    code = textwrap.dedent(
        """
        import logging, warnings
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context
        from schemas import worker_life

        if __name__ == "__main__":
            with ProcessPoolExecutor(1, mp_context=get_context("spawn"), **worker_life.dying_with_parent()) as pool:
                pool.submit(logging.getLogger("mf.site").warning, "title \\x1b]0;pwned\\x07 here").result()
                pool.submit(warnings.warn, "reason \\x1b[2J phrase").result()
        """
    )
    script = tmp_path / "parent.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "title \\x1b]0;pwned\\x07 here" in run.stderr and "reason \\x1b[2J phrase" in run.stderr, (
        run.stderr
    )
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr
