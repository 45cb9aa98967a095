"""``df2_from_dataset`` (phase 1's pairs when no DeepFashion2 set is at hand, the demo's SEAM step)
writes its images atomically, as it writes their annotations: a full disk leaves no image cut short
under its final name (was: a plain write, so a full disk left a cut-short JPEG, or a whole one
without its annotation), and the error names the image."""

from __future__ import annotations

import errno
import os

import pytest

from movingfashion.seam.phase1 import df2_from_dataset
from schemas.errors import LocalFault


def test_a_full_disk_leaves_no_image_cut_short(tiny_dataset, tmp_path, monkeypatch):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # every atomic write syncs before its rename
    with pytest.raises(LocalFault) as err:
        df2_from_dataset(tiny_dataset, tmp_path / "df2", frames_per_video=2)
    assert err.value.path == str(tmp_path / "df2" / "train" / "image" / "000001.jpg")
    assert [p.name for p in (tmp_path / "df2").rglob("*") if p.is_file()] == []
