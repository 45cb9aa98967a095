"""The embedded weights' recipe on a synthetic world: YOLO frames, garment crops, staged builds."""

from __future__ import annotations

import pytest
import torch

from movingfashion.models import load_matcher


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


@pytest.mark.slow
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
