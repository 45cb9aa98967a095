"""A `--catalog` naming another application's SQLite file (or an empty file) is refused in one
line naming it, exit 2, and left byte for byte as it was: no command migrates it into a catalog;
the read-only commands (catalog check, stats) never migrate or create anything."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.catalog import MIGRATIONS, Catalog
from schemas.errors import CatalogError
from tests.old_catalog import old_catalog


def _foreign(path: Path, table: str = "notes", *, wal: bool = False) -> Path:
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute(f"INSERT INTO {table} (body) VALUES ('my data')")
    db.commit()
    db.close()
    return path


def _state(path: Path) -> tuple[str, int, list[str]]:
    """The file's bytes, mtime and the side files beside it."""
    side = sorted(
        p.name for p in path.parent.iterdir() if p.name != path.name and p.name.startswith(path.name)
    )
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns, side


def _mf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "movingfashion", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


@pytest.mark.parametrize(
    "command",
    [["catalog", "check"], ["stats", "--root", "{d}"], ["clean", "--root", "{d}", "--no-association"]],
    ids=["check", "stats", "clean"],
)
def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path, command):
    path = _foreign(tmp_path / "other.db")
    before = _state(path)
    res = _mf(*[a.format(d=tmp_path) for a in command], "--catalog", str(path))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "not a catalog mf-collect wrote (tables: notes)" in res.stderr
    assert str(path) in res.stderr and "Traceback" not in res.stderr
    assert _state(path) == before
    tables = [t for (t,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")]
    assert tables == ["notes"]


def test_an_empty_file_is_refused_by_clean_and_stays_empty(tmp_path):
    path = tmp_path / "empty.sqlite"
    path.touch()
    res = _mf("clean", "--catalog", str(path), "--root", str(tmp_path), "--no-association")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "catalog is empty" in res.stderr and "Traceback" not in res.stderr
    assert path.stat().st_size == 0


def test_a_foreign_items_table_is_named_not_a_bare_sqlite_message(tmp_path):
    path = _foreign(tmp_path / "other.db", table="items")
    before = _state(path)
    with pytest.raises(CatalogError, match=r"not a catalog mf-collect wrote \(tables: items\)") as err:
        Catalog(path)
    assert err.value.where == str(path) and "--catalog" in (err.value.hint or "")
    assert _state(path) == before


@pytest.mark.parametrize("read_only", [False, True])
def test_a_foreign_wal_database_keeps_its_bytes_and_gets_no_side_files(tmp_path, read_only):
    path = _foreign(tmp_path / "other.db", wal=True)
    before = _state(path)
    with pytest.raises(CatalogError, match="not a catalog"):
        Catalog(path, read_only=read_only, must_exist=True)
    assert _state(path) == before


def test_a_read_only_open_of_an_older_catalog_names_what_upgrades_it_and_writes_nothing(tmp_path):
    path = tmp_path / "catalog.sqlite"
    old_catalog(path, 3).close()
    before = _state(path)
    res = _mf("catalog", "check", "--catalog", str(path))
    assert res.returncode == 2, res.stdout + res.stderr
    assert "schema version 3 is older" in res.stderr and "mf catalog upgrade --catalog" in res.stderr
    assert _state(path) == before
    with Catalog(path) as cat:  # a command that writes it upgrades it, as before
        assert cat.schema_version == len(MIGRATIONS)


def test_a_clash_with_a_catalog_table_while_upgrading_is_named(tmp_path):
    path = tmp_path / "catalog.sqlite"
    db = old_catalog(path, 3)
    db.execute("CREATE TABLE review_decisions (x TEXT)")  # made by something else
    db.close()
    with pytest.raises(CatalogError, match="cannot upgrade the catalog to schema version 4") as err:
        Catalog(path)
    assert err.value.where == str(path)


def test_a_new_catalog_is_still_made_where_there_is_none(tmp_path):
    path = tmp_path / "sub" / "catalog.sqlite"
    with Catalog(path) as cat:
        assert cat.schema_version == len(MIGRATIONS)
    with Catalog(path, read_only=True, must_exist=True) as cat:
        assert cat.count_items() == 0
