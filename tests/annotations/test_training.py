"""Matcher pretraining on the world's DeepFashion2-format mini set; crop sets."""

from __future__ import annotations

import pytest
import torch

from annotations.training import CropSet, df2_crops, pair_loss
from annotations.training import pretrain_matcher as pretrain
from movingfashion.models import MatchHead, load_matcher


def test_pair_loss_prefers_separated_embeddings():
    head = MatchHead(dim=4)
    ids = torch.tensor([0, 0, 1, 1])
    good = torch.tensor([[0.0] * 4, [0.0] * 4, [3.0] * 4, [3.0] * 4])
    bad = torch.tensor([[0.0] * 4, [3.0] * 4, [0.0] * 4, [3.0] * 4])
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[0.5] * 4, [-0.5] * 4]))
        head.fc.bias.copy_(torch.tensor([-1.0, 1.0]))
    assert pair_loss(head, good, ids) < pair_loss(head, bad, ids)


def test_cropset_cat_renumbers_identities():
    a = CropSet(torch.zeros(2, 3, 16, 16, dtype=torch.uint8), torch.tensor([0, 0]))
    b = CropSet(
        torch.zeros(3, 3, 16, 16, dtype=torch.uint8), torch.tensor([0, -1, 1]), torch.tensor([0, 0, 1])
    )
    c = CropSet.cat([a, b])
    assert c.ids.tolist() == [0, 0, 1, -1, 2] and c.groups.tolist() == [-1, -1, 0, 0, 1]


def test_batches_bring_one_shop_anchor_per_identity_that_has_one():
    import random

    from annotations.training import _batches

    # 6 identities: 0-2 have 5 frame crops + 1 shop image, 3-5 frame crops only
    ids, anchors = [], []
    for v in range(6):
        ids += [v] * 5 + ([v] if v < 3 else [])
        anchors += [False] * 5 + ([True] if v < 3 else [])
    ids_t, anchors_t = torch.tensor(ids), torch.tensor(anchors)
    it = _batches(ids_t, p=6, k=3, rng=random.Random(0), anchors=anchors_t)
    for _ in range(20):
        batch = next(it)
        for v in range(6):
            members = [i for i in batch if ids[i] == v]
            assert len(members) == 3
            assert sum(anchors[i] for i in members) == (1 if v < 3 else 0)
    merged = CropSet.cat(
        [
            CropSet(
                torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                torch.tensor([0, 0]),
                anchors=torch.tensor([True, False]),
            ),
            CropSet(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.tensor([0])),
        ]
    )
    assert merged.anchors.tolist() == [True, False, False]


def test_pretrain_on_world_df2_beats_chance(small_world, tmp_path):
    root = small_world / "df2"
    if not (root / "train" / "annos").is_dir():
        pytest.fail("the small world has no df2/ mini set (movingfashion.world must write it)")
    crops = df2_crops(root, "train", 32)
    assert len(crops) > 10 and (crops.ids >= 0).sum() > 4
    out = tmp_path / "m.pt"
    torch.set_num_threads(1)
    d = pretrain(root, out, steps=40, crop_size=32, p=8, k=4, jitter_copies=1)
    print(
        f"\nDF2 mini set user->shop top-1: {d['eval_split']} {d['top1']:.3f} (chance {d['chance']:.3f}), "
        f"train {d['train_top1']:.3f} (chance {d['train_chance']:.3f})"
    )
    # the training pairs are learnt well above chance. The mini set holds only a handful of
    # held-out pairs (chance 1/3 on 7 queries here), too few for a pass/fail bar: their top-1 is
    # reported above; held-out matching is asserted on 16 unseen pairs with the embedded matcher
    # (tests/annotations/test_builder.py::test_video_shop_scorer_prefers_the_right_shop).
    assert d["train_top1"] > 2 * d["train_chance"]
    assert 0.0 <= d["top1"] <= 1.0 and d["eval_split"] == "validation"
    assert load_matcher(out).crop_size == 32


def test_world_to_yolo_and_crops(small_world, world_truth, tmp_path):
    from movingfashion.world.weights_build import world_crops, world_yolo

    data = world_yolo(small_world, world_truth, tmp_path, every=24)
    labels = list((tmp_path / "yolo" / "labels").rglob("*.txt"))
    images = list((tmp_path / "yolo" / "images").rglob("*.jpg"))
    assert labels and len(labels) == len(images) and data.is_file()
    rows = [ln.split() for p in labels for ln in p.read_text().splitlines()]
    assert rows and all(0 <= int(r[0]) <= 12 and all(0 <= float(x) <= 1 for x in r[1:]) for r in rows)
    crops = world_crops(small_world, world_truth, 32, every=24)
    assert crops.crops.shape[1:] == (3, 32, 32) and crops.crops.dtype == torch.uint8
    # every identity lives in one video (group), and shop images add crops to the product's own garment
    for v in crops.ids.unique().tolist():
        assert len(crops.groups[crops.ids == v].unique()) == 1
    # a second run with a sparser frame step replaces the first run's frames, never adds to them
    world_yolo(small_world, world_truth, tmp_path, every=48)
    again = list((tmp_path / "yolo" / "images").rglob("*.jpg"))
    assert 0 < len(again) < len(images)


def test_weights_build_stages_continue_and_keep_one_card(small_world, tmp_path):
    import json

    from movingfashion.world.weights_build import build_weights

    out = tmp_path / "weights"
    first = build_weights(small_world, out, skip_detector=True, matcher_steps=2, work=tmp_path / "w")
    second = build_weights(
        small_world,
        out,
        skip_detector=True,
        matcher_steps=2,
        work=tmp_path / "w",
        matcher_init=out / "matcher.pt",
        matcher_lr=5e-4,
    )
    card = json.loads((out / "README.json").read_text())
    assert [h["matcher"]["init"] for h in card["history"]] == ["random", str(out / "matcher.pt")]
    assert card["matcher"]["tag"] == second["matcher"]["tag"] != first["matcher"]["tag"]
    assert load_matcher(out / "matcher.pt", device="cpu").crop_size == 64
