"""The loader on the synthetic world: the gt_dataset export and the DF2-format mini set."""

from __future__ import annotations

import numpy as np
import torch

from movingfashion.batching import PKSampler, collate_clips
from movingfashion.dataset import MovingFashionDataset
from movingfashion.deepfashion2 import LANDMARK_SLOTS, to_coco
from movingfashion.multidf2 import MultiDeepFashion2Dataset, build_multidf2
from movingfashion.world.truth import load_video_gt
from schemas.official import read_official


def test_every_gt_dataset_item_loads_with_the_true_boxes(gt_dataset, small_world, world_truth):
    for split in ("train", "test"):
        ds = MovingFashionDataset(gt_dataset, split, seed=0, crop_size=32, shop_size=32)
        official = read_official(gt_dataset / f"{split}.json")
        assert ds.product_ids == list(official) and not ds.skipped
        for i in range(len(ds)):
            item = ds[i]
            assert item["frames"].shape == (10, 3, 32, 32)
            p = next(p for p in world_truth.products if p.product_id == item["product_id"])
            assert item["df2_class"] == p.df2_class and item["partition"] == p.partition.value
            v = world_truth.video(p.videos[item["video_index"]])
            if v.split_screen is None:  # boxes are the world's true boxes of the item in those frames
                truth = load_video_gt(small_world, v).item_boxes()
                for f, b in zip(item["frame_indices"].tolist(), item["boxes"].tolist(), strict=True):
                    assert b == [float(x) for x in truth[f]]


def test_world_frames_equal_a_reference_decode(gt_dataset):
    from movingfashion.media.readers import read_video

    ds = MovingFashionDataset(gt_dataset, "test", crop="frame", seed=0)
    for i in range(min(3, len(ds))):
        item = ds[i]
        ref = read_video(gt_dataset / item["video_path"], backend="opencv")[item["frame_indices"].numpy()]
        got = (item["frames"].permute(0, 2, 3, 1).numpy() * 255).round()
        assert got.shape == ref.shape
        assert np.abs(got - ref.astype(np.float32)).mean() < 3.0


def test_world_pk_loader_two_workers(gt_dataset):
    ds = MovingFashionDataset(gt_dataset, "train", frames=4, seed=0, crop_size=32, shop_size=32)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=6,
        sampler=PKSampler(ds, p=3, k=2, seed=0),
        num_workers=2,
        collate_fn=collate_clips,
        timeout=120,
    )
    batch = next(iter(loader))
    assert batch["frames"].shape == (6, 4, 3, 32, 32) and len(set(batch["product_id"])) == 3


def test_world_df2_coco_and_multidf2(small_world, world_truth):
    df2_root = small_world / world_truth.df2_root
    coco = to_coco(df2_root, "validation")
    assert coco["images"] and coco["annotations"]
    ann = coco["annotations"][0]
    start, count = LANDMARK_SLOTS[ann["category_id"]]
    kps = np.array(ann["keypoints"]).reshape(294, 3)
    assert kps[start, 2] > 0 and not kps[:start].any() and not kps[start + count :].any()
    seqs = build_multidf2(df2_root, "validation")
    assert seqs and all(s["frames"] for s in seqs)
    ds = MultiDeepFashion2Dataset(df2_root, "validation", frames=10, crop_size=32, shop_size=32, index=seqs)
    item = ds[0]
    assert item["frames"].shape == (10, 3, 32, 32) and item["df2_class"] == seqs[0]["df2_class"]
