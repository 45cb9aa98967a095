"""Records the toolkit writes and reads back leniently (a tracklet file's build record, a
tracklet file as mf publish scans it, a lock file's holder, a download's resume state, the
cleaning result cache), damaged into JSON nested 100,000 deep: each reads as its documented
"does not read" answer (fuzzing found a RecursionError out of each: json raises it, not a
ValueError, past the interpreter's nesting limit)."""

from __future__ import annotations

import pytest

from annotations.tracklet_files import build_record_file, read_build_record
from cleaning.config import CleaningConfig
from cleaning.publish.sweep import _file_video
from cleaning.steps.cache import ResultCache
from collectors.part_resume import kept_part, state_path
from schemas.atomic import lock_holder

DEEP = "[" * 100_000


def _build_record(tmp_path):
    tracklet = tmp_path / "tracklets" / "1_0.json"
    tracklet.parent.mkdir()
    tracklet.write_text("{}")
    record = build_record_file(tracklet)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(DEEP)
    return read_build_record(tracklet), {}


def _tracklet_file(tmp_path):
    (tmp_path / "1_0.json").write_text(DEEP)
    return _file_video(tmp_path / "1_0.json"), None


def _lock(tmp_path):
    (tmp_path / "x.lock").write_text(DEEP)
    return lock_holder(tmp_path / "x.lock"), None


def _part(tmp_path):
    part = tmp_path / "v.mp4.part"
    part.write_bytes(b"x")
    state_path(part).write_text(DEEP)
    return kept_part(part, "https://example.com/v.mp4"), None


def _cleaning_cache(tmp_path):
    (tmp_path / "cache.json").write_text(DEEP)
    return ResultCache(tmp_path / "cache.json", CleaningConfig()).data, {}


@pytest.mark.parametrize("read", [_build_record, _tracklet_file, _lock, _part, _cleaning_cache])
def test_a_record_nested_too_deeply_reads_as_unreadable(tmp_path, read):
    got, unreadable = read(tmp_path)  # was: RecursionError
    assert got == unreadable
