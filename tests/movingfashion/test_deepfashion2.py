from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from movingfashion.deepfashion2 import LANDMARK_SLOTS, NUM_LANDMARK_SLOTS, read_annotation, to_coco
from movingfashion.df2_cli import df2
from movingfashion.multidf2 import MultiDeepFashion2Dataset, build_multidf2
from schemas.errors import DataFormatError
from tests.movingfashion.helpers import make_df2


@pytest.fixture(scope="module")
def df2_root(tmp_path_factory):
    return make_df2(tmp_path_factory.mktemp("df2"))


def test_landmark_layout_covers_294_slots_without_overlap():
    assert NUM_LANDMARK_SLOTS == 294
    used = []
    for cid in range(1, 14):
        start, count = LANDMARK_SLOTS[cid]
        used.extend(range(start, start + count))
    assert used == list(range(294))
    assert LANDMARK_SLOTS[1] == (0, 25) and LANDMARK_SLOTS[8] == (168, 14) and LANDMARK_SLOTS[13] == (275, 19)


def test_coco_follows_the_official_conventions(df2_root):
    coco = to_coco(df2_root, "validation")
    assert len(coco["images"]) == 19 and len(coco["annotations"]) == 20
    img1 = next(i for i in coco["images"] if i["file_name"] == "000001.jpg")
    assert img1["id"] == 1 and (img1["width"], img1["height"]) == (120, 101)
    anns = [a for a in coco["annotations"] if a["image_id"] == 1]
    trousers = next(a for a in anns if a["category_id"] == 8)
    assert trousers["bbox"] == [10, 20, 50, 70] and trousers["area"] == 3500
    assert (trousers["pair_id"], trousers["style"], trousers["source"]) == (1, 1, "shop")
    kps = trousers["keypoints"]
    assert len(kps) == 3 * 294
    start = LANDMARK_SLOTS[8][0]
    assert kps[3 * start : 3 * start + 3] == [10, 20, 1] and kps[3 * (start + 13)] == 10 + 13
    assert not any(kps[: 3 * start]) and not any(kps[3 * (start + 14) :])
    assert trousers["num_keypoints"] == 14
    assert [c["id"] for c in coco["categories"]] == list(range(1, 14))
    assert coco["categories"][0]["name"] == "short_sleeved_shirt"


def test_bad_annotation_names_file_and_field(tmp_path):
    p = tmp_path / "annos" / "000007.json"
    p.parent.mkdir()
    p.write_text(
        json.dumps(
            {"source": "user", "pair_id": 1, "item1": {"category_id": 14, "bounding_box": [0, 0, 1, 1]}}
        )
    )
    with pytest.raises(DataFormatError, match=r"000007.json: field 'item1.category_id' must be 1..13"):
        read_annotation(p)


def test_cli_to_coco_and_to_yolo(df2_root, tmp_path):
    runner = CliRunner()
    out = tmp_path / "coco.json"
    res = runner.invoke(df2, ["to-coco", str(df2_root), "--split", "validation", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["annotations"] == 20 and len(json.loads(out.read_text())["images"]) == 19
    res = runner.invoke(df2, ["to-yolo", str(df2_root), "--out", str(tmp_path / "yolo"), "--json"])
    assert res.exit_code == 0, res.output
    data = yaml.safe_load((tmp_path / "yolo" / "data.yaml").read_text())
    assert data["names"][7] == "trousers"
    label = (tmp_path / "yolo" / "labels" / "val").glob("*000001.txt")
    lines = next(label).read_text().split("\n")
    assert lines[0].startswith("7 ")  # DF2 id 8 -> YOLO class 7
    assert "Example" in runner.invoke(df2, ["to-coco", "--help"]).output


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


def test_cli_multidf2_index_roundtrip(df2_root, tmp_path):
    out = tmp_path / "m.json"
    res = CliRunner().invoke(
        df2, ["multidf2", str(df2_root), "--split", "validation", "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["sequences"] == 3
    ds = MultiDeepFashion2Dataset(df2_root, "validation", index=out, frames=2)
    assert ds.product_ids == ["1_1", "1_2", "2_1"]


def test_fewer_landmarks_fill_the_first_slots_and_keep_294():
    from movingfashion.deepfashion2 import coco_keypoints

    kps, labelled = coco_keypoints(2, [1, 2, 2, 3, 4, 0])
    start = LANDMARK_SLOTS[2][0]
    assert len(kps) == 3 * 294 and kps[3 * start : 3 * start + 6] == [1, 2, 2, 3, 4, 0] and labelled == 1
    assert sum(1 for v in kps if v) == 5
    with pytest.raises(DataFormatError):
        coco_keypoints(9, [0.0] * 27)  # skirt has 8 slots
