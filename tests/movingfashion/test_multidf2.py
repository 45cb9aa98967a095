"""Multi-DeepFashion2: shop item + user images of the same pair and style, as MovingFashion items."""

from __future__ import annotations

import numpy as np
import torch

from movingfashion.multidf2 import MultiDeepFashion2Dataset, build_multidf2


def test_multidf2_sequences_group_pair_and_style(df2_root):
    seqs = {s["id"]: s for s in build_multidf2(df2_root, "validation")}
    assert set(seqs) == {"1_1", "1_2", "2_1"}
    assert [f["image"] for f in seqs["1_1"]["frames"]] == [
        f"validation/image/00000{i}.jpg" for i in (2, 3, 4)
    ]
    assert seqs["1_2"]["df2_class"] == 9 and len(seqs["1_2"]["frames"]) == 1
    assert len(seqs["2_1"]["frames"]) == 12  # the style-0 image 000019 is not a positive
    assert seqs["2_1"]["shop"] == {"image": "validation/image/000006.jpg", "box": [0, 0, 50, 50]}


def _colour(img_t):  # uniform test images: value = (num * 13) % 256
    return int(round(float(img_t.mean()) * 255))


def test_multidf2_dataset_items(df2_root):
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, crop_size=16, shop_size=16)
    assert ds.product_ids == ["1_1", "1_2", "2_1"] and not ds.train
    item = ds[0]  # 3 user images, 5 frames: all three + 2 random repeats
    idx = item["frame_indices"].tolist()
    assert len(idx) == 5 and set(idx) == {0, 1, 2} and idx == sorted(idx)
    assert [_colour(f) for f in item["frames"]] == [((i + 2) * 13) % 256 for i in idx]
    assert item["frames"].shape == (5, 3, 16, 16) and _colour(item["shop"]) == 13
    assert item["df2_class"] == 8 and item["partition"] == "multidf2"
    assert ds[0]["frame_indices"].tolist() == idx  # evaluation: same repeats every time
    long = ds[2]["frame_indices"].tolist()
    assert long == [1, 3, 5, 8, 10]  # 12 images, chunks 0-1,2-3,4-6,7-8,9-11: centres
    tr = MultiDeepFashion2Dataset(df2_root, "validation", frames=5, seed=0, train=True)
    draws = {tuple(tr.plan(0))}
    for e in range(1, 8):
        tr.set_epoch(e)
        draws.add(tuple(tr.plan(0)))
    assert len(draws) > 1 and all(set(d) == {0, 1, 2} for d in draws)


def test_multidf2_whole_images_scale_boxes(df2_root):
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=1, crop="frame", frame_size=(50, 60))
    item = ds[1]  # 000005, 105 x 120, box [5, 5, 40, 30]
    assert item["frames"].shape == (1, 3, 50, 60)
    assert np.allclose(item["boxes"][0].numpy(), [2.5, 5 * 50 / 105, 20, 30 * 50 / 105], atol=1e-4)


def test_multidf2_items_batch_with_movingfashion_items(df2_root, tiny_dataset):
    from movingfashion.batching import collate_clips
    from movingfashion.dataset import MovingFashionDataset

    kw = {"frames": 4, "seed": 0, "crop_size": 16, "shop_size": 16}
    m = MultiDeepFashion2Dataset(df2_root, "validation", dtype=torch.uint8, **kw)
    f = MovingFashionDataset(tiny_dataset, "train", dtype=torch.uint8, **kw)
    item = m[0]
    assert item["frames"].dtype == torch.uint8 and item["shop"].dtype == torch.uint8
    assert _colour(item["shop"].float() / 255) == 13  # the same pixels as the float item
    assert item["orig_size"] == tuple(m._load(m.sequences[0]["frames"][0]["image"], None, (8, 8))[1])
    for batch in (collate_clips([f[0], m[0]]), collate_clips([m[0], f[0]])):
        assert batch["frames"].shape == (2, 4, 3, 16, 16) and len(batch["orig_size"]) == 2
        assert sorted(map(str, batch["image_paths"])).count("None") == 1
