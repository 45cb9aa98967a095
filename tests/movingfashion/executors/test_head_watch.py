"""A Ray head lost mid-run is reported in the toolkit's words: :class:`HeadWatch` probes the
head's GCS port and, once it has not answered for ``lost_after_s``, reports one line naming the
address and what to do; by default the process then ends with exit status 1."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

from movingfashion.executors.head_watch import HeadWatch, lost_message


class _Head:
    """A head's GCS port: it accepts (and drops) every probe's connection, as a live head does.
    A port that only listens holds 17 unaccepted connections at most (a backlog of 16): the
    watch's 18th probe would time out, and a slow run (a loaded machine, 10 probes a second)
    would see a head that answers go silent. :meth:`close` is the head's machine dying."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._gone = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._gone.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the timeout: look at _gone again
                continue
            conn.close()

    def close(self) -> None:
        # the accepting thread ends first: a socket closed under a blocked accept() keeps listening
        self._gone.set()
        self._thread.join()
        self.sock.close()


def _watch(port: int, lost: list[str], **kw) -> HeadWatch:
    return HeadWatch(
        "127.0.0.1", port, f"127.0.0.1:{port}", lost_after_s=0.6, every_s=0.1, on_lost=lost.append, **kw
    ).start()


def _wait_for(cond, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def test_a_head_that_answers_is_never_reported_lost():
    head = _Head()
    lost: list[str] = []
    watch = _watch(head.port, lost)
    try:
        time.sleep(1.5)  # well past lost_after_s
        assert lost == []
    finally:
        watch.stop()
        head.close()


def test_a_head_gone_mid_run_is_reported_once_with_the_address_and_what_to_do():
    head = _Head()
    port = head.port
    lost: list[str] = []
    watch = _watch(port, lost)
    time.sleep(0.4)
    head.close()  # the head's machine dies
    assert _wait_for(lambda: lost), "the lost head was not reported"
    time.sleep(0.5)
    assert len(lost) == 1
    line = lost[0]
    assert f"127.0.0.1:{port}" in line and "--ray-address" in line
    assert "mid-run" in line and "rerun the same command" in line
    watch.stop()


def test_a_stopped_or_disconnected_watch_reports_nothing():
    for stop_it in (True, False):
        head = _Head()
        lost: list[str] = []
        watch = _watch(head.port, lost, connected=lambda stop_it=stop_it: stop_it)
        if stop_it:
            watch.stop()
        head.close()
        # the watch ends either way (stopped, or silent past lost_after_s): then it said nothing
        watch._thread.join(60)
        assert not watch._thread.is_alive()
        assert lost == [], "stopped" if stop_it else "disconnected (ray.shutdown) driver"


def test_the_default_ends_the_process_with_one_line_and_exit_status_1():
    """The driver's main thread is stuck inside Ray when its head dies: the watch ends the run."""
    head = _Head()
    port = head.port
    code = (
        "import time\n"
        "from movingfashion.executors.head_watch import HeadWatch\n"
        f"HeadWatch('127.0.0.1', {port}, '127.0.0.1:{port}', lost_after_s=0.5, every_s=0.1).start()\n"
        "print('started', flush=True)\n"
        "time.sleep(30)\n"
        "print('never here')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "started"
    threading.Timer(0.3, head.close).start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "never here" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"127.0.0.1:{port}" in lines[0]


def test_the_message_says_for_how_long_and_names_the_option():
    line = lost_message("10.0.0.5:6379", 15.2)
    assert "10.0.0.5:6379" in line and "15s" in line and "--ray-address" in line
