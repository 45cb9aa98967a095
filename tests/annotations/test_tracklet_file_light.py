"""tracklet_file names a product's file of a video several products list from the split files'
video lists alone: no split file is parsed whole with its boxes (before: read_official_rows of
every split file, the first time per version of the files)."""

from __future__ import annotations

from pathlib import Path

import schemas.official as official
from annotations.tracklet_files import _SHARED, tracklet_file
from tests.movingfashion.helpers import edit_split, make_archive


def test_tracklet_file_reads_no_split_file_whole(tmp_path, monkeypatch):
    root = make_archive(tmp_path / "mf")
    # r2 lists h2's video too (a video two products list), and h1 holds a bad box elsewhere
    edit_split(root, "test", lambda d: d["r2"]["video_paths"].__setitem__(0, "videos/h2_0.mp4"))
    edit_split(root, "train", lambda d: d["h1"]["tracklets"][0].update({"1": [9, 9, 1, 1]}))
    whole: list[str] = []
    load = official._load
    monkeypatch.setattr(official, "_load", lambda p: whole.append(Path(p).name) or load(p))
    official._entry_spans.clear()
    _SHARED.clear()
    assert tracklet_file(root, "videos/h2_0.mp4", "r2").name == "h2_0@r2.json"
    assert tracklet_file(root, "videos/r1_0.mp4", "r1").name == "r1_0.json"
    assert tracklet_file(root, "videos/h1_0.mp4", "h1").name == "h1_0.json"
    assert whole == []
