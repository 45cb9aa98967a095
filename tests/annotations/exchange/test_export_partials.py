"""``mf-tracklets export`` removes the partial files a killed export left in ``--out``; a live
writer's file stays."""

from __future__ import annotations

from tests.mf_cli import run_tracklets
from tests.movingfashion.archive.test_pack_partials import leftovers


def test_a_killed_exports_partial_files_are_swept(gt_dataset, tmp_path, capsys):
    out = tmp_path / "mot"
    dead, live = leftovers(out / "video1" / "gt", "gt.txt")
    code, _, err = run_tracklets(
        ["export", "--format", "mot", "--dataset", str(gt_dataset), "--out", str(out)], capsys
    )
    assert code == 0, err
    assert not dead.exists() and live.exists()
