"""Tracklet files, their build records and contact sheets are written only inside the dataset: a
``tracklets/`` (or ``sheets/``, ``.build/``) folder that is a link is refused before anything is
written (was: the build, the sheets and a review pick wrote through it; security audit D2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.builder import build_dataset_tracklets
from annotations.sheets import write_sheet
from annotations.tracklet_files import tracklet_file, write_build_record, write_video_tracklets
from schemas.dataset import Tracklet, VideoTracklets
from schemas.paths import PathEscapeError

VIDEO = "videos/1_0.mp4"


def _vt() -> VideoTracklets:
    t = Tracklet(video=VIDEO, boxes={0: [1, 2, 30, 40]}, class_id=1)
    return VideoTracklets(product_id="1", video=VIDEO, frames=5, width=64, height=48, tracklets=[t])


def _linked(tmp_path: Path, rel: str) -> tuple[Path, Path]:
    ds, elsewhere = tmp_path / "ds", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (ds / rel).parent.mkdir(parents=True, exist_ok=True)
    (ds / rel).symlink_to(elsewhere)
    return ds, elsewhere


@pytest.mark.parametrize("rel", ["tracklets", "tracklets/sheets", "tracklets/.build"])
def test_every_tracklet_writer_refuses_a_linked_folder(tmp_path, rel):
    ds, elsewhere = _linked(tmp_path, rel)
    with pytest.raises(PathEscapeError, match="link"):
        write_video_tracklets(ds, _vt())  # also a review pick's and an import's write
    with pytest.raises(PathEscapeError, match="link"):
        write_sheet(ds, _vt())
    with pytest.raises(PathEscapeError, match="link"):
        write_build_record(tracklet_file(ds, VIDEO), {"pending": True})
    with pytest.raises(PathEscapeError, match="link"):
        build_dataset_tracklets(ds)
    assert list(elsewhere.iterdir()) == []


def test_plain_folders_are_written(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    assert write_video_tracklets(ds, _vt()).parent == ds / "tracklets"
