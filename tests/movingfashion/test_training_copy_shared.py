"""Training copy: a video two products list (each with its own boxes on it) gets one entry per
product, as the crop cache does, so each product reads its own crops; the single entry an older
copy kept for it goes."""

from __future__ import annotations

import json

import torch

from movingfashion.dataset import MovingFashionDataset
from movingfashion.training_copy import build_training_copy, copy_entry

KW = {"seed": 5, "crop_size": 32, "frames": 6, "train": False, "dtype": torch.uint8}


def test_two_products_sharing_a_video_each_get_their_own_copy(shared_video_dataset, tmp_path):
    root = shared_video_dataset  # ab_C lists 101's video, with the boxes of its own garment there
    out = tmp_path / "copy"
    out.mkdir()
    for old in copy_entry(out, "videos/101_0.mp4"):  # an older copy's one entry for both
        old.write_text("{}")
    live = MovingFashionDataset(root, "train", **KW)

    counts = build_training_copy(live, out)
    assert (counts["built"], counts["already_copied"], counts["failed"]) == (4, 0, 0)
    assert not any(p.exists() for p in copy_entry(out, "videos/101_0.mp4"))
    boxes = {}
    for pid in ("101", "ab_C"):
        meta = json.loads(copy_entry(out, "videos/101_0.mp4", pid)[1].read_text())
        assert meta["product"] == pid and meta["video"] == "videos/101_0.mp4"
        boxes[pid] = meta["boxes"]
    assert boxes["101"] != boxes["ab_C"]  # each product's own garment
    fast = MovingFashionDataset(root, "train", training_copy=out, **KW)
    for i in range(len(live)):
        a, b = live[i], fast[i]
        assert a["product_id"] == b["product_id"] and a["video_path"] == b["video_path"]
        assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
        assert torch.equal(a["boxes"], b["boxes"])
    assert fast.training_copy is not None and not fast.training_copy._bad  # every entry was used
    counts = build_training_copy(live, out)
    assert (counts["built"], counts["already_copied"]) == (0, 4)


def test_a_dataset_opened_with_classes_reads_a_shared_videos_own_entry(shared_video_dataset, tmp_path):
    """The entry names of a video several products list depend on the split file, not on the
    products ``classes=`` / ``partition=`` keep: the dataset of product 101 alone (class 8)
    finds ``videos%2F101_0.mp4@101``."""
    root = shared_video_dataset
    out = tmp_path / "copy"
    build_training_copy(MovingFashionDataset(root, "train", **KW), out)
    for filtered in ({"classes": [8]}, {"partition": "regular"}):
        live = MovingFashionDataset(root, "train", **KW, **filtered)
        fast = MovingFashionDataset(root, "train", training_copy=out, **KW, **filtered)
        assert "101" in fast.product_ids and "ab_C" not in fast.product_ids
        assert fast.shared_videos == {"videos/101_0.mp4"}
        for i in range(len(live)):
            a, b = live[i], fast[i]
            assert a["frame_indices"].tolist() == b["frame_indices"].tolist()
            assert torch.equal(a["boxes"], b["boxes"])
        assert fast.training_copy is not None and not fast.training_copy._bad  # every entry was used
