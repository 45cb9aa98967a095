"""A full disk during `mf-tracklets build`: one line naming the fault and the path, exit 1, no
video listed as failed for it, and a rerun with room ends equal to a build that had room."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from annotations.cli import tracklets
from schemas.cli_support import run_main
from tests.damage import FullDisk, tree_sha

pytestmark = pytest.mark.slow


def _mini(gt_dataset, dst):
    shutil.copytree(gt_dataset, dst, ignore=shutil.ignore_patterns("tracklets"))
    train = json.loads((dst / "train.json").read_text())
    (dst / "train.json").write_text(json.dumps(dict(list(train.items())[:3])))
    (dst / "test.json").write_text("{}")
    return dst


def _exit_code(argv):
    try:
        run_main(tracklets, argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_build_on_a_full_disk_stops_then_a_rerun_completes(gt_dataset, tmp_path, monkeypatch, capsys):
    ref, ds = _mini(gt_dataset, tmp_path / "ref"), _mini(gt_dataset, tmp_path / "ds")
    args = ["--stride", "6", "--sheets", "--json"]
    assert _exit_code(["build", "--dataset", str(ref), *args]) == 0
    capsys.readouterr()
    # a sheet and a tracklet file fit, then the disk is full (before the file's build record)
    monkeypatch.setattr(os, "fsync", _FullOnceWritten(ds / "tracklets"))
    code = _exit_code(["build", "--dataset", str(ds), *args])
    out = capsys.readouterr()
    lines = [x for x in out.err.splitlines() if x.strip()]
    assert code == 1 and len(lines) == 1, out.err
    assert "disk full" in lines[0] and str(ds / "tracklets") in lines[0] and "Traceback" not in out.err
    assert len(list((ds / "tracklets").glob("*.json"))) == 1  # stopped at once, not at every video
    monkeypatch.undo()
    assert _exit_code(["build", "--dataset", str(ds), *args]) == 0
    rerun = json.loads(capsys.readouterr().out)
    # the written video's build record was still marked pending: it is built again
    assert rerun["failed"] == [] and rerun["processed"] == 3 and rerun["rebuilt"] == {"build interrupted": 1}
    assert tree_sha(ds) == tree_sha(ref)


class _FullOnceWritten(FullDisk):
    """``os.fsync`` failing with ENOSPC once a tracklet file is in ``folder``: the disk fills up
    right after the first video's files, however many syncs each write takes."""

    def __init__(self, folder) -> None:
        super().__init__(after=1)
        self.folder = folder

    def __call__(self, fd: int) -> None:
        if any(self.folder.glob("*.json")):
            super().__call__(fd)
        else:
            self._fsync(fd)


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def test_a_build_killed_before_the_refresh_is_refreshed_by_the_rerun(gt_dataset, tmp_path, monkeypatch):
    """Every video done but the folder's manifest, tables and card not refreshed yet: the rerun has
    nothing to build and still ends where an uninterrupted build ends (the folder verifies)."""
    import movingfashion.archive.describe as describe
    from movingfashion.archive.verify import verify_dataset

    ref, ds = _mini(gt_dataset, tmp_path / "ref"), _mini(gt_dataset, tmp_path / "ds")
    args = ["--stride", "6", "--json"]
    assert _exit_code(["build", "--dataset", str(ref), *args]) == 0

    def killed(root):
        raise _Killed

    monkeypatch.setattr(describe, "refresh", killed)
    with pytest.raises(_Killed):
        _exit_code(["build", "--dataset", str(ds), *args])
    monkeypatch.undo()
    assert _exit_code(["build", "--dataset", str(ds), *args]) == 0
    assert tree_sha(ds) == tree_sha(ref)
    assert verify_dataset(ds).check("manifest").status == "ok"
