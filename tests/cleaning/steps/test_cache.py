"""The result cache is an optimisation: a damaged file or entry is dropped with a warning naming
the file, never a traceback."""

from __future__ import annotations

import json
import logging

import pytest

from cleaning.config import CleaningConfig
from cleaning.steps.cache import ResultCache

SHA = "a" * 64


def _tag(tmp_path):
    return ResultCache(tmp_path / "unused.json", CleaningConfig()).tag


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe\x00garbage", "damaged cleaning result cache"),
        (b"{not json", "damaged cleaning result cache"),
        (b"[1, 2]", "not a JSON object"),
        (None, "entries is not an object"),  # entries: []
    ],
)
def test_a_damaged_cache_file_starts_empty_with_a_warning(tmp_path, caplog, content, why):
    path = tmp_path / "cache.json"
    path.write_bytes(
        content if content is not None else json.dumps({"tag": _tag(tmp_path), "entries": []}).encode()
    )
    with caplog.at_level(logging.WARNING, logger="cleaning.cache"):
        cache = ResultCache(path, CleaningConfig())
    assert cache.data == {} and cache.get(SHA, "probe") is None
    assert any(str(path) in r.getMessage() and why in r.getMessage() for r in caplog.records)
    cache.put(SHA, "probe", {"ok": True})
    cache.save()
    assert ResultCache(path, CleaningConfig()).get(SHA, "probe") == {"ok": True}  # rebuilt


def test_a_damaged_entry_is_dropped_alone(tmp_path, caplog):
    path = tmp_path / "cache.json"
    good = {"probe": {"ok": True}}
    path.write_text(json.dumps({"tag": _tag(tmp_path), "entries": {SHA: good, "b" * 64: "x", "c" * 64: [1]}}))
    with caplog.at_level(logging.WARNING, logger="cleaning.cache"):
        cache = ResultCache(path, CleaningConfig())
    assert cache.data == {SHA: good}
    assert cache.get("b" * 64, "probe") is None
    assert any("dropped 2 damaged" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


def test_get_and_put_survive_an_entry_that_is_not_an_object(tmp_path):
    cache = ResultCache(tmp_path / "cache.json", CleaningConfig())
    cache.data[SHA] = "x"  # as a damaged file could hold it
    assert cache.get(SHA, "probe") is None
    cache.put(SHA, "probe", {"ok": True})
    assert cache.get(SHA, "probe") == {"ok": True}
