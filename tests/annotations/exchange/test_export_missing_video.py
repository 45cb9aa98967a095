"""``mf-tracklets export --format fiftyone`` of a dataset whose video is missing (deleted, or gone
while the export ran): that video is skipped and listed (its product and path, what to do), the
others exported, exit 1 (was: a FileNotFoundError traceback, then an exit 2 that stopped at the
missing video); once the video is back the rerun finishes, the files already exported kept."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

from tests.damage import assert_same_tree
from tests.mf_cli import run_tracklets


def test_a_missing_video_is_skipped_and_listed_and_the_rerun_finishes(gt_dataset, tmp_path, capsys):
    ds, out = tmp_path / "ds", tmp_path / "fo"
    shutil.copytree(gt_dataset, ds)
    videos = sorted((ds / "videos").iterdir())
    video = videos[0]  # the first one: the export goes on past it
    kept = video.rename(tmp_path / video.name)
    argv = ["export", "--format", "fiftyone", "--dataset", str(ds), "--out", str(out)]
    code, stdout, err = run_tracklets(argv, capsys)
    assert code == 1 and "Traceback" not in err, err
    [line] = [ln.strip() for ln in stdout.splitlines() if "failed" in ln]  # names its product and path
    assert re.fullmatch(rf"failed: product \S+: {re.escape(str(video))}: video not found.*rerun.*", line), (
        line
    )
    assert stdout.startswith(f"{len(videos) - 1} videos, "), stdout
    data = {p.name for p in (out / "data").iterdir()}
    assert video.name not in data and {v.name for v in videos[1:]} <= data
    assert not (out / "labels" / f"{video.stem}.xml").exists()
    assert not list(out.rglob("*.part"))
    before = {p.name: p.stat().st_ino for p in (out / "data").iterdir()}
    kept.rename(video)
    code, stdout, err = run_tracklets([*argv, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["failed"] == [], err
    after = {p.name: p.stat().st_ino for p in (out / "data").iterdir()}
    assert len(after) == len(videos) and before.items() <= after.items()


def test_a_missing_video_of_a_mot_export_is_skipped_and_listed(gt_dataset, tmp_path, capsys):
    """MOT's seqinfo.ini needs the video's frame rate: a missing video got frameRate=30 without a
    word; it is now skipped and listed as in a FiftyOne export (exit 1, --json: failed)."""
    ds, out = tmp_path / "ds", tmp_path / "mot"
    shutil.copytree(gt_dataset, ds)
    videos = sorted((ds / "videos").iterdir())
    video = videos[0]
    video.rename(tmp_path / video.name)
    argv = ["export", "--format", "mot", "--dataset", str(ds), "--out", str(out)]
    code, stdout, err = run_tracklets([*argv, "--json"], capsys)
    doc = json.loads(stdout)
    assert code == 1 and doc["videos"] == len(videos) - 1, err
    [row] = doc["failed"]
    assert row["path"] == str(video) and row["error"].startswith(f"{video}: video not found"), row
    assert sorted(p.name for p in out.iterdir()) == sorted(v.stem for v in videos[1:])
    code, stdout, _ = run_tracklets(argv, capsys)
    assert code == 1 and re.search(rf"failed: product \S+: {re.escape(str(video))}: video not found", stdout)


def test_an_unreadable_video_of_a_mot_export_is_skipped_and_its_earlier_export_kept(
    gt_dataset, tmp_path, capsys, monkeypatch
):
    """A video that is there but does not open got a made-up frameRate=30 (its rate read as 0):
    it is now skipped and listed as a missing one (exit 1, --json: failed, what to do), and its
    sequence folder of an earlier export is kept as it was (the rerun once it is replaced: as a
    missing video's, above)."""
    ds, out = tmp_path / "ds", tmp_path / "mot"
    shutil.copytree(gt_dataset, ds)
    videos = sorted((ds / "videos").iterdir())
    video = videos[0]
    good = video.read_bytes()
    argv = ["export", "--format", "mot", "--dataset", str(ds), "--out", str(out), "--json"]
    assert run_tracklets(argv, capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    video.write_bytes(b"not a video " * 100)
    code, stdout, err = run_tracklets(argv, capsys)
    doc = json.loads(stdout)
    assert code == 1 and doc["videos"] == len(videos) - 1, err
    [row] = doc["failed"]
    assert row["path"] == str(video) and row["error"].startswith(f"{video}: video unreadable"), row
    assert "a MOT export reads its frame rate" in row["error"] and "rerun" in row["error"], row
    assert_same_tree({p: p.read_bytes() for p in out.rglob("*") if p.is_file()}, before)
    # one that opens but gives no frame rate: the same
    import movingfashion.media.probe as probe

    video.write_bytes(good)
    real = probe.probe_video
    monkeypatch.setattr(
        probe, "probe_video", lambda p: real(p) if Path(p) != video else dataclasses.replace(real(p), fps=0.0)
    )
    code, stdout, err = run_tracklets(argv, capsys)
    [row] = json.loads(stdout)["failed"]
    assert code == 1 and "video unreadable (no frame rate" in row["error"], row
    assert_same_tree({p: p.read_bytes() for p in out.rglob("*") if p.is_file()}, before)


def test_an_unreadable_video_of_a_fiftyone_export_is_skipped_as_in_a_mot_export(gt_dataset, tmp_path, capsys):
    """A video that is there but does not open as one was copied into ``data/`` with its labels
    (the folder then held a file no video tool reads); it is now skipped and listed as a MOT export skips it
    (the same check): named, counted in --json's failed, exit 1, its earlier files kept."""
    ds, out = tmp_path / "ds", tmp_path / "fo"
    shutil.copytree(gt_dataset, ds)
    videos = sorted((ds / "videos").iterdir())
    video = videos[0]
    argv = ["export", "--format", "fiftyone", "--dataset", str(ds), "--out", str(out), "--json"]
    assert run_tracklets(argv, capsys)[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "data" / video.name).unlink()  # the hard link would follow the damaged bytes: a copy
    (out / "data" / video.name).write_bytes(before[out / "data" / video.name])
    video.unlink()
    video.write_bytes(b"not a video " * 100)
    code, stdout, err = run_tracklets(argv, capsys)
    doc = json.loads(stdout)
    assert code == 1 and doc["videos"] == len(videos) - 1, err
    [row] = doc["failed"]
    assert row["path"] == str(video) and row["error"].startswith(f"{video}: video unreadable"), row
    assert "a FiftyOne export needs it" in row["error"] and "rerun" in row["error"], row
    assert_same_tree({p: p.read_bytes() for p in out.rglob("*") if p.is_file()}, before)
