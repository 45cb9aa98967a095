"""A review pick landing while ``mf publish`` verifies or zips the folder (outside the dataset's
lock) neither makes publish report a break nor leaves a zip mixing the folder before and after the
pick: the verify and the zip are done again under the lock, so the zip written always verifies."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

import cleaning.publish.release as release_mod
from annotations.tracklet_files import (
    dataset_lock,
    read_video_tracklets,
    set_official_tracklet,
    write_video_tracklets,
)
from cleaning.publish import publish
from movingfashion.archive.at_rest import DATASET_LOCK
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import verify_dataset
from movingfashion.media.probe import probe_video
from schemas.catalog import Catalog
from schemas.dataset import Tracklet, VideoTracklets
from schemas.official import read_official
from tests.cleaning.lock_probe import lock_taken


def _two_tracklets(out: Path, pid: str, video: str) -> Path:
    """``video``'s tracklet file with two tracklets, the first the ground truth, and the manifest."""
    info = probe_video(out / video)
    boxes = [{0: [1.0, 2.0, 30.0, 40.0]}, {0: [5.0, 6.0, 50.0, 60.0]}]
    vt = VideoTracklets(
        product_id=pid,
        video=video,
        frames=info.frames,
        width=info.width,
        height=info.height,
        tracklets=[Tracklet(video=video, boxes=b) for b in boxes],
        ground_truth=0,
    )
    path = write_video_tracklets(out, vt, shared=False)
    set_official_tracklet(out, vt)
    assert refresh(out)
    return path


def _pick(out: Path, path: Path, *, then: object = None) -> None:
    """A review pick of the other tracklet, as the review page applies it under the dataset's
    lock: the tracklet file, the split file, the manifest; ``then()`` runs between the first and
    the others (a reader seeing the folder half-way)."""
    with dataset_lock(out):
        vt = read_video_tracklets(path)
        vt.ground_truth = 1 - (vt.ground_truth or 0)
        write_video_tracklets(out, vt)
        if callable(then):
            then()
        set_official_tracklet(out, vt)
        refresh(out, [path.relative_to(out).as_posix()])


@pytest.fixture
def picked_folder(cleaned_world, catalog_copy, tmp_path) -> tuple[Path, Path]:
    """A published folder with one tracklet file (two tracklets) to pick on."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
    pid, entry = sorted(read_official(out / "train.json").items())[0]
    path = _two_tracklets(out, pid, entry.video_paths[0])
    assert verify_dataset(out).ok
    return out, path


def test_a_pick_while_the_folder_is_zipped_leaves_a_zip_that_verifies(
    picked_folder, cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    out, path = picked_folder
    copy = shutil.copyfileobj
    zipped: list[bool] = []  # per manifest.json zipped: whether the dataset's lock was held

    def pick_after_the_manifest(fsrc, fdst, *args, **kwargs):
        res = copy(fsrc, fdst, *args, **kwargs)
        if str(getattr(fsrc, "name", "")).endswith("/manifest.json"):
            zipped.append(lock_taken(out / DATASET_LOCK))
            if len(zipped) == 1:
                _pick(out, path)  # the zip holds the old manifest, the new file comes later
        return res

    monkeypatch.setattr(shutil, "copyfileobj", pick_after_the_manifest)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out, archive=True)
    monkeypatch.undo()
    assert res["verify"]["ok"] and res["archive"]
    archive = Path(res["archive"]["path"])
    zipfile.ZipFile(archive).extractall(tmp_path / "unzipped")
    report = verify_dataset(tmp_path / "unzipped" / out.name)
    assert report.ok, [b.describe() for b in report.breaks]  # was: tracklet file, train.json differ
    inside = read_video_tracklets(tmp_path / "unzipped" / out.name / path.relative_to(out))
    assert inside.ground_truth == 1  # the pick is in it
    assert zipped == [False, True]  # zipped again, picks kept waiting meanwhile
    assert not [p for p in archive.parent.iterdir() if p.name.endswith(".part")]


def test_a_pick_while_publish_verifies_is_not_reported_as_a_break(
    picked_folder, cleaned_world, catalog_copy, monkeypatch
):
    out, path = picked_folder
    verify = release_mod.verify_dataset
    reports: list[bool] = []

    def pick_during_the_verify(root, **kwargs):
        if reports:
            report = verify(root, **kwargs)
        else:  # the verify reads the new tracklet file and the old manifest
            box: list = []
            _pick(out, path, then=lambda: box.append(verify(root, **kwargs)))
            report = box[0]
        reports.append(report.ok)
        return report

    monkeypatch.setattr(release_mod, "verify_dataset", pick_during_the_verify)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert (res["verify"]["ok"], res["verify"]["breaks"]) == (
        True,
        [],
    )  # was: tracklet file's SHA-256 differs
    assert reports == [False, True]
    assert read_video_tracklets(path).ground_truth == 1
