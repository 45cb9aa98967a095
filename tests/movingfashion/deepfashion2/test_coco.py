"""DeepFashion2 -> COCO with the official converter's conventions."""

from __future__ import annotations

import pytest

from movingfashion.deepfashion2 import LANDMARK_SLOTS, NUM_LANDMARK_SLOTS, coco_keypoints, to_coco
from schemas.errors import DataFormatError
from schemas.taxonomy import DF2_CLASSES


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


#: DeepFashion2's landmarks per category, as its documentation lists them (not read from the code).
DF2_LANDMARKS = {1: 25, 2: 33, 3: 31, 4: 39, 5: 15, 6: 15, 7: 10, 8: 14, 9: 8, 10: 29, 11: 37, 12: 19, 13: 19}


def _expected_coco(split_dir):
    """The official converter's output for a split, derived from the documented format alone."""
    import json

    from PIL import Image

    first, start = {}, 0
    for cid in range(1, 14):
        first[cid] = start
        start += DF2_LANDMARKS[cid]
    images, annotations = [], []
    for anno in sorted((split_dir / "annos").glob("*.json")):
        num = int(anno.stem)
        data = json.loads(anno.read_text())
        with Image.open(split_dir / "image" / f"{anno.stem}.jpg") as im:
            width, height = im.size
        images.append(
            {
                "coco_url": "",
                "date_captured": "",
                "file_name": f"{anno.stem}.jpg",
                "flickr_url": "",
                "id": num,
                "license": 0,
                "width": width,
                "height": height,
            }
        )
        for key in [k for k in data if k not in ("source", "pair_id")]:
            it = data[key]
            x1, y1, x2, y2 = it["bounding_box"]
            lm = it["landmarks"]
            n = DF2_LANDMARKS[it["category_id"]]
            assert len(lm) == 3 * n, f"{anno.name} {key}: the official converter would raise IndexError"
            points = [0.0] * (3 * 294)
            off = 3 * first[it["category_id"]]
            points[off : off + 3 * n] = [float(v) for v in lm]
            annotations.append(
                {
                    "area": (x2 - x1) * (y2 - y1),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "category_id": it["category_id"],
                    "id": len(annotations) + 1,
                    "pair_id": data["pair_id"],
                    "image_id": num,
                    "iscrowd": 0,
                    "style": it["style"],
                    "num_keypoints": sum(1 for v in lm[2::3] if v > 0),
                    "keypoints": points,
                    "segmentation": it["segmentation"],
                    "source": data["source"],  # ours: documented in the module
                }
            )
    return images, annotations


def _types(x):
    """The JSON types of a value, recursively (1 and 1.0 compare equal in Python, not in a file)."""
    if isinstance(x, dict):
        return {k: _types(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_types(v) for v in x]
    return type(x).__name__


def test_a_world_df2_set_converts_field_for_field_like_the_official_converter(small_world, tmp_path):
    import json

    from movingfashion.deepfashion2 import write_coco

    for split in ("train", "validation"):
        out = tmp_path / f"{split}.json"
        write_coco(small_world / "df2", split, out)
        coco = json.loads(out.read_text())
        assert list(coco) == ["info", "licenses", "images", "annotations", "categories"]
        assert coco["licenses"] == [] and coco["info"]["description"].startswith(f"DeepFashion2 {split}")
        images, annotations = _expected_coco(small_world / "df2" / split)
        assert coco["images"] == images and _types(coco["images"]) == _types(images)
        assert len(coco["annotations"]) == len(annotations) > 0
        for got, want in zip(coco["annotations"], annotations, strict=True):
            assert got == want, f"annotation {want['id']}"
            assert _types(got) == _types(want), f"annotation {want['id']}"
        assert all(isinstance(v, int) for a in coco["annotations"] for v in [*a["bbox"], a["area"]])
        assert coco["categories"] == [
            {
                "id": cid,
                "name": name,
                "supercategory": "clothes",
                "keypoints": [str(i) for i in range(1, 295)],
                "skeleton": [],
            }
            for cid, name in DF2_CLASSES.items()
        ]


def test_a_bad_landmark_stops_the_export_naming_the_file_and_field(df2_root, tmp_path):
    """A null left by an annotation tool: a DataFormatError naming the file, not a TypeError."""
    import json
    import shutil

    root = tmp_path / "df2"
    shutil.copytree(df2_root, root)
    p = root / "validation" / "annos" / "000003.json"
    doc = json.loads(p.read_text())
    doc["item1"]["landmarks"][4] = None
    p.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"000003\.json: field 'item1\.landmarks' value 4"):
        to_coco(root, "validation")


@pytest.mark.parametrize("landmarks", [[1, 2, None], [1, 2, True], [1, 2, "2"], [1, 2, 2, 3]])
def test_coco_keypoints_takes_only_number_triples(landmarks):
    with pytest.raises(DataFormatError, match="landmarks"):
        coco_keypoints(2, landmarks)
