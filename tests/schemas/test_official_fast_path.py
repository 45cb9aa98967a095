"""The one-pass box check of the split reader agrees with the per-box validators it stands in for:
the same parsed split on valid files, the same error (file, product, field, message) on bad ones,
and it never vouches for a box or frame key that the per-box path would refuse."""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from schemas import official
from schemas.errors import DataFormatError
from schemas.geometry import Box, plain_boxes_valid
from schemas.official import dump_official, is_frame_key, parse_official, read_official, read_official_rows
from tests.movingfashion.helpers import big_tracklet, split_entry

BIG = 2**53


@contextlib.contextmanager
def per_box_only() -> Iterator[None]:
    """The reader as it was: every box through :data:`Box`, every frame key through the loop."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(official, "_plain_tracklet", lambda trk: False)
        mp.setattr(official, "canonical_frame_keys", lambda trk: False)
        yield


def _typed(split: dict[str, Any]) -> str:
    """The written form of a split: values and number types (1 vs 1.0) both show."""
    return json.dumps(dump_official(split))


def _read_both(path: Path) -> tuple[Any, Any]:
    fast = read_official(path)
    with per_box_only():
        slow = read_official(path)
    return fast, slow


def test_a_valid_split_reads_the_same_both_ways(tmp_path):
    data = {
        "p1": split_entry([big_tracklet(), big_tracklet(50, start=7)]),
        "p2": split_entry(
            [{"0": [0, 0, 0, 0], "1": [-5, -2.5, 1e300, 1e300], "2": [BIG + 1, 0, BIG + 1, 1]}]
        ),
        "p3": split_entry([{}]),
        "p4": {"video_paths": ["videos/q.mp4"], "img_path": "imgs/q.jpg", "source": 0, "x": [1.5]},
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    fast, slow = _read_both(path)
    assert fast == slow and _typed(fast) == _typed(slow) == json.dumps(data)
    assert fast["p1"].tracklet_boxes(1) == slow["p1"].tracklet_boxes(1)
    assert gc.isenabled()


def test_a_valid_tracklet_takes_the_one_pass_check(monkeypatch):
    seen: list[bool] = []
    check = official._plain_tracklet
    monkeypatch.setattr(official, "_plain_tracklet", lambda trk: seen.append(check(trk)) or seen[-1])
    parse_official({"p": split_entry([big_tracklet(), big_tracklet(10)])})
    assert seen == [True, True]


def test_parsed_boxes_are_copies_of_the_callers_data_both_ways():
    """``parse_official`` keeps no list of the caller's, and numpy numbers become the same Python
    numbers, both ways."""
    parsed = []
    for mode in (contextlib.nullcontext, per_box_only):
        data = {"p": split_entry([{"0": [1, 2, 3, 4], "1": [np.float32(1.5), np.int64(2), 3, 4.0]}])}
        with mode():
            split = parse_official(data)
        data["p"]["tracklets"][0]["0"][0] = 99
        parsed.append([(v, type(v)) for box in split["p"].tracklets[0].values() for v in box])
    assert parsed[0] == parsed[1] and parsed[0][:4] == [(1, int), (2, int), (3, int), (4, int)]


BAD_BOXES = {
    "bool": [0, True, 30, 30],
    "string": [0, "2", 30, 30],
    "null": [0, None, 30, 30],
    "nested": [0, [1], 30, 30],
    "nan": [0, float("nan"), 30, 30],
    "infinity": [0, 0, float("inf"), 30],
    "too large for a float": [0, 0, 10**400, 30],
    "x2 < x1": [50, 0, 10, 30],
    "y2 < y1": [0, 50, 10, 30],
    "x2 < x1 past 2**53": [BIG + 1, 0, BIG, 30],
    "3 numbers": [0, 0, 30],
    "5 numbers": [0, 0, 30, 30, 1],
    "empty": [],
    "an object": {"a": 1, "b": 2, "c": 3, "d": 4},
    "a number": 7,
    "a string": "0 0 30 30",
}


@pytest.mark.parametrize("kind", list(BAD_BOXES))
def test_a_bad_box_is_named_alike_both_ways(tmp_path, kind):
    """A bad box deep in a large tracklet: the error names the file, the product, the tracklet
    and the frame, with the per-box path's own message (the file is read both ways)."""
    trk = big_tracklet(start=5)
    trk["317"] = BAD_BOXES[kind]
    data = {"ok": split_entry([big_tracklet()]), "P42": split_entry([big_tracklet(20), trk])}
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data, allow_nan=True))
    errors = []
    for mode in (contextlib.nullcontext, per_box_only):
        with mode(), pytest.raises(DataFormatError) as err:
            read_official(path)
        errors.append(str(err.value))
        assert read_official_rows(path)[1] == [("P42", errors[-1])]
    assert errors[0] == errors[1]
    assert str(path) in errors[0] and "product 'P42': field 'tracklets[1].317'" in errors[0]
    assert gc.isenabled()


@pytest.mark.parametrize("key", ["07", "00", "", "x", "-1", "+1", "1.0", "\u0663", " 1", "1234567890"])
def test_a_bad_frame_key_is_named_alike_both_ways(key):
    trk = big_tracklet()
    trk[key] = [1, 1, 2, 2]
    errors = []
    for mode in (contextlib.nullcontext, per_box_only):
        with mode(), pytest.raises(DataFormatError) as err:
            parse_official({"P42": split_entry([trk])}, where="test.json")
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert (
        "test.json" in errors[0]
        and "product 'P42': field 'tracklets'" in errors[0]
        and repr(key) in errors[0]
    )


def test_a_bad_box_is_named_before_a_bad_frame_key_both_ways():
    errors = []
    for mode in (contextlib.nullcontext, per_box_only):
        with mode(), pytest.raises(DataFormatError) as err:
            parse_official({"P42": split_entry([{"07": [1, 1, 2, 2]}, {"3": [5, 0, 1, 1]}])})
        errors.append(str(err.value))
    assert errors[0] == errors[1] and "tracklets[1].3" in errors[0]


value = (
    st.integers(-(2**64), 2**64)
    | st.floats(width=64)
    | st.sampled_from([True, False, None, "1", BIG, BIG + 1, -BIG - 1, 10**400, np.float32(1.5), np.int64(3)])
)
boxes = st.lists(st.lists(value, min_size=3, max_size=5), max_size=6)


@settings(max_examples=300, deadline=None)
@given(boxes=boxes)
def test_the_one_pass_check_vouches_only_for_what_box_accepts_unchanged(boxes):
    if not plain_boxes_valid(boxes):
        return
    got = TypeAdapter(list[Box]).validate_python(boxes)  # raises if it vouched for a bad box
    assert got == boxes and [list(map(type, b)) for b in got] == [list(map(type, b)) for b in boxes]


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.text(alphabet="0129a\u0663 +-", max_size=3), max_size=6, unique=True))
def test_the_frame_key_check_vouches_only_for_canonical_keys(keys):
    trk = dict.fromkeys(keys, [0, 0, 1, 1])
    if official.canonical_frame_keys(trk):
        assert all(map(is_frame_key, keys))
    elif keys:
        assert not all(map(is_frame_key, keys))


tracklet = st.dictionaries(
    st.integers(0, 10**6).map(str),
    st.lists(value, min_size=4, max_size=4),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(tracklets=st.lists(tracklet, min_size=1, max_size=3))
def test_any_tracklets_parse_or_fail_alike_both_ways(tracklets):
    outcomes = []
    for mode in (contextlib.nullcontext, per_box_only):
        with mode():
            try:
                outcomes.append(_typed(parse_official({"p": split_entry(tracklets)}, where="t.json")))
            except DataFormatError as exc:
                outcomes.append(f"error: {exc}")
    assert outcomes[0] == outcomes[1]
