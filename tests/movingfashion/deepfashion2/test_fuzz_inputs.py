"""DeepFashion2 inputs found by fuzzing: huge numbers, deep nesting, boxes outside the image.
Each is one DataFormatError naming the annotation file (and the field), never a traceback."""

from __future__ import annotations

import json

import pytest

from movingfashion.deepfashion2 import df2_to_yolo, read_annotation, to_coco
from schemas.errors import DataFormatError
from tests.movingfashion.helpers import make_df2_black

BIG = "1" + "0" * 400  # an integer too large for a float


def _write(tmp_path, text: str):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("bounding_box", f"[0, 0, {BIG}, 5]"),
        ("landmarks", f"[{BIG}, 1, 2]"),
        ("segmentation", f"[[0, 0, {BIG}, 0, 5, 5]]"),
    ],
)
def test_an_integer_too_large_for_a_float_names_file_and_field(tmp_path, field, value):
    item = {"category_id": 9, "bounding_box": [0, 0, 10, 10], "landmarks": [], "segmentation": []}
    text = json.dumps({"source": "user", "pair_id": 1, "item1": item})
    text = text.replace(f'"{field}": {json.dumps(item[field])}', f'"{field}": {value}')
    with pytest.raises(DataFormatError) as err:
        read_annotation(_write(tmp_path, text))
    assert "000005.json" in str(err.value) and f"item1.{field}" in str(err.value)
    assert len(str(err.value)) < 600  # the 400 digits are cut


@pytest.mark.parametrize(
    "text",
    ['{"source": "user", "pair_id": ' + "1" * 5000 + "}", "[" * 100000 + "]" * 100000],
    ids=["5000 digits", "deep nesting"],
)
def test_json_python_cannot_load_names_the_file(tmp_path, text):
    with pytest.raises(DataFormatError, match=r"000005\.json"):
        read_annotation(_write(tmp_path, text))


def _set_box(root, split: str, box: list[float]) -> None:
    p = root / split / "annos" / "000001.json"
    anno = json.loads(p.read_text())
    anno["item1"]["bounding_box"] = box
    p.write_text(json.dumps(anno))


@pytest.mark.parametrize(
    "box",
    [[0, 0, 1e300, 1e300], [-500, -500, -100, -100], [0, 0, 210, 50], [-2, 10, 0, 20]],
)
def test_a_box_outside_the_image_is_refused_by_coco_and_yolo(tmp_path, box):
    """The images are 200x100: a box far outside (or holding none of it) is never turned into a
    whole-image label or dropped silently; the error names the annotation file and item."""
    root = make_df2_black(tmp_path / "df2", 1)
    _set_box(root, "train", box)
    with pytest.raises(DataFormatError, match=r"000001\.json.*item1\.bounding_box.*200x100"):
        df2_to_yolo(root, tmp_path / "yolo")
    with pytest.raises(DataFormatError, match=r"000001\.json.*item1\.bounding_box.*200x100"):
        to_coco(root, "train")


def test_a_box_within_the_tolerance_is_clipped_by_yolo_and_kept_by_coco(tmp_path):
    root = make_df2_black(tmp_path / "df2", 1)
    _set_box(root, "train", [-1, -1, 201, 101])
    df2_to_yolo(root, tmp_path / "yolo")
    line = (tmp_path / "yolo" / "labels" / "train" / "000001.txt").read_text().splitlines()[0]
    assert line == "7 0.500000 0.500000 1.000000 1.000000"
    assert to_coco(root, "train")["annotations"][0]["bbox"] == [-1, -1, 202, 102]
