"""A rerun of ``mf-tracklets build`` with nothing to build reads each done tracklet file light
(:func:`annotations.builder.read_done_file`): whether to build its video again and its ground
truth for the split files, without validating every box and score of 15K files twice. What it
decides and writes is what the full read gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.builder import build_dataset_tracklets, merge_official
from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets
from tests.annotations.test_reruns import FakeBuilder, two_product_dataset
from tests.damage import assert_same_tree

VIDEO = "videos/pa_0.mp4"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    ds = two_product_dataset(tmp_path / "ds")
    assert build_dataset_tracklets(ds, builder=FakeBuilder()).processed == 2
    return ds


def _folder(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _strip_split_tracklets(root: Path) -> None:
    data = json.loads((root / "train.json").read_text())
    for entry in data.values():
        entry.pop("tracklets", None)
    (root / "train.json").write_text(json.dumps(data))


def test_a_rerun_with_nothing_to_build_validates_no_tracklet_file_in_full(built, full_reads):
    before = _folder(built)
    rep = build_dataset_tracklets(built, builder=FakeBuilder())
    assert (rep.processed, rep.skipped, rep.rebuilt) == (0, 2, {})
    assert full_reads == []  # was 4: each file validated by redo_reason and again by merge_official
    assert_same_tree(_folder(built), before)


def test_the_split_files_get_the_ground_truth_the_full_read_gives(built, full_reads):
    _strip_split_tracklets(built)
    build_dataset_tracklets(built, builder=FakeBuilder())
    assert full_reads == []
    got = json.loads((built / "train.json").read_text())
    for pid, video in (("pa", VIDEO), ("pb", "videos/pb_0.mp4")):
        want = read_video_tracklets(tracklet_file(built, video)).official()
        assert got[pid]["tracklets"] == [want] and list(want) == ["0", "1", "2", "3", "4"]


def test_a_ground_truth_its_record_does_not_name_is_validated_and_merged(built):
    """A review pick (another ground truth than the one built) and a hand edit (boxes as ints,
    frames out of order) are read as the full read reads them."""
    p = tracklet_file(built, VIDEO)
    vt = read_video_tracklets(p)
    write_video_tracklets(built, vt.model_copy(update={"ground_truth": 1}))  # a pick: tracklet 1
    data = json.loads(p.read_text())
    data["tracklets"][1]["boxes"] = {"2": [1, 2, 30, 40], "0": [5, 5, 9, 9]}
    p.write_text(json.dumps(data))
    _strip_split_tracklets(built)
    assert merge_official(built) == ["train.json"]
    got = json.loads((built / "train.json").read_text())["pa"]["tracklets"]
    assert got == [read_video_tracklets(p).official()] == [{"0": [5, 5, 9, 9], "2": [1, 2, 30, 40]}]
    assert FakeBuilder().redo_reason(built, next(j for j in _jobs(built) if j.product_id == "pa")) is None


def _jobs(root: Path):
    from annotations.builder import load_splits, video_jobs

    return video_jobs(load_splits(root))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["tracklets"][0]["boxes"].update({"07": [1, 1, 5, 5]}),  # ground truth frame "07"
        lambda d: d["tracklets"][0]["boxes"].update({"3": [1, 1, 5, float("nan")]}),
        lambda d: d.update(extra=1),  # a key the file does not have
        lambda d: d["tracklets"][1].update(colour="red"),
        lambda d: d["tracklets"][1].update(video="videos/pb_0.mp4"),  # another video's tracklet
        lambda d: d.update(ground_truth=5),
        lambda d: d.update(detector=3),
    ],
    ids=["gt-frame-key", "gt-nan", "file-key", "tracklet-key", "tracklet-video", "gt-index", "detector"],
)
def test_a_file_the_full_read_refuses_is_built_again_and_not_merged(built, damage, caplog):
    p = tracklet_file(built, VIDEO)
    data = json.loads(p.read_text())
    damage(data)
    p.write_text(json.dumps(data))
    job = next(j for j in _jobs(built) if j.product_id == "pa")
    assert FakeBuilder().redo_reason(built, job) == "unreadable tracklet file"
    split = (built / "train.json").read_bytes()
    assert merge_official(built) == [] and (built / "train.json").read_bytes() == split
    assert f"train.json: the split file keeps what it had ({p}" in caplog.text


def test_another_products_file_is_refused_in_the_full_reads_words(built, caplog):
    p = tracklet_file(built, VIDEO)
    data = json.loads(p.read_text())
    data["product_id"] = "pb"
    p.write_text(json.dumps(data))
    job = next(j for j in _jobs(built) if j.product_id == "pa")
    assert FakeBuilder().redo_reason(built, job) == "another product's or video's file"
    merge_official(built)
    assert "but the split files list 'videos/pa_0.mp4' under product 'pa'" in caplog.text


def test_merging_keeps_tracklets_beyond_the_videos_an_entry_lists(built, caplog):
    """An entry with more tracklets than videos (a real archive's quirk, or a hand edit): the
    merge wrote only one per video and dropped the rest without a word; it keeps them and says so."""
    data = json.loads((built / "train.json").read_text())
    pid = sorted(data)[0]
    extra = {"3": [1.0, 2.0, 3.0, 4.0]}
    data[pid]["tracklets"] = [*data[pid]["tracklets"], extra]
    (built / "train.json").write_text(json.dumps(data))
    with caplog.at_level("WARNING", logger="annotations"):
        merge_official(built)
    after = json.loads((built / "train.json").read_text())
    assert after[pid]["tracklets"][-1] == extra and len(after[pid]["tracklets"]) == len(
        data[pid]["tracklets"]
    )
    assert f"product {pid} lists 2 tracklets for 1 video(s)" in caplog.text
