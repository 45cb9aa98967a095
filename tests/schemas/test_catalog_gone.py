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


def _replaced_under_a_writer(tmp_path):
    """A catalog written (its -wal holding the writes), then another catalog moved over it."""
    path, other = tmp_path / "catalog.sqlite", tmp_path / "other.sqlite"
    with Catalog(other) as cat:
        cat.upsert_item(_item(9))
    cat = Catalog(path)
    cat.upsert_item(_item(1))
    assert os.path.getsize(f"{path}-wal") > 0
    os.replace(other, path)  # a backup restored over it while the run writes
    return path, cat


@pytest.mark.parametrize("writer", ["closed", "still_writing"])
def test_the_write_ahead_log_of_a_replaced_catalog_is_not_replayed_onto_the_new_file(tmp_path, writer):
    """Was: the next open replayed the old file's -wal onto the new one (it read item 1, not 9)."""
    from schemas.catalog import WalOfAnotherFile

    path, cat = _replaced_under_a_writer(tmp_path)
    if writer == "closed":
        with pytest.raises(LocalFault, match="catalog gone"):
            cat.upsert_item(_item(2))
        cat.close()
    before = path.read_bytes()
    for read_only in (True, False):
        with pytest.raises(WalOfAnotherFile) as err:
            Catalog(path, read_only=read_only)
        assert err.value.where == f"{path}-wal" and "replaced" in str(err.value)
        assert f"catalog.sqlite{'-wal-owner'}" in err.value.hint
    assert path.read_bytes() == before  # nothing applied
    cat.close()  # the writer still running stops (its -wal stays: SQLite will not checkpoint it)
    for suffix in ("-wal", "-shm", "-wal-owner"):  # what the error says to do
        if os.path.exists(f"{path}{suffix}"):
            os.replace(f"{path}{suffix}", tmp_path / f"aside{suffix}")
    with Catalog(path, read_only=True) as again:
        assert [r.item.source_id for r in again.items()] == ["9"]


def test_the_owner_record_goes_at_close_and_a_copy_elsewhere_keeps_its_log(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as a, Catalog(path) as b:
        a.upsert_item(_item(1))
        b.upsert_item(_item(2))
        assert os.path.exists(f"{path}-wal-owner")
    assert sorted(os.listdir(tmp_path)) == ["catalog.sqlite"]
    with Catalog(path, read_only=True) as again:
        assert len(again.items()) == 2
    # a writer stopped with its -wal left (a full disk), the folder copied to a larger disk: the
    # copy is the same file moved, not a replacement, and its -wal is applied
    path = tmp_path / "a" / "catalog.sqlite"
    cat = Catalog(path)
    cat.upsert_item(_item(3))
    assert os.path.getsize(f"{path}-wal") > 0 and os.path.exists(f"{path}-wal-owner")
    shutil.copytree(path.parent, tmp_path / "b")
    cat.close()
    with Catalog(tmp_path / "b" / "catalog.sqlite", read_only=True) as copy:
        assert [r.item.source_id for r in copy.items()] == ["3"]


def test_a_catalog_reached_through_a_symlink_keeps_its_owner_record_beside_its_log(tmp_path):
    """SQLite keeps the -wal and -shm beside the file a symlink leads to. The owner record went
    beside the link and the replaced-file check looked for a -wal there, so a log of a replaced
    file was replayed onto the new one when the catalog was opened through a link (it read
    item 1, not 9). Now both are beside the target."""
    from schemas.catalog import WalOfAnotherFile

    real = tmp_path / "disk" / "catalog.sqlite"
    link = tmp_path / "catalog.sqlite"
    real.parent.mkdir()
    other = tmp_path / "disk" / "other.sqlite"
    with Catalog(other) as cat:
        cat.upsert_item(_item(9))
    with Catalog(real):
        pass
    link.symlink_to(real)
    cat = Catalog(link)
    cat.upsert_item(_item(1))
    assert os.path.getsize(f"{real}-wal") > 0 and os.path.exists(f"{real}-wal-owner")
    assert not os.path.lexists(f"{link}-wal-owner")
    os.replace(other, real)  # a backup restored over the link's target while the run writes
    before = real.read_bytes()
    for path in (link, real):
        for read_only in (True, False):
            with pytest.raises(WalOfAnotherFile) as err:
                Catalog(path, read_only=read_only)
            assert err.value.where == f"{real}-wal"
    assert real.read_bytes() == before
    cat.close()


def test_a_lock_free_reader_stops_when_another_process_writes_the_catalog(tmp_path, monkeypatch):
    """A reader that may not write the catalog's folder (another user's catalog) opens it
    ``immutable=1``: no lock. A writer (its owner) that started afterwards and checkpointed made
    it read a mix of old and new pages, which SQLite calls 'database disk image is malformed'
    (so: CatalogCorrupt, the catalog marked damaged) or old rows. Now it stops naming the file."""
    import schemas.catalog as catalog_module
    from schemas.errors import CatalogCorrupt, CatalogError

    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.upsert_items([_item(n) for n in range(300)])
    real_access = os.access
    folder = str(tmp_path)
    monkeypatch.setattr(  # this process may not write the folder (its owner may)
        catalog_module.os, "access", lambda p, mode: False if str(p) == folder else real_access(p, mode)
    )
    reader = Catalog(path, read_only=True)
    reader._db.execute("PRAGMA cache_size = 2")
    assert len(reader.items()) == 300
    monkeypatch.setattr(catalog_module.os, "access", real_access)
    with Catalog(path) as writer:  # the owner writes and, closing, checkpoints into the file
        writer.upsert_items([SourceItem(source=SourceName.TIKTOK, source_id=f"t{n}") for n in range(600)])
    with pytest.raises(CatalogError) as err:  # was CatalogCorrupt: "the catalog is damaged"
        reader.items()
    assert err.value.where == str(path) and "changed while it was read" in str(err.value)
    assert not isinstance(err.value, CatalogCorrupt) and reader._db.damaged is None
    reader.close()
    with Catalog(path, read_only=True) as again:  # read again: every row
        assert len(again.items()) == 900
