"""A process holding two Catalog handles on one file (the review server does) keeps its SQLite
locks: another process that opens and closes the catalog does not take itself for the last
user, so it neither checkpoints nor deletes the WAL the first process still writes to, and every
write of the first process is seen by the others (decisions were lost this way)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from schemas.catalog import Catalog
from schemas.items import SourceItem, Status

_OTHER = """
import sys
from schemas.catalog import Catalog
with Catalog(sys.argv[1]) as cat:
    print(sorted(r.item.source_id for r in cat.items()))
"""


def _other_process(path: Path) -> list[str]:
    """Open the catalog in another process, list its items, close it."""
    out = subprocess.run(
        [sys.executable, "-c", _OTHER, str(path)], check=True, capture_output=True, text=True
    )
    return eval(out.stdout.strip())  # noqa: S307 - a list of strings this test printed


def _add(cat: Catalog, source_id: str) -> None:
    cat.upsert_items([SourceItem(source="tiktok", source_id=source_id, url=f"https://x/{source_id}")],
                     status=Status.DISCOVERED)  # fmt: skip


def test_two_handles_in_one_process_keep_the_wal_alive_and_writes_visible(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as first:
        _add(first, "1")
        with Catalog(path) as second:  # the review server's second connection
            assert _other_process(path) == ["1"]  # another process opens and closes it
            wal = Path(f"{path}-wal")
            assert wal.exists(), "the other process took itself for the last user and removed the WAL"
            _add(first, "2")  # written after the other process closed
            _add(second, "3")
            assert _other_process(path) == ["1", "2", "3"]
    with Catalog(path) as cat:
        assert sorted(r.item.source_id for r in cat.items()) == ["1", "2", "3"]


def test_a_file_that_is_not_sqlite_is_still_refused_unchanged(tmp_path: Path) -> None:
    import pytest

    from schemas.errors import CatalogError

    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text, not a database at all" * 10)
    before = path.read_bytes()
    with pytest.raises(CatalogError, match="not a SQLite file"):
        Catalog(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
