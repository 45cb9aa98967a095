"""A first `mf publish` killed part way: the rerun keeps the media files the killed run had
finished (checked against their SHA-256, never trusted by date) instead of making every one again
(before: no state file yet, so every video was re-encoded and every image copied again)."""

from __future__ import annotations

import pytest

import cleaning.publish.publisher as publisher_mod
from cleaning.publish import JOURNAL_FILE, STATE_FILE, publish
from schemas.catalog import Catalog

DONE_BEFORE_KILL = 6


def _count_encodes(monkeypatch) -> list[str]:
    made: list[str] = []
    real = publisher_mod.transcode

    def transcode(src, dst, **kw):
        made.append(dst.name)
        return real(src, dst, **kw)

    monkeypatch.setattr(publisher_mod, "transcode", transcode)
    return made


def test_a_rerun_after_a_killed_first_publish_skips_the_files_it_finished(
    cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    """Killed once it has finished six files and re-encoded a video: the rerun makes only the
    others (before: 0 unchanged, every file made again, the video re-encoded)."""
    out = tmp_path / "ds"
    real, calls = publisher_mod._Publisher.place, []
    encoded_before = _count_encodes(monkeypatch)

    def place(self, rel, asset, recipe):
        if len(calls) >= DONE_BEFORE_KILL and encoded_before:
            raise KeyboardInterrupt  # stopped part way, before any state file is written
        calls.append(rel)
        return real(self, rel, asset, recipe)

    monkeypatch.setattr(publisher_mod._Publisher, "place", place)
    with Catalog(catalog_copy) as cat, pytest.raises(KeyboardInterrupt):
        publish(cat, cleaned_world.root, out)
    encoded_before = list(encoded_before)  # the counter goes on counting in the rerun
    assert encoded_before, "the small world has videos publish re-encodes"
    assert not (out / STATE_FILE).exists() and (out / JOURNAL_FILE).is_file()
    monkeypatch.setattr(publisher_mod._Publisher, "place", real)
    encoded = _count_encodes(monkeypatch)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert res["verify"]["ok"] and not res["failed"], res
    total = res["written"] + res["unchanged"]
    assert total > len(calls)
    # only the files the killed run had not finished are made again
    assert res["unchanged"] == len(calls) and res["written"] == total - len(calls), res
    assert not set(encoded) & set(encoded_before), (encoded, encoded_before)
    assert not (out / JOURNAL_FILE).exists()


def test_a_finished_file_changed_after_the_kill_is_made_again(
    cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    """The killed run's records are checked against the files: one changed since (same size, any
    date) is made again, and the rerun's folder verifies."""
    out = tmp_path / "ds"
    real, calls = publisher_mod._Publisher.place, []

    def place(self, rel, asset, recipe):
        if len(calls) == DONE_BEFORE_KILL:
            raise KeyboardInterrupt
        calls.append(rel)
        return real(self, rel, asset, recipe)

    monkeypatch.setattr(publisher_mod._Publisher, "place", place)
    with Catalog(catalog_copy) as cat, pytest.raises(KeyboardInterrupt):
        publish(cat, cleaned_world.root, out)
    monkeypatch.setattr(publisher_mod._Publisher, "place", real)
    hurt = out / calls[0]
    data = bytearray(hurt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    hurt.write_bytes(bytes(data))
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert res["verify"]["ok"] and res["unchanged"] == DONE_BEFORE_KILL - 1, res
    assert hurt.read_bytes() != bytes(data)
