"""`mf publish --archive` rerun with nothing changed rewrites nothing: the split files, the state
file, the zip and its ``.sha256`` keep their inodes and dates, and the zip is not packed again;
the result says so (``written: 0``, ``archive.written: false``). A zip that is not the folder's
any more is packed again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import movingfashion.archive.pack as pack_mod
from cleaning.publish import STATE_FILE, publish
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog

FILES = ("train.json", "test.json", "manifest.json", "entries.jsonl", STATE_FILE)


def _stats(out: Path) -> dict[str, tuple[int, int]]:
    """inode and mtime (ns) of the files a rerun must leave alone."""
    paths = [out / f for f in FILES] + [
        out.with_name(out.name + ".zip"),
        out.with_name(out.name + ".zip.sha256"),
    ]
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


@pytest.fixture
def packs(monkeypatch) -> list[Path]:
    """Every call of pack_dataset (the folders zipped)."""
    calls: list[Path] = []
    real = pack_mod.pack_dataset

    def counting(root, *args, **kwargs):
        calls.append(Path(root))
        return real(root, *args, **kwargs)

    monkeypatch.setattr(pack_mod, "pack_dataset", counting)
    return calls


def test_an_unchanged_rerun_rewrites_and_zips_nothing(cleaned_world, catalog_copy, tmp_path, packs):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out, archive=True)
        assert len(packs) == 1
        before = _stats(out)
        again = publish(cat, cleaned_world.root, out, archive=True)
    assert _stats(out) == before  # was: new inodes for train.json, test.json, the zip, .sha256
    assert len(packs) == 1  # was: zipped again
    assert again["written"] == 0 and again["verify"]["ok"]
    assert first["archive"]["written"] and again["archive"] == {**first["archive"], "written": False}


def test_a_zip_that_is_not_the_folders_is_packed_again(cleaned_world, catalog_copy, tmp_path, packs):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out, archive=True)
        zip_path = Path(first["archive"]["path"])
        good = zip_path.read_bytes()
        zip_path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # damaged: its .sha256 disagrees
        damaged = publish(cat, cleaned_world.root, out, archive=True)
        assert zip_path.read_bytes() == good and damaged["archive"]["written"]
        # the folder changes (a product taken down): the zip holds another manifest
        row = next(r for r in cat.items(status="accepted"))
        cat.set_item_state(row.item.source, row.item.source_id, status="rejected", reason="review: test")
        changed = publish(cat, cleaned_world.root, out, archive=True)
    assert changed["archive"]["written"] and changed["archive"]["sha256"] != first["archive"]["sha256"]
    assert len(packs) == 3
    assert verify_dataset(out).ok


def test_a_publish_without_archive_names_the_zip_it_left_out_of_date(
    cleaned_world, catalog_copy, tmp_path, caplog
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        first = publish(cat, cleaned_world.root, out, archive=True)
        zip_path = Path(first["archive"]["path"])
        same = publish(cat, cleaned_world.root, out)  # nothing changed: the zip still holds the folder
        assert same["archive"] is None and same["stale_archive"] is None
        row = next(r for r in cat.items(status="accepted"))
        cat.set_item_state(row.item.source, row.item.source_id, status="rejected", reason="review: test")
        caplog.clear()
        changed = publish(cat, cleaned_world.root, out)  # the folder changes, the zip stays as it was
    assert changed["stale_archive"] == str(zip_path)  # was: nothing said (no such key)
    assert zip_path.is_file()  # left as it is: the maintainer decides
    warned = [r.getMessage() for r in caplog.records if str(zip_path) in r.getMessage()]
    assert len(warned) == 1 and "mf publish --archive" in warned[0], warned
    zip_path.write_bytes(b"not a zip")  # a damaged zip is no zip of this folder either
    with Catalog(catalog_copy) as cat:
        assert publish(cat, cleaned_world.root, out)["stale_archive"] == str(zip_path)


def test_the_state_file_is_dated_again_only_after_a_file_was_hashed(cleaned_world, catalog_copy, tmp_path):
    """A collected file touched (mtime only) is hashed once more; the state file is then dated
    again, so the next rerun trusts it without hashing, and leaves the state file alone."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, out)
        state = out / STATE_FILE
        dated = state.stat().st_mtime_ns
        publish(cat, cleaned_world.root, out)
        assert state.stat().st_mtime_ns == dated  # was: dated again by every rerun
        video = next((out / "videos").iterdir())
        later = dated + 10_000_000_000
        os.utime(video, ns=(later, later))  # newer than the state file: hashed again
        publish(cat, cleaned_world.root, out)
        assert state.stat().st_mtime_ns > dated
