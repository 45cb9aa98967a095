"""A review pick (or an import) puts one video's ground truth into its split file by rewriting
that entry's bytes alone, and keeps where every entry now is for the new version of the file:
the review queue built next checks no box again (before: the whole file was read, written, and
then scanned again by the next queue build, ~8-15 s CPU at 15K products)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

import schemas.official as official
from annotations.review.queue import build_queue
from annotations.tracklet_files import set_official_tracklets
from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_entry, read_official_heads, split_identity
from tests.movingfashion.helpers import edit_split, make_archive


@dataclass
class _Truth:
    product_id: str
    video: str
    boxes: dict[str, list[float]]

    def official(self) -> dict[str, list[float]]:
        return self.boxes


def _scans(monkeypatch) -> list[str]:
    seen: list[str] = []
    scan, unvouched = official._scan_heads, official._unvouched
    monkeypatch.setattr(official, "_scan_heads", lambda *a: seen.append("scan") or scan(*a))
    monkeypatch.setattr(official, "_unvouched", lambda *a: seen.append("check") or unvouched(*a))
    return seen


def test_a_pick_rewrites_its_entry_alone_and_the_next_queue_checks_no_box(tmp_path, monkeypatch):
    root = make_archive(tmp_path / "mf")
    edit_split(
        root, "train", lambda d: d.update({"z9": dict(d["h1"], note="ü é", video_paths=["videos/z9_0.mp4"])})
    )  # non-ASCII after
    path = root / "train.json"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte order mark
    build_queue(root, sample_rate=1.0)  # the page's queue: the heads read once
    before = path.read_bytes()
    new = {"0": [1, 2, 30, 40], "5": [2.5, 3, 31, 41]}
    seen = _scans(monkeypatch)
    picks = [_Truth("r1", "videos/r1_1.mp4", new), _Truth("h1", "videos/h1_0.mp4", {})]
    assert set_official_tracklets(root, picks) == ["train.json"]
    whole = read_official(path)
    assert whole["r1"].tracklets[1] == new and whole["h1"].tracklets == [{}]
    old = json.loads(before.decode("utf-8-sig"))
    assert whole["r1"].tracklets[0] == old["r1"]["tracklets"][0] and whole["z9"].note == "ü é"
    # the other entries keep their bytes: the file's text outside r1 and h1 is unchanged
    after = path.read_bytes()
    assert after.startswith(b"\xef\xbb\xbf") and after.endswith(before[-200:])
    q = build_queue(root, sample_rate=1.0)
    assert seen == []  # neither scanned nor checked again: what the pick wrote was checked alone
    assert dict(q.by_stem["r1_1"].split_boxes.items()) == {0: [1, 2, 30, 40], 5: [2.5, 3, 31, 41]}
    identity = split_identity(path)
    for pid, entry in whole.items():  # every entry found where it now is
        got = read_official_entry(path, pid, entry.video_paths[0], identity=identity)
        assert got == entry, pid
    assert read_official_heads(path) == {
        pid: official._head_of(e) for pid, e in whole.items()
    }  # the heads kept equal a whole read's


def test_a_pick_into_an_entry_with_a_bad_box_is_refused_and_writes_nothing(tmp_path):
    root = make_archive(tmp_path / "mf")
    edit_split(root, "train", lambda d: d["r1"]["tracklets"][0].update({"2": [9, 9, 1, 1]}))
    before = (root / "train.json").read_bytes()
    with pytest.raises(DataFormatError, match="product 'r1'"):
        set_official_tracklets(root, [_Truth("r1", "videos/r1_1.mp4", {"0": [1, 2, 3, 4]})])
    assert (root / "train.json").read_bytes() == before
    # another product of that file is written: the bad box is not its own
    assert set_official_tracklets(root, [_Truth("h1", "videos/h1_0.mp4", {"0": [1, 2, 3, 4]})])
    assert b'"2": [9, 9, 1, 1]' in (root / "train.json").read_bytes()
