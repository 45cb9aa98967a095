"""Opening a dataset and keying its feature bank parse each split file once: the other split and
a split read before are asked for their listing (schemas.official.split_listing), with the same
result as reading them again."""

from __future__ import annotations

import json
import shutil

import pytest

from movingfashion.dataset import MovingFashionDataset
from movingfashion.richer_files import _tracklet_shared
from movingfashion.seam.features import media_stamps
from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_rows
from schemas.tracklet_names import shared_videos


@pytest.fixture
def root(tiny_dataset, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(tiny_dataset, out)
    return out


def test_both_splits_open_with_each_file_parsed_once_more_at_most(root, split_loads):
    train = MovingFashionDataset(root, "train")
    test = MovingFashionDataset(root, "test")
    assert split_loads.count("train.json") == 1  # the test split's shared videos: train's listing
    assert split_loads.count("test.json") == 2  # its boxes, for the test dataset
    assert len(train) and len(test)


def test_the_shared_videos_are_those_of_reading_the_other_split_again(root):
    """Product 999 of test.json lists product 101's video of train.json."""
    test = json.loads((root / "test.json").read_text())
    test["999"] = {**test["102"], "video_paths": ["videos/101_0.mp4"], "tracklets": [{}]}
    (root / "test.json").write_text(json.dumps(test))
    split = root / "train.json"
    train = read_official(split)
    rows = [
        (pid, e.video_paths)
        for part in (train, read_official_rows(root / "test.json")[0])
        for pid, e in part.items()
    ]
    assert _tracklet_shared(root, split, train) == shared_videos(rows) == {"videos/101_0.mp4"}


def test_media_stamps_after_the_dataset_opened_parse_nothing(root, split_loads):
    ds = MovingFashionDataset(root, "train")
    before = list(split_loads)
    stamps = media_stamps(root, ds.split_path)
    assert split_loads == before
    rels = {r for e in read_official_rows(ds.split_path)[0].values() for r in (*e.video_paths, e.img_path)}
    assert [s.split(":")[0] for s in stamps] == sorted(rels)


def _products(ds: MovingFashionDataset) -> list[tuple[str, str, dict]]:
    return [(rec.product_id, v.rel_path, v.boxes) for rec in ds.products for v in rec.videos]


def test_a_dataset_given_the_rows_read_parses_nothing_and_opens_alike(root, split_loads):
    """``split_rows`` (what build_bank read for its cache key): the split is not parsed again, and
    the dataset is the one that reads the file, bad rows included (raised or skipped alike)."""
    split = root / "train.json"
    rows = read_official_rows(split)
    split_loads.clear()
    given = MovingFashionDataset(root, "train", split_rows=rows)
    assert "train.json" not in split_loads
    assert _products(given) == _products(MovingFashionDataset(root, "train"))
    data = json.loads(split.read_text())
    data["101"]["video_paths"] = []  # a bad row
    split.write_text(json.dumps(data))
    rows = read_official_rows(split)
    with pytest.raises(DataFormatError) as want:
        MovingFashionDataset(root, "train")
    with pytest.raises(DataFormatError) as got:
        MovingFashionDataset(root, "train", split_rows=rows)
    assert str(got.value) == str(want.value) and "product '101'" in str(got.value)
    split_loads.clear()
    skipped = MovingFashionDataset(root, "train", split_rows=rows, on_bad="skip")
    assert "train.json" not in split_loads
    assert skipped.skipped == MovingFashionDataset(root, "train", on_bad="skip").skipped == rows[1]
    assert _products(skipped) == _products(MovingFashionDataset(root, "train", on_bad="skip"))
