"""``mf-tracklets export --format fiftyone`` of a dataset whose video is missing (deleted, or gone
while the export ran): one error line naming the video and what to do, exit 2 (was: a
FileNotFoundError traceback); once the video is back the rerun finishes, the files already
exported kept."""

from __future__ import annotations

import shutil

from tests.mf_cli import run_tracklets


def test_a_missing_video_is_named_and_the_rerun_finishes(gt_dataset, tmp_path, capsys):
    ds, out = tmp_path / "ds", tmp_path / "fo"
    shutil.copytree(gt_dataset, ds)
    video = sorted((ds / "videos").iterdir())[-1]
    kept = video.rename(tmp_path / video.name)
    argv = ["export", "--format", "fiftyone", "--dataset", str(ds), "--out", str(out)]
    code, _, err = run_tracklets(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {video}: video not found") and "rerun" in lines[0]
    assert not list(out.rglob("*.part"))
    before = {p.name: p.stat().st_ino for p in (out / "data").iterdir()}
    kept.rename(video)
    code, _, err = run_tracklets(argv, capsys)
    assert code == 0, err
    after = {p.name: p.stat().st_ino for p in (out / "data").iterdir()}
    assert len(after) == len(list((ds / "videos").iterdir())) and before.items() <= after.items()
