"""An old-style (legacy) training-copy / crop-cache entry name never leaves its folder: the old
names kept a product id's ``/`` as it was, so a split file's product id such as
``x/../../victim`` would have named (read, then deleted) a file outside the copy folder."""

from __future__ import annotations

import json
import os

import pytest

from movingfashion.training_copy import legacy_entry, remove_legacy

HOSTILE_IDS = [
    "x/../../victim",  # climbs out through a folder the copy holds
    "x/../../../victim",
    "/../../victim",
    "x/" + "../" * 12 + "victim",
]


@pytest.fixture
def planted(tmp_path):
    """A copy folder holding a folder named like a legacy entry's first part, and files beside
    (outside) the copy a hostile product id would name."""
    copy = tmp_path / "work" / "copy"
    (copy / "videos__a@x").mkdir(parents=True)
    (copy / "videos__a@").mkdir()
    for parent in (tmp_path, tmp_path / "work"):
        (parent / "victim.json").write_text(json.dumps({"naming": 1}))
        (parent / "victim.jpgs").write_bytes(b"data")
    return tmp_path, copy


@pytest.mark.parametrize("pid", HOSTILE_IDS)
def test_a_legacy_name_outside_the_copy_folder_is_no_entry(planted, pid):
    top, copy = planted
    assert legacy_entry(copy, "videos/a.mp4", pid, ".json") is None


@pytest.mark.parametrize("pid", HOSTILE_IDS)
def test_removing_legacy_entries_never_touches_files_outside(planted, pid):
    top, copy = planted
    remove_legacy(copy, "videos/a.mp4", pid, (".jpgs", ".json"))
    for parent in (top, top / "work"):
        assert sorted(p for p in os.listdir(parent) if p.startswith("victim")) == [
            "victim.jpgs",
            "victim.json",
        ]


def test_a_legacy_entry_inside_the_copy_folder_is_still_found_and_removed(planted):
    _, copy = planted
    (copy / "videos__a@p.json").write_text(json.dumps({"naming": 1}))
    (copy / "videos__a@p.jpgs").write_bytes(b"data")
    assert legacy_entry(copy, "videos/a.mp4", "p", ".json") == copy / "videos__a@p.json"
    remove_legacy(copy, "videos/a.mp4", "p", (".jpgs", ".json"))
    assert not (copy / "videos__a@p.json").exists() and not (copy / "videos__a@p.jpgs").exists()
