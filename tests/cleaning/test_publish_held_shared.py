"""The ground truth of a held-back video's kept tracklet file goes into the split files once the
product is published again: for a video several products list, the file is the product's own,
``tracklets/<video stem>@<product>.json`` (:mod:`schemas.tracklet_names`)."""

from __future__ import annotations

from pathlib import Path

from annotations.tracklet_files import write_video_tracklets
from cleaning.publish.split_files import _write_official_splits
from schemas.dataset import DatasetEntry, Tracklet, VideoTracklets
from schemas.official import read_official

BOX = [1.0, 2.0, 30.0, 40.0]
VIDEO = "videos/v.mp4"


def _entry(pid: str, videos: list[str]) -> DatasetEntry:
    return DatasetEntry(
        product_id=pid,
        df2_class=1,
        partition="regular",
        split="train",
        video_paths=videos,
        img_path=f"imgs/{pid}.jpg",
    )


def _kept_file(out: Path, pid: str, *, shared: bool) -> Path:
    vt = VideoTracklets(
        product_id=pid,
        video=VIDEO,
        frames=2,
        width=64,
        height=64,
        tracklets=[Tracklet(video=VIDEO, boxes={0: BOX})],
        ground_truth=0,
    )
    return write_video_tracklets(out, vt, shared=shared)


def _publish_again(out: Path, entries: list[DatasetEntry]) -> dict:
    made = {"src": "s" * 64, "recipe": "copy"}
    held = {VIDEO: {"product_id": "pa", **made}}  # the last publish held pa back, kept its file
    _write_official_splits(out, entries, {}, {}, {VIDEO: made}, held)
    return read_official(out / "train.json")


def test_a_shared_held_back_videos_own_file_gives_its_ground_truth(tmp_path):
    out = tmp_path / "ds"
    assert _kept_file(out, "pa", shared=True).name == "v@pa.json"
    train = _publish_again(out, [_entry("pa", [VIDEO]), _entry("pb", [VIDEO])])
    assert train["pa"].tracklets == [{"0": BOX}]
    assert train["pb"].tracklets == [{}]  # not held: nothing kept for it


def test_an_unshared_held_back_video_still_takes_its_plain_file(tmp_path):
    out = tmp_path / "ds"
    assert _kept_file(out, "pa", shared=False).name == "v.json"
    train = _publish_again(out, [_entry("pa", [VIDEO]), _entry("pb", ["videos/w.mp4"])])
    assert train["pa"].tracklets == [{"0": BOX}]
