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


def _listening() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    return server


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
    server = _listening()
    lost: list[str] = []
    watch = _watch(server.getsockname()[1], lost)
    try:
        time.sleep(1.5)  # well past lost_after_s
        assert lost == []
    finally:
        watch.stop()
        server.close()


def test_a_head_gone_mid_run_is_reported_once_with_the_address_and_what_to_do():
    server = _listening()
    port = server.getsockname()[1]
    lost: list[str] = []
    watch = _watch(port, lost)
    time.sleep(0.4)
    server.close()  # the head's machine dies
    assert _wait_for(lambda: lost), "the lost head was not reported"
    time.sleep(0.5)
    assert len(lost) == 1
    line = lost[0]
    assert f"127.0.0.1:{port}" in line and "--ray-address" in line
    assert "mid-run" in line and "rerun the same command" in line
    watch.stop()


def test_a_stopped_or_disconnected_watch_reports_nothing():
    for stop_it in (True, False):
        server = _listening()
        lost: list[str] = []
        watch = _watch(server.getsockname()[1], lost, connected=lambda stop_it=stop_it: stop_it)
        if stop_it:
            watch.stop()
        server.close()
        time.sleep(1.5)
        assert lost == [], "stopped" if stop_it else "disconnected (ray.shutdown) driver"


def test_the_default_ends_the_process_with_one_line_and_exit_status_1():
    """The driver's main thread is stuck inside Ray when its head dies: the watch ends the run."""
    server = _listening()
    port = server.getsockname()[1]
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
    threading.Timer(0.3, server.close).start()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "never here" not in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"127.0.0.1:{port}" in lines[0]


def test_the_message_says_for_how_long_and_names_the_option():
    line = lost_message("10.0.0.5:6379", 15.2)
    assert "10.0.0.5:6379" in line and "15s" in line and "--ray-address" in line
