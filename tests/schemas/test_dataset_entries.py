"""read_entry_classes: the product classes of a published entries.jsonl; frame indices of a
tracklet are never negative and written in one canonical form; a video's ground truth is one of its
tracklets."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from schemas.dataset import Tracklet, VideoTracklets, read_entry_classes, read_entry_rows
from schemas.errors import DataFormatError


def test_reads_classes_and_skips_rows_without_one(tmp_path):
    p = tmp_path / "entries.jsonl"
    p.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"product_id": "a", "df2_class": 7},
                {"product_id": "b", "df2_class": None},
                {"product_id": 12, "df2_class": 13},
            ]
        )
        + "\n\n"
    )
    assert read_entry_classes(p) == {"a": 7, "12": 13}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: malformed JSON"),
        ('{"df2_class": 3}', "line 2: expected an object with product_id"),
        ('{"product_id": "x", "df2_class": 14}', "product 'x': df2_class 14"),
        ('{"product_id": "x", "df2_class": 3, "metadata": 5}', "line 2: product 'x': field 'metadata'"),
        ('{"product_id": "x", "video_paths": ["v.mp4", 7]}', r"line 2: product 'x': field 'video_paths\.1'"),
        ('{"product_id": "x", "partition": "medium"}', "line 2: product 'x': field 'partition'"),
    ],
)
def test_bad_rows_name_the_file_and_line_or_product(tmp_path, line, message):
    p = tmp_path / "entries.jsonl"
    p.write_text('{"product_id": "a", "df2_class": 1}\n' + line + "\n")
    with pytest.raises(DataFormatError, match=message) as exc:
        read_entry_classes(p)
    assert "entries.jsonl" in str(exc.value)


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("boxes", {"-3": [1, 2, 3, 4]}, ("boxes", "-3", "[key]")),
        ("scores", {"-1": 0.5}, ("scores", "-1", "[key]")),
        ("match_scores", {"-1": 0.5}, ("match_scores", "-1", "[key]")),
        ("noise", {"-1": "occlusion"}, ("noise", "-1", "[key]")),
        ("pivot_frame", -2, ("pivot_frame",)),
    ],
)
def test_a_negative_frame_index_is_refused_naming_the_field(field, value, loc):
    data = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4]}, field: value}
    with pytest.raises(ValidationError) as exc:
        Tracklet.model_validate_json(json.dumps(data))
    err = exc.value.errors()[0]
    assert err["loc"] == loc and "greater than or equal to 0" in err["msg"]
    frame0 = {"0": next(iter(value.values()))} if isinstance(value, dict) else 0
    Tracklet.model_validate_json(json.dumps({**data, field: frame0}))  # frame 0 is fine


@pytest.mark.parametrize("field", ["boxes", "scores", "match_scores", "noise"])
@pytest.mark.parametrize("key", ["07", "+7", " 7", "7 ", "7_0", "-0", "0x7", "٧"])
def test_a_frame_key_not_in_canonical_form_is_refused_not_merged(field, key):
    value = {"boxes": [1, 2, 3, 4], "scores": 0.5, "match_scores": 0.5, "noise": "occlusion"}[field]
    data = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4]}, field: {"7": value, key: value}}
    with pytest.raises(ValidationError) as exc:
        Tracklet.model_validate_json(json.dumps(data))
    err = exc.value.errors()[0]
    assert err["loc"] == (field, key, "[key]") and f"frame {key!r} is not" in err["msg"]


@pytest.mark.parametrize("field", ["boxes", "scores"])
def test_a_frame_past_any_video_is_refused_by_name(field):
    """A key of 20 digits passed as a frame, then overflowed an int64 array; now it is refused."""
    value = {"boxes": [1, 2, 3, 4], "scores": 0.5}[field]
    key = "1" + "0" * 19
    data = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4]}, field: {"7": value, key: value}}
    with pytest.raises(ValidationError) as exc:
        Tracklet.model_validate_json(json.dumps(data))
    err = exc.value.errors()[0]
    assert err["loc"] == (field, key, "[key]") and "at most 9 digits" in err["msg"]
    with pytest.raises(ValidationError):
        Tracklet.model_validate_json(json.dumps({**data, field: {"0": value}, "pivot_frame": 10**12}))


def test_canonical_frame_keys_round_trip():
    data = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4], "7": [1, 2, 3, 5], "10": [1, 2, 3, 6]}}
    trk = Tracklet.model_validate_json(json.dumps(data))
    assert sorted(trk.boxes) == [0, 7, 10]
    assert Tracklet.model_validate_json(trk.model_dump_json()) == trk


def _video(**fields):
    trk = {"video": "videos/1_0.mp4", "boxes": {"0": [1, 2, 3, 4]}}
    other = {"video": "videos/1_0.mp4", "boxes": {"0": [5, 6, 7, 8]}}
    base = {"product_id": "1", "video": "videos/1_0.mp4", "frames": 5, "width": 64, "height": 48}
    return json.dumps({**base, "tracklets": [trk, other], **fields})


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"ground_truth": 7}, "ground_truth", "index 7 but the file has 2 tracklets"),
        ({"ground_truth": 2}, "ground_truth", "index 2 but the file has 2 tracklets"),
        ({"ground_truth": -1}, "ground_truth", "greater than or equal to 0"),
        ({"ground_truth": 0, "tracklets": []}, "ground_truth", "index 0 but the file has 0 tracklets"),
        ({"frames": -5}, "frames", "greater than or equal to 0"),
        ({"width": -640}, "width", "greater than or equal to 0"),
        ({"height": -1}, "height", "greater than or equal to 0"),
    ],
)
def test_video_tracklets_refuse_a_ground_truth_outside_the_tracklets_and_negative_sizes(fields, field, words):
    with pytest.raises(ValidationError) as exc:
        VideoTracklets.model_validate_json(_video(**fields))
    err = exc.value.errors()[0]
    assert err["loc"] == (field,) and words in err["msg"]


@pytest.mark.parametrize("index", [0, 1, None])
def test_video_tracklets_official_is_the_ground_truth_tracklet(index):
    vt = VideoTracklets.model_validate_json(_video(ground_truth=index))
    raw = json.loads(_video())["tracklets"]
    assert vt.official() == ({} if index is None else raw[index]["boxes"])


def test_a_line_that_is_not_utf8_is_that_lines_error(tmp_path):
    """Was a UnicodeDecodeError traceback in the loader (on_bad='skip' too) and mf-tracklets build."""
    p = tmp_path / "entries.jsonl"
    p.write_bytes(b'{"product_id": "a", "df2_class": 1}\n{"product_id": "b\xff", "df2_class": 2}\n')
    with pytest.raises(DataFormatError, match="line 2") as exc:
        read_entry_classes(p)
    assert exc.value.where == str(p)
    bad: list[tuple[str, str]] = []
    assert list(read_entry_rows(p, bad=bad)) == ["a"] and bad[0][0] == "line 2"


def test_a_truncated_last_line_says_to_republish(tmp_path):
    """A crash or a full disk cut the file's last line: the error names the file and line and
    says what mends it (mf-tracklets build printed the JSON error alone)."""
    p = tmp_path / "entries.jsonl"
    p.write_text('{"product_id": "a", "df2_class": 1}\n{"product_id": "b", "df2_cl')
    with pytest.raises(DataFormatError, match="line 2: malformed JSON") as exc:
        read_entry_rows(p)
    assert exc.value.where == str(p) and "mf publish" in (exc.value.hint or "")
    p.write_text('{"product_id": "a", "df2_class": 1}\n[1, 2]\n')
    with pytest.raises(DataFormatError, match="line 2: expected an object") as exc:
        read_entry_rows(p)
    assert "mf publish" in (exc.value.hint or "")
