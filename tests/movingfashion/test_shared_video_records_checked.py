"""A video two products list: each product's tracklet (its own record of the video) is checked
against the decoded video, whichever product of the video a process loads first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from movingfashion.dataset import MovingFashionDataset
from schemas.errors import DataFormatError

KW = {
    "frames": 6,
    "sampler": "all",
    "crop": "tracklet",
    "train": False,
    "crop_size": 32,
    "dtype": torch.uint8,
}
FAR = [10, 10, 5000, 5000]  # far outside the 128 x 96 frame


def _with_bad_row(root: Path, frame: int, box: list[float]) -> Path:
    """``root`` (ab_C lists 101's video, no tracklet file of its own) with ab_C's box at ``frame``."""
    train = json.loads((root / "train.json").read_text())
    train["ab_C"]["tracklets"][0][str(frame)] = box
    (root / "train.json").write_text(json.dumps(train))
    return root


def _index(ds: MovingFashionDataset, pid: str) -> int:
    return ds.product_ids.index(pid)


def _after_101(ds: MovingFashionDataset) -> None:
    """Load product 101's item first: its record of the shared video is checked (and decoded)."""
    assert ds[_index(ds, "101")]["product_id"] == "101"


@pytest.mark.parametrize("first", [False, True], ids=["alone", "after-101"])
def test_a_box_outside_the_frame_is_refused_for_the_second_product_too(shared_video_dataset, first):
    ds = MovingFashionDataset(_with_bad_row(shared_video_dataset, 10, FAR), "train", **KW)
    if first:
        _after_101(ds)
    with pytest.raises(DataFormatError, match=r"product 'ab_C'.*frame 10: box .*outside the 128x96 frame"):
        ds[_index(ds, "ab_C")]
    with pytest.raises(DataFormatError, match="outside the 128x96 frame"):  # and again: still unchecked
        ds[_index(ds, "ab_C")]


@pytest.mark.parametrize("first", [False, True], ids=["alone", "after-101"])
def test_under_skip_the_second_products_bad_frame_is_dropped_not_returned(shared_video_dataset, first):
    ds = MovingFashionDataset(_with_bad_row(shared_video_dataset, 10, FAR), "train", on_bad="skip", **KW)
    if first:
        _after_101(ds)
    item = ds[_index(ds, "ab_C")]
    assert item["product_id"] == "ab_C" and 10 not in item["frame_indices"].tolist()
    assert bool((item["boxes"][:, 2] <= 128).all())  # no box left unclipped
    assert any(pid == "ab_C" and "frame 10" in why for pid, why in ds.skipped)
    video = next(r for r in ds.products if r.product_id == "ab_C").videos[0]
    assert (video.num_frames, video.width, video.height) == (60, 128, 96)  # its own record learnt them


@pytest.mark.parametrize("first", [False, True], ids=["alone", "after-101"])
def test_a_frame_past_the_end_is_a_bad_row_for_the_second_product_too(shared_video_dataset, first):
    root = _with_bad_row(shared_video_dataset, 200, [20, 40, 50, 80])  # the video holds 60 frames
    ds = MovingFashionDataset(root, "train", **KW)
    if first:
        _after_101(ds)
    with pytest.raises(DataFormatError, match="frame 200 is past the video's last frame 59"):
        ds[_index(ds, "ab_C")]
    skip = MovingFashionDataset(root, "train", on_bad="skip", **KW)
    if first:
        _after_101(skip)
    item = skip[_index(skip, "ab_C")]  # only that frame goes, not the whole video
    assert item["product_id"] == "ab_C" and "skipped" not in item
    assert max(item["frame_indices"].tolist()) == 54  # its last boxed frame inside the video


def test_check_checks_every_products_record_of_a_shared_video(shared_video_dataset):
    ds = MovingFashionDataset(_with_bad_row(shared_video_dataset, 10, FAR), "train", on_bad="skip", **KW)
    ds.check()
    assert any(pid == "ab_C" and "frame 10" in why for pid, why in ds.skipped)
    video = next(r for r in ds.products if r.product_id == "ab_C").videos[0]
    assert video.num_frames == 60 and 10 not in video.boxes
