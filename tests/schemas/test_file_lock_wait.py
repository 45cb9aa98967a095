"""A held lock file is waited for in the open: the wait says so once on stderr, gives up after a
limit with one line naming the file and its holder (exit 2), and the holder is recorded in the
lock file while it holds it (the catalog's write lock keeps the same contract)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas.atomic import (
    _PARTIAL,
    _UMASK,
    LOCK_WAIT_ENV,
    LockBusy,
    file_lock,
    lock_holder,
    lock_wait_s,
    partial_path,
    sweep_partials,
)
from schemas.errors import ConfigError, MFError

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from schemas.atomic import file_lock
with file_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held_elsewhere(tmp_path):
    """``tmp_path/.lock`` held by another process (``file_lock``) until the test ends."""
    lock = tmp_path / ".lock"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield lock, child.pid
    finally:
        child.kill()
        child.wait()


def test_a_held_lock_says_once_that_it_waits_then_gives_up_naming_the_holder(held_elsewhere, caplog):
    lock, pid = held_elsewhere
    caplog.set_level(logging.WARNING)
    start = time.monotonic()
    with pytest.raises(LockBusy) as exc, file_lock(lock, timeout_s=1.0, who="another writer writes it"):
        pass
    # gave up at its limit, not after the default 180 s (the upper bound leaves a loaded machine room)
    assert 1.0 <= time.monotonic() - start < 60
    err = exc.value
    assert isinstance(err, MFError) and err.exit_code == 2 and err.where == str(lock)
    text = str(err)
    assert len(text.splitlines()) == 1
    assert f"pid {pid}" in text and "python -c" in text and "still held after 1 s" in text
    assert "another writer writes it" in text and LOCK_WAIT_ENV in text  # and what to do
    waits = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waits) == 1, waits
    assert str(lock) in waits[0] and f"pid {pid}" in waits[0] and "up to 1 s" in waits[0]


def test_a_try_fails_at_once_and_waits_for_nothing(held_elsewhere, caplog):
    lock, pid = held_elsewhere
    start = time.monotonic()
    with pytest.raises(LockBusy, match=f"held by pid {pid}"), file_lock(lock, timeout_s=0, hint="do this"):
        pass
    assert time.monotonic() - start < 30  # no wait: far below the default limit (180 s)


def test_the_holder_is_recorded_while_held_and_cleared_on_release(tmp_path):
    lock = tmp_path / ".lock"
    with file_lock(lock):
        rec = lock_holder(lock)
        assert rec is not None and rec["pid"] == os.getpid() and rec["since"] and rec["command"]
        with file_lock(lock):  # re-entrant: still held, still recorded
            assert lock_holder(lock) == rec
        assert lock_holder(lock) == rec
    assert lock.read_bytes() == b"" and lock_holder(lock) is None


@pytest.mark.parametrize("content", [b"", b"garbage{", b'{"pid": "x"}', b"[1, 2]", b"\xff\xfe"])
def test_a_garbled_or_empty_lock_file_is_no_holder_and_is_locked_as_usual(tmp_path, content):
    lock = tmp_path / ".lock"
    lock.write_bytes(content)
    assert lock_holder(lock) is None
    with file_lock(lock, timeout_s=0):
        assert lock_holder(lock)["pid"] == os.getpid()
    assert lock.read_bytes() == b""


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_holder_record_of_a_process_gone_names_nobody(tmp_path):
    lock = tmp_path / ".lock"
    lock.write_text(f'{{"pid": {_dead_pid()}, "host": "{socket.gethostname()}", "command": "x"}}')
    assert lock_holder(lock) is None


def test_another_thread_holding_it_is_waited_for_with_the_same_limit(tmp_path):
    lock = tmp_path / ".lock"
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with file_lock(lock):
            taken.set()
            done.wait(30)

    th = threading.Thread(target=hold)
    th.start()
    try:
        assert taken.wait(60), "the holding thread never took the lock"
        with pytest.raises(LockBusy, match="another thread of this process"), file_lock(lock, timeout_s=0.3):
            pass
    finally:
        done.set()
        th.join(10)
    with file_lock(lock, timeout_s=0):  # free again
        pass


def test_the_wait_limit_comes_from_the_environment(monkeypatch, held_elsewhere):
    lock, _ = held_elsewhere
    monkeypatch.delenv(LOCK_WAIT_ENV, raising=False)
    assert lock_wait_s() == 180.0
    monkeypatch.setenv(LOCK_WAIT_ENV, "0.5")
    assert lock_wait_s() == 0.5
    with pytest.raises(LockBusy, match="after 0.5 s"), file_lock(lock):
        pass
    monkeypatch.setenv(LOCK_WAIT_ENV, "inf")
    assert lock_wait_s() == float("inf")
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(LOCK_WAIT_ENV, bad)
        with pytest.raises(ConfigError, match=LOCK_WAIT_ENV):
            lock_wait_s()


def test_a_wait_that_ends_in_time_takes_the_lock(tmp_path):
    lock = tmp_path / ".lock"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD.replace("time.sleep(60)", "time.sleep(1)"), str(lock)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    with file_lock(lock, timeout_s=30):
        assert lock_holder(lock)["pid"] == os.getpid()
    child.wait(30)


def test_partial_paths_are_unique_swept_temporary_names(tmp_path):
    target = tmp_path / "videos" / "p_0.mp4"
    a, b = partial_path(target), partial_path(target)
    assert a != b and a.is_file() and b.is_file() and a.parent == target.parent
    for p in (a, b):
        m = _PARTIAL.fullmatch(p.name)
        assert m is not None and m["name"] == target.name and int(m["pid"]) == os.getpid()
    assert a.stat().st_mode & 0o777 == 0o666 & ~_UMASK  # a new file's usual mode, not mkstemp's
    assert sweep_partials(target.parent) == 0  # a live writer's files stay
    a.rename(a.with_name(a.name.replace(f"-{os.getpid()}.", f"-{_dead_pid()}.")))
    assert sweep_partials(target.parent) == 1 and b.is_file()  # a killed writer's go


def test_a_lock_released_by_its_last_user_is_forgotten(tmp_path):
    """One entry per lock in use, not one per path ever locked (a run over 15K items takes a
    lock per item): nested, threaded and sequential uses all leave nothing behind."""
    from schemas import atomic

    before = len(atomic._HELD)
    for i in range(50):
        lock = tmp_path / f"item{i}.lock"
        with file_lock(lock), file_lock(lock):  # re-entrant in the holder's thread
            pass
    assert len(atomic._HELD) == before

    order: list[str] = []
    path = tmp_path / "shared.lock"

    def second() -> None:
        with file_lock(path, timeout_s=10):
            order.append("second")

    with file_lock(path):
        t = threading.Thread(target=second)
        t.start()
        deadline = time.monotonic() + 60  # the second waits for the same entry
        while atomic._HELD[os.path.realpath(path)].users < 2:
            assert time.monotonic() < deadline, "the second thread never waited for the lock"
            time.sleep(0.01)
        order.append("first")
    t.join(10)
    assert order == ["first", "second"]
    assert len(atomic._HELD) == before
