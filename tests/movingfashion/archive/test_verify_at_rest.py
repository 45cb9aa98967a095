"""``mf verify`` of a folder another command is writing (its new files against its old manifest)
reports no break: one line names the writer (the holder of ``DATASET/.lock`` or
``.publish.lock``, or the refresh-pending mark) and it exits 2; ``--wait`` waits for the writer
and audits the folder once it is at rest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import movingfashion.archive.at_rest as at_rest
from movingfashion.archive.at_rest import (
    DATASET_LOCK,
    MARK_WRITERS,
    PUBLISH_LOCK,
    REFRESH_MARK,
    BeingWritten,
    verify_at_rest,
)
from movingfashion.archive.describe import write_manifest
from tests.mf_cli import run_mf

ROOT = Path(__file__).resolve().parents[3]

#: a writer in another process: takes the lock, rewrites train.json, says "held", then (when its
#: stdin closes, or after argv[3] seconds) describes the folder again and lets the lock go
WRITER = """
import json, sys, time
from pathlib import Path
from movingfashion.archive.describe import write_manifest
from schemas.atomic import file_lock
root, lock, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
with file_lock(root / lock, timeout_s=0):
    data = json.loads((root / "train.json").read_text())
    data["r1"]["note"] = "written by a writer"
    (root / "train.json").write_text(json.dumps(data))
    print("held", flush=True)
    if seconds:
        time.sleep(seconds)
    else:
        sys.stdin.read()
    write_manifest(root)
"""


@pytest.fixture
def folder(archive_dir, tmp_path) -> Path:
    """A copy of the tiny archive with its manifest: verifies clean."""
    root = tmp_path / "MovingFashion"
    shutil.copytree(archive_dir, root)
    write_manifest(root)
    return root


def _writer(root: Path, lock: str, seconds: float = 0) -> subprocess.Popen:
    """:data:`WRITER` started, once it holds ``lock`` and has rewritten train.json."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), lock, str(seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def _end(child: subprocess.Popen) -> None:
    assert child.stdin is not None
    child.stdin.close()
    assert child.wait(30) == 0


@pytest.mark.parametrize("lock", [DATASET_LOCK, PUBLISH_LOCK])
def test_a_folder_a_writer_holds_is_not_audited(folder, lock, capsys):
    child = _writer(folder, lock)
    try:
        code, out, err = run_mf(["verify", "--dataset", str(folder)], capsys)
    finally:
        _end(child)
    assert code == 2, out  # was: exit 1, "manifest BREAK train.json ... rerun `mf publish`"
    assert "BREAK" not in out and "mf publish`" not in out
    line = err.strip()
    assert "\n" not in line and str(folder / lock) in line and f"pid {child.pid}" in line
    assert "--wait" in line
    code, out, _ = run_mf(["verify", "--dataset", str(folder)], capsys)  # the writer has ended
    assert code == 0, out


def _end_once_waited_for(child: subprocess.Popen, caplog) -> threading.Thread:
    """A thread that ends ``child`` (a :data:`WRITER` on stdin) once a wait for it was logged,
    however long the waiter takes to get there (after 120 s without one, ends it anyway)."""

    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("waiting" in r.getMessage() for r in caplog.records):
            time.sleep(0.05)
        _end(child)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


def test_wait_audits_the_folder_once_the_writer_ends(folder, capsys, caplog):
    child = _writer(folder, DATASET_LOCK)  # holds the lock until the wait for it is seen
    ender = _end_once_waited_for(child, caplog)
    try:
        code, out, err = run_mf(["verify", "--dataset", str(folder), "--wait"], capsys)
    finally:
        ender.join(150)
        child.wait(30)
    assert code == 0, out + err
    assert "clean: every invariant holds" in out
    waits = [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()]
    assert len(waits) == 1 and f"pid {child.pid}" in waits[0]


def test_a_pending_refresh_names_the_command_and_is_not_audited(folder, capsys):
    (folder / REFRESH_MARK).write_text("build\n")
    data = json.loads((folder / "train.json").read_text())
    data["r1"]["note"] = "a build committed this"
    (folder / "train.json").write_text(json.dumps(data))
    code, out, err = run_mf(["verify", "--dataset", str(folder)], capsys)
    assert code == 2 and "BREAK" not in out  # was: exit 1, manifest BREAK
    assert str(folder / REFRESH_MARK) in err and "mf-tracklets build" in err
    assert "rerun mf-tracklets build" in err  # the fix when that build was killed
    (folder / REFRESH_MARK).unlink()
    write_manifest(folder)
    assert run_mf(["verify", "--dataset", str(folder)], capsys)[0] == 0


def test_each_build_runs_line_names_the_command_once(folder, capsys):
    """Each build run (one per shard or machine) keeps a line of its own in the mark: mf verify
    names the command, not the run's line, and once however many runs are pending."""
    (folder / REFRESH_MARK).write_text(
        "build:hostA-12-1700000000000000000-0/2\nbuild:hostB-9-1700000000000000001-1/2\n"
    )
    code, _, err = run_mf(["verify", "--dataset", str(folder)], capsys)
    assert code == 2 and "mf-tracklets build" in err
    assert "hostA" not in err and "hostB" not in err
    assert at_rest.pending_writers(folder) == ["mf-tracklets build"]


def test_a_lock_file_nobody_holds_is_a_folder_at_rest(folder, capsys):
    (folder / DATASET_LOCK).touch()
    (folder / PUBLISH_LOCK).touch()
    code, out, _ = run_mf(["verify", "--dataset", str(folder)], capsys)
    assert code == 0, out


def test_a_folder_written_while_it_is_audited_is_not_reported(folder, monkeypatch):
    real = at_rest.verify_dataset
    calls: list[int] = []

    def written_meanwhile(root, **kwargs):
        report = real(root, **kwargs)
        if not calls:  # a pick ran from start to end during the audit
            data = json.loads((folder / "train.json").read_text())
            data["r1"]["note"] = "picked"
            (folder / "train.json").write_text(json.dumps(data))
            write_manifest(folder)
        calls.append(1)
        return report

    monkeypatch.setattr(at_rest, "verify_dataset", written_meanwhile)
    with pytest.raises(BeingWritten, match="while it was audited"):
        verify_at_rest(folder)
    monkeypatch.setattr(at_rest, "WAIT_POLL_S", 0.01)
    calls.clear()
    assert verify_at_rest(folder, wait=True).ok and len(calls) == 2


def test_the_names_are_those_the_writers_use():
    """The lock and mark files are named once per layer: here, and where the writers take them."""
    from annotations.refresh_mark import BY_BUILD, BY_IMPORT, BY_PICK, REFRESH_PENDING
    from annotations.tracklet_files import LOCK_FILE
    from cleaning.publish import release, run

    assert DATASET_LOCK == LOCK_FILE == run.DATASET_LOCK == release.DATASET_LOCK
    assert PUBLISH_LOCK == run.PUBLISH_LOCK
    assert REFRESH_MARK == REFRESH_PENDING
    assert {BY_BUILD, BY_IMPORT, BY_PICK} <= set(MARK_WRITERS)
