"""The one DeepFashion2 reader: typed items, errors naming the file and the field."""

from __future__ import annotations

import json

import pytest

from movingfashion.deepfashion2 import iter_split, read_annotation, resolve_root
from schemas.errors import DataFormatError


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


def test_reader_gives_typed_items_in_numeric_order(df2_root):
    images = list(iter_split(df2_root, "validation"))
    assert [i.image_id for i in images] == list(range(1, 20))
    shop = images[0]
    assert (shop.source, shop.pair_id, shop.image_path.name) == ("shop", 1, "000001.jpg")
    assert [(it.key, it.category_id, it.style) for it in shop.items] == [("item1", 8, 1), ("item2", 9, 2)]
    assert shop.items[0].box == [10.0, 20.0, 60.0, 90.0] and len(shop.items[0].landmarks) == 3 * 14
    assert shop.items[0].extra == {"scale": 2, "occlusion": 1, "zoom_in": 1, "viewpoint": 2}
    assert images[-1].items[0].style == 0


@pytest.mark.parametrize(
    "anno,field",
    [
        ({"pair_id": 1, "item1": {"category_id": 1, "bounding_box": [0, 0, 1, 1]}}, "'source'"),
        ({"source": "user", "pair_id": "1"}, "'pair_id'"),
        (
            {"source": "user", "pair_id": 1, "item1": {"category_id": 1, "bounding_box": [5, 0, 1, 1]}},
            "'item1.bounding_box'",
        ),
        ({"source": "user", "pair_id": 1, "item2": [1]}, "'item2'"),
        (
            {
                "source": "user",
                "pair_id": 1,
                "item1": {"category_id": 9, "bounding_box": [0, 0, 1, 1], "landmarks": [0, 0, 1] * 9},
            },
            "'item1.landmarks'",
        ),
        (
            {
                "source": "user",
                "pair_id": 1,
                "item1": {"category_id": 9, "bounding_box": [0, 0, 1, 1], "style": "a"},
            },
            "'item1.style'",
        ),
    ],
)
def test_every_bad_field_is_named(tmp_path, anno, field):
    p = tmp_path / "annos" / "000003.json"
    p.parent.mkdir()
    p.write_text(json.dumps(anno))
    with pytest.raises(DataFormatError, match=rf"000003.json: field {field}"):
        read_annotation(p)


def test_missing_split_and_root_resolution(tmp_path, df2_root):
    with pytest.raises(DataFormatError, match="no annos/ folder for split 'train'"):
        list(iter_split(df2_root, "train"))
    assert resolve_root(df2_root, "validation") == df2_root
    world = tmp_path / "world"
    (world / "df2" / "train" / "annos").mkdir(parents=True)
    assert resolve_root(world) == world / "df2"
    with pytest.raises(DataFormatError, match="no DeepFashion2-format train/annos"):
        resolve_root(tmp_path / "nowhere")


def _item(**fields):
    base = {
        "category_id": 9,
        "style": 1,
        "bounding_box": [0, 0, 10, 10],
        "landmarks": [1, 2, 2, 3, 4, 1],
        "segmentation": [[0, 0, 10, 0, 10, 10]],
    }
    return {"source": "user", "pair_id": 3, "item1": {**base, **fields}}


def _assert_refused(tmp_path, fields, field, words):
    """One item with ``fields`` changed is refused, naming the file, the field and ``words``."""
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    p.write_text(json.dumps(_item(**fields)))
    with pytest.raises(DataFormatError) as err:
        read_annotation(p)
    text = str(err.value)
    assert "000005.json" in text and f"field '{field}'" in text and words in text


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"landmarks": [1, 2, 2, 3, None, 1]}, "item1.landmarks", "value 4 must be a finite number"),
        ({"landmarks": [1, 2, "x"]}, "item1.landmarks", "value 2 must be a finite number"),
        ({"landmarks": [1, 2, True]}, "item1.landmarks", "value 2 must be a finite number"),
        ({"landmarks": [1, 2, float("nan")]}, "item1.landmarks", "value 2 must be a finite number"),
        ({"landmarks": "abc"}, "item1.landmarks", "must be a list of numbers"),
        ({"landmarks": {"a": 1, "b": 2, "c": 3}}, "item1.landmarks", "must be a list of numbers"),
        ({"landmarks": None}, "item1.landmarks", "must be a list of numbers"),
        ({"landmarks": [1, 2, 2, 3]}, "item1.landmarks", "points"),
        ({"segmentation": {"x": 1}}, "item1.segmentation", "must be a list of polygons"),
        ({"segmentation": [[1, 2, 3, 4, 5, 6, 7]]}, "item1.segmentation", "polygon 0 has 7 numbers"),
        ({"segmentation": [[0, 0, 5, 5]]}, "item1.segmentation", "polygon 0 has 4 numbers"),
        (
            {"segmentation": [[0, 0, 5, 5, 1, "a"]]},
            "item1.segmentation",
            "polygon 0 must be a list of finite",
        ),
        ({"segmentation": [1, 2, 3, 4, 5, 6]}, "item1.segmentation", "polygon 0 must be a list"),
        ({"category_id": True}, "item1.category_id", "1..13"),
        ({"category_id": 9.0}, "item1.category_id", "1..13"),
        ({"style": 1.7}, "item1.style", "must be an integer"),
        ({"style": True}, "item1.style", "must be an integer"),
        ({"style": None}, "item1.style", "must be an integer"),
        ({"bounding_box": [True, 0, 10, 10]}, "item1.bounding_box", "[x1, y1, x2, y2]"),
        ({"bounding_box": [0, 0, "10", 10]}, "item1.bounding_box", "[x1, y1, x2, y2]"),
    ],
)
def test_landmarks_segmentation_and_integers_are_checked(tmp_path, fields, field, words):
    """DeepFashion2 writes integers and lists of numbers: anything else names the file and field."""
    _assert_refused(tmp_path, fields, field, words)


def test_pair_id_must_be_an_integer_not_a_boolean(tmp_path):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    p.write_text(json.dumps({**_item(), "pair_id": True}))
    with pytest.raises(DataFormatError, match="000005.json: field 'pair_id' must be an integer"):
        read_annotation(p)


def test_valid_items_keep_their_numbers(tmp_path):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    p.write_text(json.dumps(_item(bounding_box=[0, 0.5, 10, 10.25], style=0)))
    it = read_annotation(p).items[0]
    assert it.box == [0, 0.5, 10, 10.25] and isinstance(it.box[0], int) and it.style == 0
    assert it.landmarks == [1, 2, 2, 3, 4, 1] and it.segmentation == [[0, 0, 10, 0, 10, 10]]
    bare = {"category_id": 9, "bounding_box": [0, 0, 10, 10]}  # no style, landmarks, segmentation
    p.write_text(json.dumps({"source": "shop", "pair_id": 3, "item1": bare}))
    it = read_annotation(p).items[0]
    assert (it.style, it.landmarks, it.segmentation) == (0, [], [])


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"landmarks": [1, 2, 2, 3, 4, 5]}, "item1.landmarks", "point 1 has visibility 5, not 0, 1 or 2"),
        ({"landmarks": [1, 2, -1]}, "item1.landmarks", "point 0 has visibility -1"),
        ({"landmarks": [1, 2, 1.5]}, "item1.landmarks", "visibility 1.5"),
        ({"scale": 4}, "item1.scale", "must be 1, 2 or 3 (1 small, 2 modest, 3 large), got 4"),
        ({"scale": "big"}, "item1.scale", "must be 1, 2 or 3"),
        ({"occlusion": 7}, "item1.occlusion", "got 7"),
        ({"zoom_in": 0}, "item1.zoom_in", "got 0"),
        ({"viewpoint": 0}, "item1.viewpoint", "1 no wear, 2 frontal, 3 side or back"),
        ({"viewpoint": 2.0}, "item1.viewpoint", "got 2.0"),
        ({"occlusion": True}, "item1.occlusion", "got True"),
        ({"category_name": "trousers"}, "item1.category_name", "not the name of category_id 9 ('skirt')"),
        ({"category_name": 9}, "item1.category_name", "not the name of category_id 9"),
        ({"category_name": ["skirt"]}, "item1.category_name", "not the name of category_id 9"),
    ],
)
def test_the_formats_codes_and_category_name_are_checked(tmp_path, fields, field, words):
    _assert_refused(tmp_path, fields, field, words)


def test_valid_codes_and_both_spellings_of_category_name_are_read(tmp_path):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    codes = {"scale": 1, "occlusion": 3, "zoom_in": 2, "viewpoint": 1}
    for name, cid in (("skirt", 9), ("short sleeve top", 1), ("short_sleeved_shirt", 1)):
        p.write_text(
            json.dumps(_item(category_id=cid, category_name=name, landmarks=[1, 2, 0, 3, 4, 1], **codes))
        )
        it = read_annotation(p).items[0]
        assert it.category_id == cid and it.extra == codes


# DeepFashion2 numbers items from 1, without leading zeros: item0 and item01 are refused too
@pytest.mark.parametrize(
    "key", ["item\u00b2", "item\u0663", "item", "item_1", "items", "item0", "item01", "item007"]
)
def test_an_odd_item_key_names_the_file_and_the_key(tmp_path, key):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    doc = _item()
    doc[key] = doc["item1"]
    p.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError) as err:
        read_annotation(p)
    assert "000005.json" in str(err.value) and f"field {key!r} is not an item key" in str(err.value)


def test_item_keys_are_read_in_numeric_order(tmp_path):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    doc = _item()
    doc = {
        "source": "user",
        "pair_id": 3,
        "item10": doc["item1"],
        "item2": doc["item1"],
        "item1": doc["item1"],
    }
    p.write_text(json.dumps(doc))
    assert [it.key for it in read_annotation(p).items] == ["item1", "item2", "item10"]


def test_an_item_key_written_twice_is_refused(tmp_path):
    p = tmp_path / "annos" / "000005.json"
    p.parent.mkdir()
    item = json.dumps(_item()["item1"])
    p.write_text(f'{{"source": "user", "pair_id": 3, "item1": {item}, "item1": {item}}}')
    with pytest.raises(DataFormatError, match=r"000005.json: field 'item1' appears twice"):
        read_annotation(p)


def test_a_negative_style_is_refused(tmp_path):
    _assert_refused(tmp_path, {"style": -1}, "item1.style", "must be an integer >= 0")


def test_a_missing_split_lists_the_splits_the_root_holds(tmp_path):
    for split in ("train", "validation"):
        (tmp_path / split / "annos").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="the root holds the splits train, validation") as got:
        list(iter_split(tmp_path, "valid"))
    assert got.value.hint == "pass --split validation"
