"""Fuzzed official JSON: valid splits round-trip losslessly; anything else raises only the
documented DataFormatError naming the file, the product and the field."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from schemas.errors import DataFormatError
from schemas.official import dump_official, parse_official, read_official, write_official
from schemas.paths import PathEscapeError, check_relpath

#: property-based exploration: many drawn examples, run by `make test`
pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = ("video_paths", "img_path", "source", "tracklets")

name = st.text(alphabet="abcXYZ019_.-", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


def _canonical(path: str) -> bool:
    try:
        check_relpath(path)
    except ValueError:  # e.g. a file name whose stem is '.' or '..' ("a/..0", "...mp4")
        return False
    return True


rel_path = st.lists(name, min_size=1, max_size=3).map("/".join).filter(_canonical)
number = st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def box(draw):
    x1, y1 = draw(number), draw(number)
    w, h = draw(number.filter(lambda v: v >= 0)), draw(number.filter(lambda v: v >= 0))
    x2, y2 = x1 + w, y1 + h
    assume(all(abs(v) < 1e300 for v in (x2, y2)))
    return [x1, y1, x2, y2]


json_scalar = st.none() | st.booleans() | number | st.text(max_size=8)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def entry(draw):
    n = draw(st.integers(1, 3))
    e = {
        "video_paths": draw(st.lists(rel_path, min_size=n, max_size=n)),
        "img_path": draw(rel_path),
        "source": draw(st.integers(-5, 2**40)),
    }
    if draw(st.booleans()):
        e["tracklets"] = [
            draw(st.dictionaries(st.integers(0, 10**6).map(str), box(), max_size=3)) for _ in range(n)
        ]
    extra = draw(
        st.dictionaries(st.text(max_size=10).filter(lambda k: k not in FIELDS), json_value, max_size=3)
    )
    e.update(extra)
    return e


#: product ids: any text but control characters, which the reader refuses (test_official_control_ids)
product_id = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=12)
splits = st.dictionaries(product_id, entry(), max_size=4)


@settings(FUZZ, max_examples=25)
@given(data=splits)
def test_valid_split_files_round_trip_losslessly(tmp_path, data):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    split = read_official(path)
    write_official(tmp_path / "out.json", split)
    back = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert back == data and list(back) == list(data)


@settings(FUZZ, max_examples=60)
@given(data=splits)
def test_valid_splits_round_trip_losslessly(data):
    split = parse_official(json.loads(json.dumps(data)))
    back = json.loads(json.dumps(dump_official(split), ensure_ascii=False))
    assert back == data and list(back) == list(data)
    for pid, e in split.items():  # every accessor works on what validation let through
        assert e.partition in ("regular", "hard")
        for i in range(len(e.video_paths)):
            boxes = e.tracklet_boxes(i)
            assert all(isinstance(k, int) and k >= 0 for k in boxes)
            assert boxes == {int(k): v for k, v in data[pid].get("tracklets", [{}] * (i + 1))[i].items()}


def _mutate(draw, good: dict) -> dict:
    """A product entry with one field broken, dropped, or replaced by arbitrary JSON."""
    bad = dict(good)
    field = draw(st.sampled_from(FIELDS))
    how = draw(st.sampled_from(["drop", "junk", "bad_path", "bad_box", "bad_key"]))
    if how == "drop":
        bad.pop(field, None)
    elif how == "junk":
        bad[field] = draw(json_value)
    elif how == "bad_path":
        evil = draw(
            st.sampled_from(
                ["../../../../etc/passwd", "/etc/passwd", "./a.mp4", "a\\b.mp4", "a\x00b", "a//b", ""]
            )
        )
        if draw(st.booleans()):
            bad["img_path"] = evil
        else:
            bad["video_paths"] = [*bad["video_paths"][:-1], evil]
    elif how == "bad_box":
        bad["tracklets"] = [
            {"0": draw(st.sampled_from([[5, 0, 1, 1], [0, 0, 1], ["a", 0, 1, 1], [0, 0, float("inf"), 1]]))}
        ]
    else:
        bad["tracklets"] = [{draw(st.sampled_from(["x", "-1", "1.5", "²", " 3", "٣"])): [0, 0, 1, 1]}]
    return bad


@st.composite
def malformed(draw):
    kind = draw(st.sampled_from(["top", "value", "mutated"]))
    if kind == "top":
        return draw(json_value.filter(lambda v: not isinstance(v, dict)))
    data = draw(splits)
    pid = draw(st.text(min_size=1, max_size=12))
    data[pid] = draw(json_value) if kind == "value" else _mutate(draw, draw(entry()))
    return data


@FUZZ
@given(data=malformed())
def test_malformed_input_raises_only_the_documented_error(data):
    try:
        parse_official(data, where="train.json")
    except DataFormatError as exc:
        text = str(exc)
        assert text.startswith("train.json: ")
        if isinstance(data, dict):
            named = [  # a control character in the id is shown escaped (repr)
                p
                for p in data
                if text.startswith((f"train.json: product '{p}': ", f"train.json: product {p!r}: "))
            ]
            assert named, text
            if any(isinstance(data[p], dict) for p in named) and ": its id holds " not in text:
                assert re.search(r"': field '[^']+': ", text), text
        if isinstance(exc, PathEscapeError):
            assert exc.what in text and repr(exc.value) in text
        return
    # accepted: then it is a valid split and round-trips
    assert dump_official(parse_official(data)) == data


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_file_bytes_raise_only_the_documented_error(tmp_path, raw):
    path = tmp_path / "test.json"
    path.write_bytes(raw)
    try:
        read_official(path)
    except DataFormatError as exc:
        assert str(exc).startswith(f"{path}: ")


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000, "\ufeff{}", '{"a": NaN}'],
)
def test_pathological_files_raise_only_the_documented_error(tmp_path, text):
    path = tmp_path / "test.json"
    path.write_text(text, encoding="utf-8")
    try:
        read_official(path)
    except DataFormatError as exc:
        assert str(exc).startswith(f"{path}: ")


def test_unreadable_paths_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match="cannot read"):
        read_official(tmp_path)  # a folder
