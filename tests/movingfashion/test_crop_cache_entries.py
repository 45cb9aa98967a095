"""Crop-cache entries: a video two products list (each with its own boxes on it) gets one entry per
product, so each product reads its own crops; the single entry an older build kept for it goes."""

from __future__ import annotations

import json

import torch

from movingfashion.dataset import MovingFashionDataset, build_crop_cache, cache_entry

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
