"""Atomic writes: all or nothing, and ordinary file permissions."""

from __future__ import annotations

import os
import stat

import pytest

from schemas.atomic import atomic_open, atomic_write_bytes, atomic_write_json


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
