"""A dataset folder's own records, damaged: a manifest.json, a decoded-media memo or a split file
that is JSON nested 100,000 deep or holds a 5000-digit number reads as no record (the lenient
readers' documented answer), never a RecursionError or ValueError out of mf verify, mf publish
or the loader. Mutated records read or are passed over."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from movingfashion.archive.decoded_memo import DECODED_MEMO, read_memo, write_memo
from movingfashion.archive.describe import MANIFEST, read_manifest
from movingfashion.archive.verify import _named_paths
from tests.fuzz_json import damage, encode, mutate, randoms

BAD = {"deep": "[" * 100_000, "digits": '{"files": ' + "1" * 5000 + "}"}


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_a_damaged_manifest_reads_as_none(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    assert read_manifest(tmp_path) is None  # was: RecursionError / ValueError


def test_a_deeply_nested_memo_reads_as_empty(tmp_path):
    (tmp_path / DECODED_MEMO).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / DECODED_MEMO).write_text(BAD["deep"])
    assert read_memo(tmp_path) == {}  # was: RecursionError


def test_a_deeply_nested_split_file_names_no_path(tmp_path):
    (tmp_path / "train.json").write_text(BAD["deep"])
    (tmp_path / "test.json").write_text(
        '{"1": {"video_paths": ["videos/1_0.mp4"], "img_path": "shop/1.jpg"}}'
    )
    assert "videos/1_0.mp4" in _named_paths(tmp_path)  # was: RecursionError


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=randoms)
def test_mutated_records_read_or_are_passed_over(tmp_path, rng):
    write_memo(tmp_path, {"videos/1_0.mp4": {"stamp": [1, 2, 3, 4], "facts": {"frames": 60}}})
    memo = tmp_path / DECODED_MEMO
    data = encode(mutate(rng, json.loads(memo.read_bytes())))
    memo.write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    read_memo(tmp_path)
    manifest = {"dataset": {"name": "x"}, "files": {"train.json": {"sha256": "0" * 64, "bytes": 10}}}
    data = encode(mutate(rng, manifest))
    (tmp_path / MANIFEST).write_bytes(damage(rng, data) if rng.random() < 0.3 else data)
    read_manifest(tmp_path)
