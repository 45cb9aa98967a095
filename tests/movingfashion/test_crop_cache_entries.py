"""Crop-cache entries: a video two products list (each with its own boxes on it) gets one entry per
product, so each product reads its own crops; the single entry an older build kept for it goes.
An entry is served only for the tracklet boxes it was cut from; a rerun rebuilds a stale one."""

from __future__ import annotations

import json
import logging
import shutil

import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry
from tests.movingfashion.helpers import W, box_of

KW = {"seed": 5, "crop_size": 32, "frames": 6, "train": False}


def test_two_products_sharing_a_video_each_read_their_own_crops(shared_video_dataset, tmp_path):
    root = shared_video_dataset  # ab_C lists 101's video, with the boxes of its own garment there
    cache = tmp_path / "cc"
    cache.mkdir()
    for old in cache_entry(cache, "videos/101_0.mp4"):  # an older build's one entry for both
        old.write_text("{}")
    live = MovingFashionDataset(root, "train", **KW)

    assert build_crop_cache(live, cache, pool=None) == {"built": 4, "already_cached": 0, "failed": 0}
    cached = MovingFashionDataset(root, "train", crop_cache=cache, **KW)
    cached._cut = None  # every item must come from the cache: decoding would fail
    for i in range(len(live)):
        a, b = live[i], cached[i]
        assert a["product_id"] == b["product_id"] and a["video_path"] == b["video_path"]
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["boxes"], b["boxes"])
    shared = [live[i] for i in range(len(live)) if live[i]["video_path"] == "videos/101_0.mp4"]
    assert len(shared) == 2 and not torch.equal(shared[0]["frames"], shared[1]["frames"])
    assert live.shared_videos == {"videos/101_0.mp4"}
    assert not any(p.exists() for p in cache_entry(cache, "videos/101_0.mp4"))
    for pid in ("101", "ab_C"):
        meta = json.loads(cache_entry(cache, "videos/101_0.mp4", pid)[1].read_text())
        assert meta["product"] == pid
    # a rerun finds both entries
    assert build_crop_cache(live, cache, pool=None) == {"built": 0, "already_cached": 4, "failed": 0}


def _items_equal(a, b):
    return (
        a["product_id"] == b["product_id"]
        and a["video_path"] == b["video_path"]
        and a["frame_indices"].tolist() == b["frame_indices"].tolist()
        and torch.equal(a["frames"], b["frames"])
        and torch.equal(a["boxes"], b["boxes"])
    )


def _shrink_boxes(root, pid, by=3):
    """The tracklet of ``pid`` is corrected: every box shrinks by ``by`` px on each side (in the
    split JSON and in its richer tracklet file, as a rebuilt tracklet would)."""
    train = json.loads((root / "train.json").read_text())
    train[pid]["tracklets"] = [
        {f: [x + by, y + by, x2 - by, y2 - by] for f, (x, y, x2, y2) in t.items()}
        for t in train[pid]["tracklets"]
    ]
    (root / "train.json").write_text(json.dumps(train))
    for p in (root / "tracklets").glob(f"{pid}_*.json"):
        vt = json.loads(p.read_text())
        for t in vt["tracklets"]:
            t["boxes"] = {f: [x + by, y + by, x2 - by, y2 - by] for f, (x, y, x2, y2) in t["boxes"].items()}
        p.write_text(json.dumps(vt))


def test_an_entry_cut_from_other_boxes_is_not_served_and_a_rerun_rebuilds_it(tiny_dataset, tmp_path, caplog):
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    cache = tmp_path / "cc"
    assert build_crop_cache(MovingFashionDataset(root, "train", **KW), cache, pool=None)["built"] == 4
    _shrink_boxes(root, "101")

    live = MovingFashionDataset(root, "train", **KW)
    i = live.product_ids.index("101")
    truth = live[i]
    first = box_of(int(truth["frame_indices"][0]))
    assert truth["boxes"][0].tolist() == [b + d for b, d in zip(first, (3, 3, -3, -3), strict=True)]
    cached = MovingFashionDataset(root, "train", crop_cache=cache, **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        a, b = cached[i], cached[i]
    assert _items_equal(a, truth) and _items_equal(b, truth)  # the stale crops were served before
    named = [r.getMessage() for r in caplog.records if "101_0" in r.getMessage()]
    assert len(named) == 1 and "tracklet changed" in named[0] and "mf crop-cache" in named[0]

    # a rerun rebuilds exactly that entry; then every item comes from the cache again
    assert build_crop_cache(live, cache, pool=None) == {"built": 1, "already_cached": 3, "failed": 0}
    meta = json.loads(cache_entry(cache, "videos/101_0.mp4")[1].read_text())
    assert meta["boxes"] == [[x + 3, y + 3, x2 - 3, y2 - 3] for x, y, x2, y2 in map(box_of, meta["frames"])]
    fresh = MovingFashionDataset(root, "train", crop_cache=cache, **KW)
    fresh._cut = None  # decoding would fail: every item must come from the cache
    assert all(_items_equal(fresh[k], live[k]) for k in range(len(live)))


def test_entries_stay_valid_after_the_dataset_clips_its_own_boxes(tiny_dataset, tmp_path):
    """A box 1 px past the frame, in a video without a richer tracklet file, is clipped when the
    video is first checked: that is the dataset's own cleaning, not a changed tracklet."""
    root = tmp_path / "ds"
    shutil.copytree(tiny_dataset, root)
    train = json.loads((root / "train.json").read_text())
    train["ab_C"]["tracklets"][0]["3"] = [100, 40, W + 1, 80]
    (root / "train.json").write_text(json.dumps(train))
    cache = tmp_path / "cc"
    build_crop_cache(MovingFashionDataset(root, "train", **KW), cache, pool=None)
    cached = MovingFashionDataset(root, "train", crop_cache=cache, **KW)
    assert cached.check() == []  # clips the box in this process
    video = cached.products[cached.product_ids.index("ab_C")].videos[0]
    assert video.boxes[3] == [100.0, 40.0, float(W), 80.0]
    cached._cut = None
    live = MovingFashionDataset(root, "train", **KW)
    assert all(_items_equal(cached[k], live[k]) for k in range(len(live)))
    assert build_crop_cache(cached, cache, pool=None)["already_cached"] == 4


def test_a_dataset_opened_with_classes_reads_a_shared_videos_own_entry(
    shared_video_dataset, tmp_path, caplog
):
    """Entry names depend on the split file, not on the products ``classes=`` keeps (or
    ``check()`` leaves): the dataset of product 101 alone finds ``videos%2F101_0.mp4@101``."""
    root = shared_video_dataset
    cache = tmp_path / "cc"
    build_crop_cache(MovingFashionDataset(root, "train", **KW), cache, pool=None)
    live = MovingFashionDataset(root, "train", classes=[8], **KW)
    with caplog.at_level(logging.WARNING, logger="movingfashion.dataset"):
        cached = MovingFashionDataset(root, "train", classes=[8], crop_cache=cache, **KW)
        cached.check()
        cached._cut = None  # every item from the cache: decoding would fail
        assert cached.product_ids == ["101"]
        assert all(_items_equal(cached[k], live[k]) for k in range(len(live)))
    assert not caplog.records
