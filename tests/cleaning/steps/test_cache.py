"""The result cache is an optimisation: a damaged file or entry is dropped with a warning naming
the file, never a traceback."""

from __future__ import annotations

import json
import logging

import pytest

from cleaning.config import CleaningConfig
from cleaning.phash import HASH_VERSION
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


def _entry() -> dict:
    return {
        "probe": {"ok": True},
        "fingerprint": [1, 2],
        "pair:" + "b" * 64: {"kind": "full"},
        "splitscreen": {"split": False},
        "phash": "00ff",
        "pick2:x,y:tag": [0.5, 0.9],
        "assoc:tag:sha:crop": {"version": 1, "score": 0.8},
    }


def test_an_older_toolkits_cache_keeps_every_result_its_settings_still_give(tmp_path, caplog):
    """A file of an older toolkit (one tag for everything) whose probe settings lacked a field
    this one has: only the probe results (and the shop picks, whose defaults it did not record)
    are computed again, not every fingerprint and split-screen result."""
    cfg = CleaningConfig()
    old_probe = cfg.probe.model_dump()
    old_probe.pop("max_duration_s")  # a setting added since
    old_tag = json.dumps(
        [old_probe, cfg.dedup.model_dump(), cfg.splitscreen.model_dump(), {"phash": HASH_VERSION}],
        sort_keys=True,
    )
    path = tmp_path / "cache.json"
    path.write_text(
        json.dumps({"tag": old_tag, "entries": {SHA: _entry(), "file:v.mp4": {"stat": [1, 2, SHA]}}})
    )
    with caplog.at_level(logging.WARNING, logger="cleaning.cache"):
        cache = ResultCache(path, cfg)
    assert set(cache.data[SHA]) == set(_entry()) - {"probe", "pick2:x,y:tag"}
    assert cache.get("file:v.mp4", "stat") == [1, 2, SHA]
    (msg,) = [r.getMessage() for r in caplog.records]
    assert str(path) in msg and "pick (1), probe (1)" in msg and "2 cached results are computed again" in msg
    cache.save()  # written with this toolkit's tags: read again silently, nothing dropped
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cleaning.cache"):
        again = ResultCache(path, cfg)
    assert again.data == cache.data and caplog.records == []
    assert json.loads(path.read_text())["tag"] == again.tag  # an older toolkit still reads its tag


def test_a_changed_setting_drops_only_the_results_of_its_kind(tmp_path):
    path = tmp_path / "cache.json"
    cache = ResultCache(path, CleaningConfig())
    for what, value in _entry().items():
        cache.put(SHA, what, value)
    cache.save()
    cfg = CleaningConfig()
    cfg = cfg.model_copy(update={"splitscreen": cfg.splitscreen.model_copy(update={"sample_frames": 99})})
    assert set(ResultCache(path, cfg).data[SHA]) == set(_entry()) - {"splitscreen"}
    cfg = CleaningConfig()
    cfg = cfg.model_copy(update={"dedup": cfg.dedup.model_copy(update={"crop_fraction": 0.5})})
    assert set(ResultCache(path, cfg).data[SHA]) == set(_entry()) - {
        "fingerprint",
        "pair:" + "b" * 64,
        "phash",
    }
