"""The exported JSON Schemas state the official reader's rules (as far as JSON Schema can)."""

from __future__ import annotations

import json
import re

import pytest

from schemas.errors import DataFormatError
from schemas.export import EXPORTED_MODELS, export_json_schemas, json_schema
from schemas.official import FRAME_KEY_PATTERN, RELPATH_PATTERN, is_frame_key, parse_official
from schemas.paths import MAX_PATH, check_relpath

BASE = {"video_paths": ["videos/a.mp4"], "img_path": "imgs/a.jpg", "source": 1}
#: Entries the reader refuses and JSON Schema can refuse too (x2 < x1 it cannot: no keyword
#: compares two items of an array).
BAD = {
    "box of 3 numbers": dict(BASE, tracklets=[{"0": [1, 2, 3]}]),
    "box of 5 numbers": dict(BASE, tracklets=[{"0": [1, 2, 3, 4, 5]}]),
    "box with a string": dict(BASE, tracklets=[{"0": [1, 2, "3", 4]}]),
    "frame key 'abc'": dict(BASE, tracklets=[{"abc": [1, 2, 3, 4]}]),
    "frame key '-1'": dict(BASE, tracklets=[{"-1": [1, 2, 3, 4]}]),
    "frame key '07'": dict(BASE, tracklets=[{"07": [1, 2, 3, 4]}]),
    "frame key '7\\n'": dict(BASE, tracklets=[{"7\n": [1, 2, 3, 4]}]),
    "absolute path": dict(BASE, img_path="/etc/passwd"),
    "'..' path": dict(BASE, video_paths=["../outside.mp4"]),
    "'.' part": dict(BASE, video_paths=["videos/./a.mp4"]),
    "backslash": dict(BASE, img_path="imgs\\a.jpg"),
    "trailing newline": dict(BASE, img_path="imgs/a.jpg\n"),
    "no video": dict(BASE, video_paths=[]),
    "source a string": dict(BASE, source="1"),
}
GOOD = {
    "plain": BASE,
    "tracklets and extra keys": dict(
        BASE, tracklets=[{"0": [1, 2, 3, 4], "12": [1.5, 2, 3, 4.25]}, {}], note="kept"
    ),
    "odd but canonical names": dict(BASE, img_path="imgs/...x/a b.jpg", video_paths=["v/..a.mp4"]),
}

PATHS = [
    "a",
    "videos/a.mp4",
    "...",
    "a/.../b",
    ".hidden/x",
    "a..b/c",
    "ü/日本.mp4",
    "",
    "/a",
    "a/",
    "a//b",
    ".",
    "..",
    "./a",
    "a/.",
    "a/..",
    "a/../b",
    "a\\b",
    "C:/x",
    "c:x",
    "a\x00b",
    "a\tb",
    "a\n",
    "\na",
    "a\x7f",
    "x" * MAX_PATH,
    "x" * (MAX_PATH + 1),
    # FFmpeg protocols in the first part, and file names whose stem is '.' or '..'
    "tcp:host/x.mp4",
    "concat:a/b.mp4",
    "tcp:x",
    "a/b:c.mp4",
    "imgs/..jpg",
    "imgs/...jpg",
    "..jpg",
    "imgs/....jpg",
    "imgs/...",
    "imgs/a..jpg",
    "imgs/.hidden",
]
KEYS = [
    "0",
    "7",
    "10",
    "1234567",
    "999999999",
    "1234567890",
    "",
    "00",
    "07",
    "-1",
    "+1",
    "1.0",
    "1e3",
    "abc",
    " 1",
    "1\n",
    "\u0663",
]


def _path_ok(value: str) -> bool:
    try:
        check_relpath(value)
    except ValueError:
        return False
    return True


def _schema_path_ok(value: str) -> bool:
    return 1 <= len(value) <= MAX_PATH and re.search(RELPATH_PATTERN, value) is not None


@pytest.mark.parametrize("value", PATHS)
def test_the_path_pattern_accepts_what_check_relpath_accepts(value):
    assert _schema_path_ok(value) == _path_ok(value)


@pytest.mark.parametrize("key", KEYS)
def test_the_frame_key_pattern_accepts_what_the_reader_accepts(key):
    assert (re.search(FRAME_KEY_PATTERN, key) is not None) == is_frame_key(key)


def test_the_entry_schema_states_the_box_frame_key_and_path_rules():
    """Without a validator: the rules are in the schema (box length, key and path patterns)."""
    entry = json_schema("official_entry")
    props = entry["properties"]
    trk = props["tracklets"]["items"]
    assert trk["propertyNames"] == {"pattern": FRAME_KEY_PATTERN}
    box = trk["additionalProperties"]
    assert (box["type"], box["items"], box["minItems"], box["maxItems"]) == (
        "array",
        {"type": "number"},
        4,
        4,
    )
    assert "x1 <= x2" in box["description"]
    assert props["img_path"]["pattern"] == RELPATH_PATTERN
    assert props["video_paths"]["items"]["pattern"] == RELPATH_PATTERN
    assert props["video_paths"]["minItems"] == 1


def test_the_split_schema_maps_product_ids_to_entries(tmp_path):
    written = export_json_schemas(tmp_path)
    assert len(written) == len(EXPORTED_MODELS) and (tmp_path / "official_split.schema.json") in written
    split = json.loads((tmp_path / "official_split.schema.json").read_text())
    entry = json.loads((tmp_path / "official_entry.schema.json").read_text())
    assert split["type"] == "object"
    ref = split["additionalProperties"]["$ref"].split("/")[-1]
    assert split["$defs"][ref]["properties"] == entry["properties"]


def _reader_ok(entry: dict) -> bool:
    try:
        parse_official({"p": entry})
    except DataFormatError:
        return False
    return True


@pytest.mark.parametrize("name", [*BAD, *GOOD])
def test_the_exported_schemas_agree_with_the_reader(tmp_path, name):
    jsonschema = pytest.importorskip("jsonschema")
    export_json_schemas(tmp_path)
    entry_schema = json.loads((tmp_path / "official_entry.schema.json").read_text())
    split_schema = json.loads((tmp_path / "official_split.schema.json").read_text())
    entry = BAD.get(name) or GOOD[name]
    valid = jsonschema.Draft202012Validator(entry_schema).is_valid(entry)
    assert valid == _reader_ok(entry) == (name in GOOD)
    split = {"1001": GOOD["plain"], "1002": entry}
    assert jsonschema.Draft202012Validator(split_schema).is_valid(split) == valid
