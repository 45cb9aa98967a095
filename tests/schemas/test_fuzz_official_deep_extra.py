"""An official split entry with an extra field nested 600 deep (JSON Python parses up to about
1000): every reader of split files reads it, and a rewrite keeps it, where the NaN check's
recursion overflowed (RecursionError out of read_official, read_official_heads and
read_official_rows). Mutated entries, read by each reader, read or raise one DataFormatError
naming the file."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from schemas.errors import DataFormatError
from schemas.official import read_official, read_official_heads, read_official_rows, write_official
from tests.fuzz_json import assert_clear, damage, encode, mutate, randoms

READERS = [read_official, read_official_heads, read_official_rows]
ENTRY = {
    "video_paths": ["videos/101_0.mp4", "videos/101_1.mp4"],
    "img_path": "shop/101.jpg",
    "source": 0,
    "tracklets": [{"5": [1, 2, 30, 40], "6": [1, 2, 30, 41]}, {"0": [0, 0, 10, 10]}],
}


def _deep(n: int) -> list:
    out: list = []
    for _ in range(n):
        out = [out]
    return out


@pytest.mark.parametrize("reader", READERS, ids=lambda f: f.__name__)
def test_an_extra_field_nested_600_deep_is_read(tmp_path, reader):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"101": {**ENTRY, "notes": _deep(600)}}))
    assert reader(path)  # was: RecursionError


def test_an_extra_field_nested_600_deep_is_written_back(tmp_path):
    path, again = tmp_path / "train.json", tmp_path / "again.json"
    path.write_text(json.dumps({"101": {**ENTRY, "notes": _deep(600)}}))
    write_official(again, read_official(path))
    assert read_official(again) == read_official(path)


@pytest.mark.parametrize("reader", READERS, ids=lambda f: f.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=randoms)
def test_a_mutated_split_reads_or_is_one_data_format_error(tmp_path, reader, rng):
    doc = mutate(rng, {"101": ENTRY, "x_2": {**ENTRY, "tracklets": None, "video_paths": ["videos/x_0.mp4"]}})
    data = encode(doc)
    path = tmp_path / "train.json"
    path.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    assert_clear(reader, path, DataFormatError)
