"""A damaged catalog is found on open (quick_check) or by the query that meets the damage, named
in one line with the way back, and never written to; SQLite's local faults become LocalFault."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogCorrupt, CatalogError, LocalFault
from schemas.items import MediaAsset, SourceItem, Status
from tests.damage import corrupt_mid_file


def _filled(path, n=600):
    with Catalog(path) as cat:
        cat.upsert_items(
            [SourceItem(source="tiktok", source_id=f"v{i:04d}", title="t" * 80) for i in range(n)],
            status="downloaded",
        )
        cat.upsert_assets(
            [
                MediaAsset(
                    source="tiktok", source_id=f"v{i:04d}", kind="video", url=f"u{i}", status="downloaded"
                )
                for i in range(n)
            ]
        )
    return path


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_damage_in_the_middle_is_refused_on_open_and_nothing_is_written(tmp_path, seed):
    path = _filled(tmp_path / "catalog.sqlite")
    before = corrupt_mid_file(path, seed)
    with pytest.raises(CatalogCorrupt) as err:
        Catalog(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text
    assert ".recover" in text and "copy" in text
    assert path.read_bytes() == before


def test_a_file_that_is_not_sqlite_is_named(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_text('{"this": "is json"}')
    with pytest.raises(CatalogError, match="not a SQLite file") as err:
        Catalog(path)
    assert str(path) in str(err.value)
    assert path.read_text() == '{"this": "is json"}'


def test_damage_met_by_a_query_is_named_and_later_writes_are_refused(tmp_path):
    cat = Catalog(_filled(tmp_path / "catalog.sqlite"))
    damage = cat._db.translate(sqlite3.DatabaseError("database disk image is malformed"))
    assert isinstance(damage, CatalogCorrupt) and str(cat.path) in str(damage)
    with pytest.raises(CatalogCorrupt):
        cat.set_item_state("tiktok", "v0001", status=Status.FAILED, reason="x")
    cat.close()
    with Catalog(tmp_path / "catalog.sqlite") as again:  # the write never happened
        assert again.get_item("tiktok", "v0001").status == Status.DOWNLOADED


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("database or disk is full", "disk_full"),
        ("disk I/O error", "io_error"),
        ("attempt to write a readonly database", "permission_denied"),  # a writable file system
    ],
)
def test_sqlite_local_faults_are_named(tmp_path, message, reason):
    with Catalog(tmp_path / "c.sqlite") as cat:
        fault = cat._db.translate(sqlite3.OperationalError(message))
    assert (
        isinstance(fault, LocalFault) and fault.reason == reason and fault.path == str(tmp_path / "c.sqlite")
    )
    assert fault.exit_code == 1


def _mf(*args):
    return subprocess.run([sys.executable, "-m", "movingfashion", *args], capture_output=True, text=True)


def test_mf_catalog_check_sound_and_damaged(tmp_path):
    path = _filled(tmp_path / "catalog.sqlite")
    ok = _mf("catalog", "check", "--catalog", str(path), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["items"] == 600
    before = corrupt_mid_file(path, 3)
    bad = _mf("catalog", "check", "--catalog", str(path), "--json")
    assert bad.returncode == 2
    assert json.loads(bad.stdout)["ok"] is False and json.loads(bad.stdout)["problems"]
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and ".recover" in lines[0]
    assert "Traceback" not in bad.stderr
    assert path.read_bytes() == before


def test_an_io_error_on_a_nearly_full_disk_is_a_full_disk(tmp_path, monkeypatch):
    """SQLite reports no errno when it cannot grow its -wal/-shm files: with (nearly) no space
    left the fault says disk full, not a disk to check (fault audit D12)."""
    import os

    import schemas.faults as faults

    class Full:
        f_bavail, f_frsize = 3, 4096

    real = os.statvfs
    with Catalog(tmp_path / "c.sqlite") as cat:
        monkeypatch.setattr(faults.os, "statvfs", lambda folder: Full())
        fault = cat._db.translate(sqlite3.OperationalError("disk I/O error"))
        monkeypatch.setattr(faults.os, "statvfs", real)
        roomy = cat._db.translate(sqlite3.OperationalError("disk I/O error"))
    assert fault.reason == "disk_full" and "SQLITE_IOERR" in str(fault)
    assert roomy.reason == "io_error"


def test_an_io_error_names_a_file_size_limit_or_both_likely_causes(tmp_path, monkeypatch):
    """SQLite reports a file size limit (EFBIG) as "disk I/O error" too: with the catalog at this
    process's limit the fault says file too large and how to raise it; with no cue it names the
    catalog file and both likely causes instead of only a disk to check."""
    import resource

    import schemas.faults as faults

    path = _filled(tmp_path / "c.sqlite", n=10)
    size = path.stat().st_size
    with Catalog(path) as cat:
        plain = cat._db.translate(sqlite3.OperationalError("disk I/O error"))
        monkeypatch.setattr(faults.resource, "getrlimit", lambda what: (size, resource.RLIM_INFINITY))
        limited = cat._db.translate(sqlite3.OperationalError("disk I/O error"))
    assert plain.reason == "io_error" and plain.path == str(path)
    assert "a full disk or a file size limit?" in str(plain) and "ulimit -f" in plain.hint
    assert limited.reason == "file_too_large" and limited.path == str(path)
    assert "SQLITE_IOERR" in str(limited) and "ulimit -f" in limited.hint


def test_a_split_file_given_as_the_catalog_is_not_called_damaged(tmp_path):
    """``--catalog dataset/train.json``: the hint said its "first page is damaged: restore it from
    a copy", sending a user to restore a file that was never a catalog."""
    path = tmp_path / "train.json"
    path.write_text('{"1234": {}}')
    with pytest.raises(CatalogError, match="not a SQLite file") as err:
        Catalog(path)
    assert "a .json file is not a catalog" in str(err.value) and "damaged" not in str(err.value)
