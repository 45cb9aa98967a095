"""DeepFashion2 -> COCO with the official converter's conventions."""

from __future__ import annotations

import pytest

from movingfashion.deepfashion2 import LANDMARK_SLOTS, NUM_LANDMARK_SLOTS, coco_keypoints, to_coco
from schemas.errors import DataFormatError


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


def test_fewer_landmarks_fill_the_first_slots_and_keep_294():
    kps, labelled = coco_keypoints(2, [1, 2, 2, 3, 4, 0])
    start = LANDMARK_SLOTS[2][0]
    assert len(kps) == 3 * 294 and kps[3 * start : 3 * start + 6] == [1, 2, 2, 3, 4, 0] and labelled == 1
    assert sum(1 for v in kps if v) == 5
    with pytest.raises(DataFormatError):
        coco_keypoints(9, [0.0] * 27)  # skirt has 8 slots
