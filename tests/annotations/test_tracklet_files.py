"""Tracklet files belong to the video they name: a file whose ``video`` is another's is refused;
writers of tracklet and split files hold the dataset's lock, so none loses another's update."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import annotations.tracklet_files as tf
from annotations.tracklet_files import (
    dataset_lock,
    read_video_tracklets,
    set_official_tracklet,
    tracklet_file,
    write_video_tracklets,
)
from schemas.dataset import Tracklet, VideoTracklets
from schemas.errors import DataFormatError
from schemas.official import read_official


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


def _split_of_two_videos(root: Path) -> tuple[VideoTracklets, VideoTracklets]:
    """``train.json`` listing products 1 and 2 (one video each, no tracklet yet), and their tracklets."""
    doc = {
        pid: {
            "video_paths": [f"videos/{pid}_0.mp4"],
            "img_path": f"imgs/{pid}.jpg",
            "source": 1,
            "tracklets": [{}],
        }
        for pid in ("1", "2")
    }
    (root / "train.json").write_text(json.dumps(doc))
    a, b = _vt("videos/1_0.mp4", "1"), _vt("videos/2_0.mp4", "2")
    a.ground_truth = b.ground_truth = 0
    b.tracklets[0].boxes = {2: [5, 6, 20, 30]}
    return a, b


def test_concurrent_split_file_writers_keep_each_others_update(tmp_path, monkeypatch):
    """Two writers of one split file (a review pick, a CVAT import), each slow between its read and
    its write: before the lock, the second rewrote the file from its stale read."""
    a, b = _split_of_two_videos(tmp_path)
    real = tf.read_official

    def slow_read(p):
        split = real(p)
        time.sleep(0.2)  # the window in which the other writer reads the same old file
        return split

    monkeypatch.setattr(tf, "read_official", slow_read)
    threads = [threading.Thread(target=set_official_tracklet, args=(tmp_path, vt)) for vt in (a, b)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    split = read_official(tmp_path / "train.json")
    assert a.official() and b.official()
    assert split["1"].tracklets == [a.official()] and split["2"].tracklets == [b.official()]


def test_the_writers_take_the_lock_the_caller_holds(tmp_path):
    """Re-entrant: a caller holding the dataset's lock around its read-modify-write may call the
    writers, which take it too; another thread waits until the caller is done."""
    a, _ = _split_of_two_videos(tmp_path)
    done = []
    other = threading.Thread(target=lambda: (set_official_tracklet(tmp_path, a), done.append("other")))
    with dataset_lock(tmp_path):
        write_video_tracklets(tmp_path, a)
        assert set_official_tracklet(tmp_path, a) == "train.json"
        other.start()
        other.join(0.3)
        assert other.is_alive() and not done  # waiting on the lock this thread holds
        done.append("caller")
    other.join(30)
    assert done == ["caller", "other"] and (tmp_path / ".lock").is_file()


def test_a_negative_frame_is_refused_before_writing(ds):
    vt = _vt()
    vt.tracklets[0].boxes[-3] = [1, 2, 3, 4]  # a dict edit is not validated
    p = tracklet_file(ds, vt.video)
    before = p.read_bytes()
    with pytest.raises(
        DataFormatError, match=r"field 'tracklets\.0\.boxes': key '-3': .*greater than or equal to 0"
    ):
        write_video_tracklets(ds, vt)
    assert p.read_bytes() == before
    p.write_text(p.read_text().replace('"0": [', '"-3": ['))
    with pytest.raises(DataFormatError, match=r"field 'tracklets\.0\.boxes': key '-3'") as exc:
        read_video_tracklets(p)
    assert exc.value.where == str(p)
