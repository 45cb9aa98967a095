"""Tracklet files belong to the video they name: a file whose ``video`` is another's is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError


def _vt(video: str = "videos/1_0.mp4", product_id: str = "1") -> VideoTracklets:
    t = Tracklet(video=video, boxes={0: [1, 2, 30, 40]}, class_id=1)
    return VideoTracklets(product_id=product_id, video=video, frames=5, width=64, height=48, tracklets=[t])


@pytest.fixture
def ds(tmp_path) -> Path:
    write_video_tracklets(tmp_path, _vt())
    return tmp_path


def _rewrite(p: Path, fn) -> None:
    doc = json.loads(p.read_text())
    fn(doc)
    p.write_text(json.dumps(doc))


def test_a_file_reads_back_with_its_own_video_and_product(ds):
    p = tracklet_file(ds, "videos/1_0.mp4")
    assert read_video_tracklets(p, video="videos/1_0.mp4", product_id="1") == _vt()


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.update(video="videos/2_0.mp4"), "field 'video'"),
        (lambda d: d["tracklets"][0].update(video="videos/2_0.mp4"), "field 'tracklets.0.video'"),
    ],
)
def test_a_file_naming_another_video_is_refused(ds, edit, field):
    p = tracklet_file(ds, "videos/1_0.mp4")
    _rewrite(p, edit)
    with pytest.raises(DataFormatError, match=field) as exc:
        read_video_tracklets(p)
    assert exc.value.where == str(p) and "videos/2_0.mp4" in exc.value.message and exc.value.hint


def test_the_split_files_video_and_product_must_match(ds):
    p = tracklet_file(ds, "videos/1_0.mp4")
    with pytest.raises(DataFormatError, match="field 'video'.*'other/1_0.mp4'") as exc:
        read_video_tracklets(p, video="other/1_0.mp4")  # same stem, another folder
    assert exc.value.where == str(p)
    with pytest.raises(DataFormatError, match="field 'product_id'.*'2'"):
        read_video_tracklets(p, product_id="2")
