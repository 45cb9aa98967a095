import json
import re

import pytest

from schemas.errors import DataFormatError
from schemas.official import dump_official, parse_official, read_official, write_official
from tests.movingfashion.helpers import split_entry

OFFICIAL = {
    "0001234": {
        "video_paths": ["videos/0001234_a.mp4", "videos/0001234_b.mp4"],
        "img_path": "imgs/0001234.jpg",
        "source": 1,
        "tracklets": [
            {"0": [10, 20, 110, 220], "15": [12.5, 21.25, 111.0, 219.75]},
            {"3": [0, 0, 50, 60]},
        ],
        "extra_key": {"kept": [1, 2, 3]},
    },
    "ig_Bx9": {
        "video_paths": ["videos/ig_Bx9.mp4"],
        "img_path": "imgs/ig_Bx9.png",
        "source": 0,
        "tracklets": [{}],
        "notes": "hard partition",
    },
}


def test_round_trip_is_lossless(tmp_path):
    src = tmp_path / "train.json"
    src.write_text(json.dumps(OFFICIAL))
    split = read_official(src)
    assert split["0001234"].partition == "regular" and split["ig_Bx9"].partition == "hard"
    out = tmp_path / "out.json"
    write_official(out, split)
    back = json.loads(out.read_text())
    assert back == OFFICIAL
    # number types survive: ints stay ints, floats stay floats
    assert isinstance(back["0001234"]["tracklets"][0]["0"][0], int)
    assert isinstance(back["0001234"]["tracklets"][0]["15"][0], float)
    assert split["0001234"].tracklet_boxes(0)[15] == [12.5, 21.25, 111.0, 219.75]


def test_missing_tracklets_key_is_not_invented():
    data = {"p": {"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": 1}}
    assert dump_official(parse_official(data)) == data


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({"video_paths": ["v.mp4"], "source": 1, "tracklets": []}, "img_path", "Field required"),
        ({"video_paths": "v.mp4", "img_path": "s.jpg", "source": 1}, "video_paths", "list"),
        ({"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": "one"}, "source", "integer"),
        (
            {
                "video_paths": ["v.mp4"],
                "img_path": "s.jpg",
                "source": 1,
                "tracklets": [{"7": [50, 0, 10, 10]}],
            },
            "tracklets[0].7",
            "x2 (10) < x1 (50)",
        ),
        (
            {"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": 1, "tracklets": [{"x": [0, 0, 1, 1]}]},
            "tracklets",
            "frame key",
        ),
        (
            {"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": 1, "tracklets": [{"1": [0, 0, 1]}]},
            "tracklets[0].1",
            "4 numbers",
        ),
        *(  # mf verify refuses these as "not an integer": the schema agrees
            ({"video_paths": ["v.mp4"], "img_path": "s.jpg", "source": bad}, "source", "valid integer")
            for bad in ("1", True, 1.0)
        ),
    ],
)
def test_bad_entries_name_product_and_field(value, field, message):
    with pytest.raises(DataFormatError) as err:
        parse_official({"P42": value}, where="train.json")
    text = str(err.value)
    assert "train.json" in text and "product 'P42'" in text and field in text and message in text


def test_malformed_json_names_file_and_line(tmp_path):
    bad = tmp_path / "test.json"
    bad.write_text('{"a": {"video_paths": [}')
    with pytest.raises(DataFormatError, match=r"test.json: malformed JSON at line 1") as err:
        read_official(bad)
    assert "mf publish" in (err.value.hint or "")  # what to do (the loader, mf-tracklets, export)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '{"p": {"video_paths": ["videos/a.mp4"], "img_path": "imgs/a.jpg", "source": 1}, '
            '"p": {"video_paths": ["videos/b.mp4"], "img_path": "imgs/b.png", "source": 0}}',
            "key 'p' appears twice in one object",
        ),
        (  # inside one product's tracklet: the product, video and frame key are named
            '{"p": {"video_paths": ["videos/a.mp4"], "img_path": "imgs/a.jpg", "source": 1, '
            '"tracklets": [{"7": [1, 2, 3, 4], "7": [5, 6, 7, 8]}]}}',
            "product 'p': field 'tracklets[0]' (video 'videos/a.mp4'): frame key '7' appears twice",
        ),
    ],
)
def test_a_key_twice_in_one_object_is_refused_not_half_kept(tmp_path, text, said):
    """JSON readers keep the last of a repeated key: a product or a frame's box was lost, and
    written back without it."""
    path = tmp_path / "train.json"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=re.escape(f"train.json: {said}")):
        read_official(path)


def test_a_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "train.json"
    path.write_bytes(
        b'\xef\xbb\xbf{"p": {"video_paths": ["videos/a.mp4"], "img_path": "imgs/a.jpg", "source": 1}}'
    )
    assert list(read_official(path)) == ["p"]


def test_bytes_that_are_not_utf8_are_named_with_what_to_do(tmp_path):
    """The byte is counted from the start of the file (a byte order mark included), and the error
    says to save the file as UTF-8 (a Latin-1 export)."""
    path = tmp_path / "train.json"
    path.write_bytes(b'\xef\xbb\xbf{"caf\xe9": {}}')
    with pytest.raises(DataFormatError) as ei:
        read_official(path)
    assert str(ei.value) == f"{path}: not UTF-8 text (byte 8) (save it as UTF-8)"


def test_top_level_must_be_object(tmp_path):
    with pytest.raises(DataFormatError, match="keyed by product id"):
        parse_official([1, 2])


@pytest.mark.parametrize(
    ("source", "partition"),
    [(1, "regular"), (0, "hard"), (2, "hard"), (7, "hard")],
)
def test_source_codes_read_in_both_conventions(tmp_path, source, partition):
    """The archive's 0 and this project's older 2 are both Hard (1 = Regular, anything else Hard);
    the code is written back as it was read."""
    data = {"p": {"video_paths": ["videos/p_0.mp4"], "img_path": "imgs/p.png", "source": source}}
    split = parse_official(data)
    assert split["p"].partition == partition
    assert dump_official(split) == data


def test_writers_use_the_archive_codes_and_layout():
    from schemas.official import shop_relpath, video_relpath
    from schemas.taxonomy import ARCHIVE_SOURCE_CODES, PARTITION_SOURCE_CODE, partition_from_source_code

    assert PARTITION_SOURCE_CODE == {"regular": 1, "hard": 0} and {0, 1} == ARCHIVE_SOURCE_CODES
    for part, code in PARTITION_SOURCE_CODE.items():
        assert partition_from_source_code(code) == part
    assert shop_relpath("123", "regular") == "imgs/123.jpg"
    assert shop_relpath("C_x", "hard") == "imgs/C_x.png"
    assert video_relpath("123", 2) == "videos/123_2.mp4"


def test_a_test_product_keeps_its_longest_video():
    from schemas.official import VideoChoice, pick_test_video

    # longest first, then the largest frame, then the smallest key
    assert pick_test_video([VideoChoice(40, 320, 384, "a"), VideoChoice(90, 288, 512, "b")]) == 1
    assert pick_test_video([VideoChoice(90, 100, 100, "a"), VideoChoice(90, 200, 100, "b")]) == 1
    assert pick_test_video([VideoChoice(90, 100, 100, "b"), VideoChoice(90, 100, 100, "a")]) == 1
    with pytest.raises(ValueError):
        pick_test_video([])


def test_each_entry_keeps_its_key_order_and_new_entries_get_the_official_one(tmp_path):
    """read -> write gives the same bytes, for a file in the toolkit's own spelling (compact,
    UTF-8, a final newline), even when it orders the keys its own way."""
    from schemas.official import OfficialEntry

    text = json.dumps(
        {
            "p1": {
                "source": 1,
                "img_path": "imgs/p1.jpg",
                "extra_note": "x",
                "video_paths": ["videos/p1_0.mp4"],
                "tracklets": [{"0": [1, 2, 3, 4]}],
            },
            "p2": {"video_paths": ["videos/p2_0.mp4"], "img_path": "imgs/p2.png", "source": 0},
        }
    )
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(text + "\n")
    split = read_official(src)
    write_official(out, split)
    assert out.read_text() == text + "\n"
    # the order is no part of the data: an entry built in code from the same keys is equal
    assert split["p1"] == OfficialEntry(**json.loads(text)["p1"]) != OfficialEntry(**json.loads(text)["p2"])
    # a tracklet merged into an entry read without one comes after the keys it was read with
    split["p2"].tracklets = [{"3": [0, 0, 5, 5]}]
    assert list(dump_official(split)["p2"]) == ["video_paths", "img_path", "source", "tracklets"]
    built = OfficialEntry(source=1, tracklets=[], img_path="imgs/n.jpg", video_paths=["videos/n_0.mp4"])
    assert list(dump_official({"n": built})["n"]) == ["video_paths", "img_path", "source", "tracklets"]


@pytest.mark.parametrize(
    ("key", "canonical"),
    [("07", "7"), ("007", "7"), ("00", "0")],
)
def test_a_frame_key_with_leading_zeros_is_refused(key, canonical):
    """'7' and '07' would be two boxes for frame 7, the reader keeping whichever came last."""
    value = split_entry([{"7": [1, 1, 20, 20], key: [2, 2, 30, 30]}])
    with pytest.raises(DataFormatError) as err:
        parse_official({"P42": value}, where="train.json")
    text = str(err.value)
    assert "train.json" in text and "product 'P42'" in text and repr(key) in text
    assert f"write {canonical!r}" in text
    value["tracklets"] = [{"0": [1, 1, 20, 20], "10": [1, 1, 20, 20]}]
    assert parse_official({"P42": value})["P42"].tracklet_boxes(0) == {0: [1, 1, 20, 20], 10: [1, 1, 20, 20]}


@pytest.mark.parametrize("digits", [10, 20, 5000])
def test_a_frame_key_past_any_video_is_refused_by_name(digits):
    """A key of more digits than any video's frame count was read, then crashed its user
    (OverflowError past 19 digits, ValueError past 4300): now the reader names it."""
    key = "1" + "0" * (digits - 1)
    value = split_entry([{"7": [1, 1, 20, 20], key: [2, 2, 30, 30]}])
    with pytest.raises(DataFormatError) as err:
        parse_official({"P42": value}, where="train.json")
    text = str(err.value)
    assert "train.json" in text and "product 'P42'" in text and "at most 9 digits" in text
    assert len(text) < 600  # the key is cut short in the message
    value["tracklets"] = [{"999999999": [1, 1, 20, 20]}]  # the largest frame key
    assert parse_official({"P42": value})["P42"].tracklet_boxes(0) == {999999999: [1, 1, 20, 20]}


@pytest.mark.parametrize("bad", [True, "2", None, [1]])
def test_box_values_are_numbers_never_coerced(bad):
    value = split_entry([{"0": [0, bad, 30, 30]}])
    with pytest.raises(DataFormatError, match=r"product 'P42': field 'tracklets\[0\]\.0'.*box value 1"):
        parse_official({"P42": value}, where="train.json")


def test_numpy_numbers_still_make_a_box():
    """Producers hand boxes over as numpy numbers: they are numbers, read as Python ones."""
    import numpy as np
    from pydantic import TypeAdapter

    from schemas.geometry import Box

    box = TypeAdapter(Box).validate_python([np.float32(1.5), np.int64(2), 3, 4.0])
    assert box == [1.5, 2, 3, 4.0] and all(type(v) in (int, float) for v in box)


@pytest.mark.parametrize("huge", ["1" + "0" * 400, "-" + "9" * 320])
def test_a_box_number_too_large_for_a_float_is_named_not_a_traceback(tmp_path, huge):
    path = tmp_path / "train.json"
    path.write_text(
        '{"P42": {"video_paths": ["videos/p_0.mp4"], "img_path": "imgs/p.jpg", "source": 1, '
        f'"tracklets": [{{"0": [0, 0, {huge}, 10]}}]}}}}'
    )
    with pytest.raises(DataFormatError) as err:
        read_official(path)
    text = str(err.value)
    assert "train.json" in text and "product 'P42': field 'tracklets[0].0'" in text
    assert "box numbers must be finite" in text and len(text) < 400


def test_an_escaped_lone_surrogate_is_written_back_unchanged(tmp_path):
    src = tmp_path / "train.json"
    src.write_text(
        '{"p1": {"video_paths": ["videos/p1_0.mp4"], "img_path": "imgs/p1.jpg", "source": 0, '
        '"tracklets": [{}], "caption": "nice dress \\ud83d", "note": "caf\\u00e9"}}\n',
        encoding="utf-8",
    )
    split = read_official(src)
    assert split["p1"].model_extra["caption"] == "nice dress \ud83d"
    out = tmp_path / "out.json"
    write_official(out, split)
    assert read_official(out) == split and json.loads(out.read_text("utf-8")) == json.loads(src.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "train.json"]


def test_a_split_name_the_folder_lacks_names_the_splits_it_has(tmp_path):
    """``MovingFashionDataset(root, "validation")`` said "pass the dataset root or a split JSON",
    which the user did; now it names the folder and its splits (a missing JSON path keeps it), and
    for a missing train.json or test.json how to get it back."""
    from schemas.official import split_json

    for name in ("train.json", "test.json"):
        (tmp_path / name).write_text("{}")
    assert split_json(tmp_path, "test") == tmp_path / "test.json"
    with pytest.raises(DataFormatError) as err:
        split_json(tmp_path, "validation")
    assert str(err.value) == f"{tmp_path}: no split 'validation' (its splits: train, test)"
    assert err.value.where == str(tmp_path)
    (tmp_path / "test.json").unlink()
    with pytest.raises(
        DataFormatError, match=r"no split 'test' \(its splits: train; test.json is missing: rest"
    ):
        split_json(tmp_path, "test")
    (tmp_path / "train.json").unlink()
    with pytest.raises(DataFormatError, match="no split 'train' .*no train.json or test.json"):
        split_json(tmp_path, "train")
    missing = tmp_path / "validation.json"  # an explicit JSON path: read_official says it
    assert split_json(tmp_path, str(missing)) == missing
    with pytest.raises(DataFormatError, match=r"file not found \(pass the dataset root or a split JSON\)"):
        read_official(missing)


def test_nan_in_an_extra_key_is_refused_on_read_naming_product_and_key(tmp_path):
    """NaN in a key the toolkit does not know was read (and schema validate said valid), then
    every rewrite of the split (mf-tracklets build) failed; it is refused where it is read."""
    path = tmp_path / "train.json"
    path.write_text(
        '{"p0": {"video_paths": ["videos/p0_0.mp4"], "img_path": "imgs/p0.jpg", "source": 1,'
        ' "tracklets": [{}], "score": {"mean": NaN}}}'
    )
    with pytest.raises(DataFormatError, match=r"product 'p0': field 'score': NaN or Infinity") as err:
        read_official(path)
    assert err.value.where == str(path)


def test_a_world_or_a_collection_given_as_a_dataset_says_which_command_makes_one(tmp_path):
    """A synthetic world or mf-collect's folder passed as ``--dataset`` (or to the loader) was
    "no train.json or test.json (pass a dataset in the official MovingFashion format)", which a
    newcomer holding only a world cannot act on."""
    from movingfashion.archive.verify import verify_dataset
    from schemas.official import split_files, split_json

    world, collected = tmp_path / "world", tmp_path / "collected"
    world.mkdir()
    collected.mkdir()
    (world / "world.json").write_text("{}")
    (collected / "catalog.sqlite").write_bytes(b"")
    for call in (
        lambda: split_files(world),
        lambda: split_json(world, "train"),
        lambda: verify_dataset(world),
    ):
        with pytest.raises(DataFormatError, match="synthetic world") as err:
            call()
        assert f"mf world export-gt --world {world} --out DATASET" in (err.value.hint or "")
    with pytest.raises(DataFormatError, match="collection folder") as err:
        split_files(collected)
    assert "mf publish --catalog" in (err.value.hint or "")
    with pytest.raises(DataFormatError) as err:  # any other folder: as before
        split_files(tmp_path)
    assert err.value.hint == "pass a dataset in the official MovingFashion format"
    with pytest.raises(
        DataFormatError, match="dataset folder not found"
    ) as err:  # was "train.json: file not found"
        split_json(tmp_path / "nope", "train")
    assert err.value.where == str(tmp_path / "nope")
