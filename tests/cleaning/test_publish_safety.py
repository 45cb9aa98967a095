"""`mf publish` changes nothing it does not own and nothing on bad input: it removes only files an
earlier publish wrote, refuses foreign files, symlinked media folders, a wrong --root, duplicate
product ids and unreadable split or state files before changing anything; a collected file that
no longer matches its catalog hash is held back (and re-copied once repaired); new products get
splits by the seed and fraction the catalog recorded."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import cleaning.publish.publisher as publisher_mod
from cleaning.publish import publish
from cleaning.splits import SPLIT_META_KEY, rebuild_splits
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog
from schemas.items import AssetKind, Status
from schemas.official import read_official
from tests.damage import assert_same_tree
from tests.mf_cli import run_mf


def _publish_args(catalog: Path, root: Path, out: Path) -> list[str]:
    return ["publish", "--catalog", str(catalog), "--root", str(root), "--out", str(out), "--json"]


def _tree(top: Path) -> dict[str, bytes]:
    return {p.relative_to(top).as_posix(): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


def _in_splits(out: Path) -> dict[str, str]:
    return {pid: split for split in ("train", "test") for pid in read_official(out / f"{split}.json")}


@pytest.fixture(scope="module")
def published(cleaned_world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("safety") / "ds"
    with Catalog(cleaned_world.catalog_path) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert res["verify"]["ok"] and not res["failed"]
    return out


@pytest.fixture()
def ds(published, tmp_path) -> Path:
    """A published dataset folder to change in one test."""
    dst = tmp_path / "ds"
    shutil.copytree(published, dst)
    return dst


def test_foreign_files_in_the_media_folders_are_refused_and_kept(cleaned_world, tmp_path, capsys):
    out = tmp_path / "f"
    (out / "imgs").mkdir(parents=True)
    (out / "videos").mkdir()
    (out / "imgs" / "holiday.jpg").write_text("x")
    (out / "videos" / "wedding.mp4").write_text("x")
    code, _, err = run_mf(_publish_args(cleaned_world.catalog_path, cleaned_world.root, out), capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "imgs/holiday.jpg" in err and "videos/wedding.mp4" in err
    assert _tree(out) == {"imgs/holiday.jpg": b"x", "videos/wedding.mp4": b"x"}


def test_a_rerun_keeps_a_foreign_file_and_removes_only_what_publish_wrote(
    ds, cleaned_world, catalog_copy, capsys
):
    (ds / "front" / "notes.jpg").write_text("mine")
    before = _tree(ds)
    code, _, err = run_mf(_publish_args(catalog_copy, cleaned_world.root, ds), capsys)
    assert code == 2 and "front/notes.jpg" in err
    assert_same_tree(_tree(ds), before)
    (ds / "front" / "notes.jpg").unlink()
    with Catalog(catalog_copy) as cat:
        row = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id in _in_splits(ds))
        cat.set_item_state(row.item.source, row.item.source_id, status=Status.NEEDS_REVIEW, reason="test: x")
    code, out, _ = run_mf(_publish_args(catalog_copy, cleaned_world.root, ds), capsys)
    assert code == 0, out
    assert json.loads(out)["removed"] >= 2
    assert row.product_id not in _in_splits(ds)
    media = ("videos", "imgs", "front", "rear", "fabric")
    assert not [p for d in media for p in (ds / d).glob(f"{row.product_id}[._]*")]


def test_a_media_folder_linked_outside_the_output_is_refused(cleaned_world, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.mp4").write_text("x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "videos").symlink_to(elsewhere)
    code, _, err = run_mf(_publish_args(cleaned_world.catalog_path, cleaned_world.root, out), capsys)
    assert code == 2 and "videos" in err, err
    assert _tree(elsewhere) == {"keep.mp4": b"x"}
    assert sorted(p.name for p in out.iterdir()) == ["videos"]


@pytest.mark.parametrize("folder", ["boxes", "pairs", "plots", "tracklets", "tracklets/sheets"])
def test_a_derived_folder_linked_outside_is_refused_before_anything_changes(
    ds, catalog_copy, cleaned_world, tmp_path, capsys, folder
):
    """Was: a republish wrote its tables, plots or removals through the link, deleting
    ``precious.jsonl`` outside the dataset (security audit D1)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.jsonl").write_text("keep me\n")
    target = ds / folder
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    target.symlink_to(elsewhere)
    code, _, err = run_mf(_publish_args(catalog_copy, cleaned_world.root, ds), capsys)
    assert code == 2 and folder in err and "link" in err, err
    assert _tree(elsewhere) == {"precious.jsonl": b"keep me\n"}


def test_a_wrong_root_is_refused_and_the_dataset_kept(ds, catalog_copy, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    before = _tree(ds)
    code, _, err = run_mf(_publish_args(catalog_copy, empty, ds), capsys)
    assert code == 2 and "--root" in err, err
    assert len(err.strip().splitlines()) == 1
    assert_same_tree(_tree(ds), before)


def test_a_root_missing_some_collected_files_keeps_their_published_copies(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    out = tmp_path / "ds"
    code, _, err = run_mf(_publish_args(catalog_copy, root, out), capsys)
    assert code == 0, err
    before = _in_splits(out)
    with Catalog(catalog_copy) as cat:  # the maintainer frees the disk of the collected videos
        videos = [a for a in cat.assets(status=Status.ACCEPTED) if a.kind == AssetKind.VIDEO and a.path]
    for vid in videos:
        (root / vid.path).unlink(missing_ok=True)
    code, stdout, err = run_mf(_publish_args(catalog_copy, root, out), capsys)
    assert code == 0, err  # refused as a wrong --root before
    assert _in_splits(out) == before and json.loads(stdout)["verify"]["ok"]


def test_an_interrupted_publish_can_be_rerun(cleaned_world, catalog_copy, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    real, calls = publisher_mod._Publisher.place, []

    def place(self, rel, asset, recipe):
        if len(calls) == 6:
            raise KeyboardInterrupt  # the process is stopped after writing six files
        calls.append(rel)
        return real(self, rel, asset, recipe)

    monkeypatch.setattr(publisher_mod._Publisher, "place", place)
    with Catalog(catalog_copy) as cat, pytest.raises(KeyboardInterrupt):
        publish(cat, cleaned_world.root, out)
    assert all((out / rel).is_file() for rel in calls)
    monkeypatch.setattr(publisher_mod._Publisher, "place", real)
    with Catalog(catalog_copy) as cat:
        res = publish(cat, cleaned_world.root, out)
    assert res["verify"]["ok"] and not res["failed"]
    assert not list(out.glob(".publish-journal*"))


def test_a_duplicate_product_id_is_refused_before_anything_is_written(
    catalog_copy, cleaned_world, tmp_path, capsys
):
    with Catalog(catalog_copy) as cat:
        a, b = [r for r in cat.items(status=Status.ACCEPTED) if r.partition == "regular"][:2]
        cat.set_item_state(b.item.source, b.item.source_id, product_id=a.product_id)
        splits_before = {r.item.source_id: r.split for r in cat.items()}
    out = tmp_path / "dup-ds"
    code, _, err = run_mf(_publish_args(catalog_copy, cleaned_world.root, out), capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert repr(a.product_id) in err or a.product_id in err
    for r in (a, b):
        assert f"{r.item.source}/{r.item.source_id}" in err
    assert not out.exists()
    with Catalog(catalog_copy) as cat:
        assert {r.item.source_id: r.split for r in cat.items()} == splits_before


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [("test.json", '{"x": ', "malformed JSON"), (".publish-state.json", "{", "malformed JSON")],
)
def test_an_unreadable_input_file_changes_nothing(ds, cleaned_world, catalog_copy, capsys, name, text, words):
    train = read_official(ds / "train.json")
    with Catalog(catalog_copy) as cat:
        row = next(r for r in cat.items(status=Status.ACCEPTED) if r.product_id in train)
        cat.set_item_state(row.item.source, row.item.source_id, status=Status.NEEDS_REVIEW, reason="test: x")
    (ds / name).write_text(text)
    before = _tree(ds)
    code, _, err = run_mf(_publish_args(catalog_copy, cleaned_world.root, ds), capsys)
    assert code == 2 and words in err and name in err, err
    assert_same_tree(_tree(ds), before)


def test_a_source_that_no_longer_matches_its_hash_is_held_back_then_recopied(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    with Catalog(catalog_copy) as cat:
        row = next(r for r in cat.items(status=Status.ACCEPTED) if r.item.source == "netaporter")
        vid = cat.assets(source=row.item.source, source_id=row.item.source_id, kind=AssetKind.VIDEO)[0]
    good = (root / vid.path).read_bytes()
    out = tmp_path / "ds"
    for damaged in (b"", good[:-1] + bytes([good[-1] ^ 1])):  # emptied; same size, other bytes
        (root / vid.path).write_bytes(damaged)
        code, stdout, _ = run_mf(_publish_args(catalog_copy, root, out), capsys)
        res = json.loads(stdout)
        assert code == 1
        assert [f["product"] for f in res["failed"]] == [row.product_id]
        assert "SHA-256" in res["failed"][0]["error"] or "bytes" in res["failed"][0]["error"]
        assert row.product_id not in _in_splits(out) and res["verify"]["ok"]
        (root / vid.path).write_bytes(good)
        code, stdout, _ = run_mf(_publish_args(catalog_copy, root, out), capsys)
        res = json.loads(stdout)
        assert code == 0 and res["written"] >= 1 and not res["failed"] and res["verify"]["ok"]
        assert row.product_id in _in_splits(out)


def test_a_rerun_hashes_nothing_unchanged_and_recopies_a_changed_output(
    cleaned_world, catalog_copy, tmp_path, monkeypatch
):
    out = tmp_path / "ds"
    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    for p in root.rglob("*"):  # collected well before this publish (trusted by size and time)
        if p.is_file():
            os.utime(p, (time.time() - 60, time.time() - 60))
    with Catalog(catalog_copy) as cat:
        first = publish(cat, root, out)
        hashed: list[str] = []
        real = publisher_mod.sha256_file
        monkeypatch.setattr(publisher_mod, "sha256_file", lambda p, *a: hashed.append(str(p)) or real(p, *a))
        again = publish(cat, root, out)
        assert again["written"] == 0 and again["unchanged"] == first["written"]
        assert hashed == []
        entry = read_official(out / "train.json")
        rel = next(iter(entry.values())).video_paths[0]
        with open(out / rel, "ab") as fh:
            fh.write(b"\0")
        third = publish(cat, root, out)
    assert third["written"] == 1 and third["verify"]["ok"]


def test_new_products_get_splits_by_the_recorded_seed_and_fraction(cleaned_world, catalog_copy, tmp_path):
    with Catalog(catalog_copy) as cat:
        rebuild_splits(cat, seed=5, test_fraction=0.3)
        pinned = {r.product_id: r.split for r in cat.items(status=Status.ACCEPTED)}
        assert "test" in pinned.values()
        new = next(r for r in cat.items(status=Status.ACCEPTED) if r.split == "train")
        cat.set_item_state(new.item.source, new.item.source_id, split=None)  # a product clean just added
        publish(cat, cleaned_world.root, tmp_path / "ds", seed=0, test_fraction=0.1)
        after = {r.product_id: r.split for r in cat.items(status=Status.ACCEPTED)}
        assert cat.get_meta(SPLIT_META_KEY)["seed"] == 5
        assert cat.get_meta(SPLIT_META_KEY)["test_fraction"] == 0.3
    assert {p: s for p, s in after.items() if p != new.product_id} == {
        p: s for p, s in pinned.items() if p != new.product_id
    }
    assert after[new.product_id] in ("train", "test")
    published = _in_splits(tmp_path / "ds")
    assert all(after[p] == s for p, s in published.items())
    assert verify_dataset(tmp_path / "ds").ok
