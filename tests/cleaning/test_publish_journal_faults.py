"""`mf publish`'s journal on a full disk: the fault names the journal, so the one error line says
which file could not be written (was: a bare ``OSError`` naming no file, "error: disk full"), and
the journal keeps only whole lines for the rerun."""

from __future__ import annotations

import errno
import os

import pytest

from cleaning.publish import JOURNAL_FILE
from cleaning.publish.publisher import _Publisher
from cleaning.publish.state import _read_journal
from schemas.errors import LocalFault


def test_a_full_disk_writing_the_journal_names_it(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    out.mkdir()
    pub = _Publisher(tmp_path / "collected", out)
    pub._journal("videos/a.mp4")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(LocalFault) as err:
        pub._journal("videos/b.mp4")
    assert err.value.reason == "disk_full" and err.value.path == str(out / JOURNAL_FILE)
    monkeypatch.undo()
    pub._journal("videos/c.mp4")
    journaled, _ = _read_journal(out / JOURNAL_FILE)
    assert {"videos/a.mp4", "videos/c.mp4"} <= journaled
