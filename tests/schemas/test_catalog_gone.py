"""A catalog file removed (its folder deleted mid-run) or replaced while a process writes it: the
next write stops with ``catalog_gone`` (a local fault: the run stops early, exit 1) instead of
going on into a file nobody can open again, so no run reports work done that no catalog holds."""

from __future__ import annotations

import os
import shutil

import pytest

from schemas.catalog import Catalog
from schemas.errors import LocalFault
from schemas.faults import REASONS
from schemas.items import SourceItem, SourceName


def _item(n: int) -> SourceItem:
    return SourceItem(source=SourceName.NETAPORTER, source_id=str(n))


def test_a_write_after_the_catalog_folder_is_deleted_stops_with_catalog_gone(tmp_path):
    folder = tmp_path / "data"
    with Catalog(folder / "catalog.sqlite") as cat:
        cat.upsert_item(_item(1))
        shutil.rmtree(folder)  # rm -rf of the root while a run writes
        with pytest.raises(LocalFault) as err:
            cat.upsert_item(_item(2))
    assert err.value.reason == "catalog_gone" and "catalog_gone" in REASONS
    assert err.value.path == str(folder / "catalog.sqlite")


def test_a_write_after_another_file_replaced_the_catalog_stops(tmp_path):
    path, other = tmp_path / "catalog.sqlite", tmp_path / "other.sqlite"
    with Catalog(other) as cat:
        cat.upsert_item(_item(9))
    with Catalog(path) as cat:
        cat.upsert_item(_item(1))
        os.replace(other, path)  # a copy put in its place
        with pytest.raises(LocalFault, match="catalog gone"):
            cat.upsert_item(_item(2))


def test_writes_to_the_same_file_and_in_memory_go_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    with Catalog("catalog.sqlite") as cat, Catalog(":memory:") as mem:
        monkeypatch.chdir(tmp_path / "elsewhere")  # a relative path opened before a chdir
        for n in range(3):
            cat.upsert_item(_item(n))
            mem.upsert_item(_item(n))
        assert len(cat.items()) == len(mem.items()) == 3
