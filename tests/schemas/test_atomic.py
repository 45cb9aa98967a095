"""Atomic writes: all or nothing, and ordinary file permissions; the advisory file lock."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from schemas.atomic import atomic_open, atomic_write_bytes, atomic_write_json, file_lock
from schemas.errors import LocalFault


def test_written_files_get_the_umask_permissions_not_0600(tmp_path):
    target = tmp_path / "train.json"
    atomic_write_json(target, {"a": 1})
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "train.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["train.json"]


def test_mtime_is_set_before_the_rename(tmp_path, monkeypatch):
    """A file written with ``mtime_ns`` never appears under its name with another date (publish's
    state file: a crash between writing and dating it would trust files newer than the run)."""
    target, stamp = tmp_path / "state.json", 1_600_000_000_123_456_789
    seen: list[int] = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append(os.stat(src).st_mtime_ns)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    atomic_write_bytes(target, b"{}\n", mtime_ns=stamp)
    assert seen == [stamp]
    assert target.stat().st_mtime_ns == stamp and target.read_bytes() == b"{}\n"


def test_file_lock_is_reentrant_in_a_thread(tmp_path):
    """A function holding the lock may call another that takes it (no deadlock)."""
    lock = tmp_path / "ds" / ".lock"
    with file_lock(lock), file_lock(lock), file_lock(tmp_path / "ds" / "." / ".lock"):
        assert lock.is_file()
    with file_lock(lock):  # released by the outermost exit
        pass


def test_file_lock_makes_other_threads_wait(tmp_path):
    lock, order = tmp_path / ".lock", []
    held = threading.Event()

    def other() -> None:
        held.wait()
        with file_lock(lock):
            order.append("other")

    th = threading.Thread(target=other)
    th.start()
    with file_lock(lock):
        held.set()
        th.join(0.3)  # the other thread waits on the lock
        assert th.is_alive()
        order.append("first")
    th.join(10)
    assert order == ["first", "other"]


CHILD = """
import sys, time
from schemas.atomic import file_lock
with file_lock(sys.argv[1]):
    print(time.monotonic_ns(), flush=True)
"""


def test_file_lock_makes_another_process_wait(tmp_path):
    """Held here, another process's ``file_lock`` (and a plain ``flock``) waits until released."""
    lock = tmp_path / ".lock"
    root = Path(__file__).resolve().parents[2]
    with file_lock(lock):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(lock)], cwd=root, stdout=subprocess.PIPE, text=True
        )
        with open(lock) as fh, pytest.raises(BlockingIOError):
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file: refused while held
        time.sleep(1.0)
        assert child.poll() is None  # still waiting
        released = time.monotonic_ns()
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and int(out) >= released


def test_file_lock_that_cannot_be_created_is_a_local_fault(tmp_path, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(LocalFault, match="permission denied") as exc, file_lock(tmp_path / ".lock"):
        pass
    assert exc.value.where == str(tmp_path / ".lock")
    monkeypatch.undo()
    with file_lock(tmp_path / ".lock"):  # nothing was left held
        pass


def _record_syncs(monkeypatch) -> list[tuple[str, str]]:
    """(what, path) of each fsync and rename from now on (a descriptor named by /proc)."""
    events: list[tuple[str, str]] = []
    fsync, replace = os.fsync, os.replace

    def logged_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return fsync(fd)

    def logged_replace(src, dst):
        events.append(("replace", str(dst)))
        return replace(src, dst)

    monkeypatch.setattr(os, "fsync", logged_fsync)
    monkeypatch.setattr(os, "replace", logged_replace)
    return events


def test_the_folder_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "train.json"
    events = _record_syncs(monkeypatch)
    atomic_write_json(target, {"a": 1})
    renamed = events.index(("replace", str(target)))
    assert ("fsync", str(tmp_path)) in events[renamed + 1 :]
    assert events[renamed - 1][0] == "fsync" and events[renamed - 1][1].endswith(".part")  # the data first


def test_folders_made_for_a_file_are_recorded_in_their_parents(tmp_path, monkeypatch):
    target = tmp_path / "a" / "b" / "train.json"
    events = _record_syncs(monkeypatch)
    atomic_write_json(target, {"a": 1})
    synced = [p for what, p in events if what == "fsync"]
    assert {str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a" / "b")} <= set(synced)
    assert synced.index(str(tmp_path)) < synced.index(str(tmp_path / "a"))  # top down


@pytest.mark.parametrize("name", ["t" * 250 + ".json", "é" * 120 + ".json", "x.json"])
def test_a_legal_long_name_is_written_atomically_and_its_temp_is_one_of_ours(tmp_path, name):
    from schemas.atomic import _PARTIAL

    assert len(name.encode()) <= 255
    target = tmp_path / name
    with atomic_open(target, "w") as fh:
        fh.write("{}\n")
        (temp,) = [p.name for p in tmp_path.iterdir()]
    assert len(temp.encode()) <= 255 and _PARTIAL.fullmatch(temp)  # sweep_partials would know it
    assert target.read_text() == "{}\n" and [p.name for p in tmp_path.iterdir()] == [name]


def test_json_with_a_lone_surrogate_is_written_escaped_and_reads_back_the_same(tmp_path):
    target = tmp_path / "out.json"
    obj = {"caption": "half \ud83d", "plain": "café"}
    atomic_write_json(target, obj)
    assert json.loads(target.read_bytes()) == obj
    atomic_write_json(target, {"plain": "café"})  # text that UTF-8 can hold stays unescaped
    assert "café" in target.read_text("utf-8")


def test_streamed_write_replaces_only_when_the_bytes_differ(tmp_path):
    """``write_chunks_if_changed`` (the tables of a 15K-video dataset: hundreds of MB, never held
    whole) keeps a file whose bytes are the same, mtime included, and replaces one that differs
    anywhere: in a chunk, by a missing tail or by an extra one; no temporary file is left."""
    import os

    from schemas.atomic import write_chunks_if_changed

    p = tmp_path / "t.jsonl"
    assert write_chunks_if_changed(p, [b"ab", b"cd\n"]) and p.read_bytes() == b"abcd\n"
    os.utime(p, ns=(10**18, 10**18))
    assert not write_chunks_if_changed(p, [b"a", b"bcd", b"\n"])
    assert p.stat().st_mtime_ns == 10**18
    for chunks in ([b"abcd"], [b"abcd\nX"], [b"abXd\n"], []):
        assert write_chunks_if_changed(p, chunks) and p.read_bytes() == b"".join(chunks)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["t.jsonl"]


def test_a_zombie_writer_is_dead_and_its_partials_are_swept(tmp_path):
    """A killed writer's worker that has exited but is not reaped yet (a zombie, for about a second
    after a SIGKILL of its parent) wrote nothing more: a rerun sweeping right then removes its
    partial files (they stayed for good, since later reruns found the output done and never swept)."""
    import subprocess
    import time

    from schemas.atomic import host_tag, pid_alive, sweep_partials

    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    try:
        assert not pid_alive(child.pid)
        part = tmp_path / f".video.mp4.{host_tag()}-{child.pid}.abc123.part"
        part.write_bytes(b"half")
        assert sweep_partials(tmp_path) == 1 and not part.exists()
        assert pid_alive(os.getpid())
    finally:
        child.wait()
