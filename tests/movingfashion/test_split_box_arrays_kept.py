"""Opening a split builds each tracklet's box array once: the array the split reader's one-pass
check built (``OfficialEntry.box_array``) becomes the record's table, with the records a table
built anew gives."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import movingfashion.frame_boxes as frame_boxes
import schemas.geometry as geometry
from movingfashion.dataset import MovingFashionDataset
from schemas.official import OfficialEntry, read_official
from tests.movingfashion.test_other_split_listing import _new_process, _records_digest


@pytest.fixture
def root(tiny_dataset, tmp_path):
    """The tiny folder without its tracklet file (whose boxes make a table of their own)."""
    out = tmp_path / "ds"
    shutil.copytree(tiny_dataset, out)
    shutil.rmtree(out / "tracklets")
    return out


def _counted(monkeypatch) -> list[int]:
    """The boxes of each array the record tables build themselves (``plain_box_array`` in
    :mod:`movingfashion.frame_boxes`) from here on."""
    calls: list[int] = []
    real = geometry.plain_box_array

    def counted(boxes):
        calls.append(len(boxes))
        return real(boxes)

    monkeypatch.setattr(frame_boxes, "plain_box_array", counted)
    return calls


@pytest.mark.parametrize("on_bad", ["raise", "skip"])
def test_each_tracklet_s_boxes_become_an_array_once(root, monkeypatch, on_bad):
    tracklets = [len(t) for e in read_official(root / "train.json").values() for t in e.tracklets if t]
    MovingFashionDataset(root, "test")  # train.json's listing kept: not parsed below
    _new_process()
    calls = _counted(monkeypatch)
    ds = MovingFashionDataset(root, "train", on_bad=on_bad)
    assert tracklets and calls == []  # each took the reader's array
    monkeypatch.undo()
    kept = _records_digest(ds)
    monkeypatch.setattr(OfficialEntry, "box_array", lambda self, i: None, raising=False)
    _new_process()
    assert _records_digest(MovingFashionDataset(root, "train", on_bad=on_bad)) == kept


def test_the_kept_array_is_the_tracklet_s_boxes_in_its_order(tmp_path):
    """Product q has a box the one-pass check leaves to the per-box validators (an int past
    2**53): its entry keeps no array."""
    path = tmp_path / "train.json"
    path.write_text(
        '{"p": {"video_paths": ["videos/a.mp4", "videos/b.mp4"], "img_path": "imgs/p.jpg",'
        ' "source": 1, "tracklets": [{"3": [1, 2, 3, 4], "1": [0.5, 1, 2.5, 9]}, {}]},'
        ' "q": {"video_paths": ["videos/c.mp4"], "img_path": "imgs/q.jpg", "source": 1,'
        ' "tracklets": [{"0": [9007199254740993, 0, 9007199254740993, 1]}]}}'
    )
    split = read_official(path, box_arrays=True)
    np.testing.assert_array_equal(split["p"].box_array(0), [[1, 2, 3, 4], [0.5, 1, 2.5, 9]])
    assert split["p"].box_array(1).shape == (0, 4) and split["p"].box_array(2) is None
    assert split["q"].box_array(0) is None
    assert read_official(path)["p"].box_array(0) is None  # not asked for
