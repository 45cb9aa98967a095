"""A republish keeps the keys of a product's split-file entry that are no field of the official
format (added by hand or by another tool), where they were: it reads and writes the format
unchanged."""

from __future__ import annotations

import json

from cleaning.publish.split_files import _write_official_splits
from schemas.dataset import DatasetEntry
from schemas.official import read_official


def _entry(pid: str, split: str) -> DatasetEntry:
    return DatasetEntry(
        product_id=pid,
        df2_class=1,
        partition="regular",
        split=split,
        video_paths=[f"videos/{pid}_0.mp4"],
        img_path=f"imgs/{pid}.jpg",
    )


def test_unknown_keys_of_a_product_stay_in_place_also_when_it_moves_split(tmp_path):
    old = {
        "p1": {
            "video_paths": ["videos/p1_0.mp4"],
            "note": {"by": "maintainer", "n": [1, 2.5]},
            "img_path": "imgs/p1.jpg",
            "source": 1,
            "tracklets": [{"0": [1, 2, 3, 4]}],
        },
        "p2": {"video_paths": ["videos/p2_0.mp4"], "img_path": "imgs/p2.jpg", "source": 1, "colour": "red"},
    }
    (tmp_path / "train.json").write_text(json.dumps(old))
    old_splits = {"train": read_official(tmp_path / "train.json"), "test": {}}
    _write_official_splits(tmp_path, [_entry("p1", "train"), _entry("p2", "test")], old_splits)
    train = json.loads((tmp_path / "train.json").read_text())
    assert list(train["p1"]) == ["video_paths", "note", "img_path", "source", "tracklets"]
    assert train["p1"]["note"] == {"by": "maintainer", "n": [1, 2.5]}
    assert json.loads((tmp_path / "test.json").read_text())["p2"]["colour"] == "red"
