"""`mf publish`: layout, official JSON, manifest, datasheet, plots, byte-identical reruns."""

from __future__ import annotations

import json
import shutil

import pytest

from cleaning.probe import probe_video
from cleaning.publish import publish
from movingfashion.archive.decoded_memo import DECODED_MEMO
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.dataset import DatasetEntry
from schemas.items import AssetKind, Status
from schemas.official import read_official
from tests.damage import assert_same_tree


@pytest.fixture(scope="module")
def published(cleaned_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset")
    with Catalog(cleaned_world.catalog_path) as cat:
        res = publish(cat, cleaned_world.root, out)
    return out, res


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_official_files(published, cleaned_world):
    out, res = published
    for name in (
        "train.json",
        "test.json",
        "entries.jsonl",
        "manifest.json",
        "datasheet.md",
        "plots/class_histogram.png",
        "plots/frames_per_video.png",
    ):
        assert (out / name).is_file(), name
    train, test = read_official(out / "train.json"), read_official(out / "test.json")
    assert train and test and not set(train) & set(test)
    assert res["products"] == len(train) + len(test)
    entries = [
        DatasetEntry.model_validate_json(line) for line in (out / "entries.jsonl").read_text().splitlines()
    ]
    assert [e.product_id for e in entries] == sorted(e.product_id for e in entries)
    # the split files hold the ground truth; a row claiming "tracklets": [] contradicted them
    assert all(
        "tracklets" not in json.loads(line) for line in (out / "entries.jsonl").read_text().splitlines()
    )
    truth = cleaned_world.truth
    for e in entries:
        off = (train if e.split == "train" else test)[e.product_id]
        assert off.video_paths == e.video_paths and off.img_path == e.img_path
        assert off.source == (1 if e.partition == "regular" else 0)
        assert off.tracklets == [{} for _ in e.video_paths]
        for rel in [*e.video_paths, e.img_path]:
            assert sha256_file(out / rel) == e.sha256[rel]
        p = truth.product(e.metadata["source_id"])
        assert p.df2_class == e.df2_class  # only clothing, with its true class
    with Catalog(cleaned_world.catalog_path) as cat:
        accepted = {r.product_id for r in cat.items(status=Status.ACCEPTED)}
        others = {r.product_id for r in cat.items() if r.status != Status.ACCEPTED}
    assert {e.product_id for e in entries} == accepted and not accepted & others
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    on_disk = {k for k in _tree(out) if k != "manifest.json" and not k.startswith(".")}
    assert set(manifest) == on_disk
    assert all(sha256_file(out / k) == v for k, v in manifest.items())
    sheet = (out / "datasheet.md").read_text()
    assert "| 13 | sling_dress |" in sheet and f"Products: {len(entries)}" in sheet


def test_split_screen_videos_are_published_cropped(published, cleaned_world):
    out, _ = published
    truth = cleaned_world.truth
    entries = {
        e.product_id: e
        for e in (
            DatasetEntry.model_validate_json(x) for x in (out / "entries.jsonl").read_text().splitlines()
        )
    }
    checked = 0
    for v in truth.videos:
        if v.split_screen and v.product_id in entries:
            x1, y1, x2, y2 = v.split_screen.moving_box
            p = probe_video(out / entries[v.product_id].video_paths[0]).probe
            assert (p.width, p.height) == (int(x2 - x1) // 2 * 2, int(y2 - y1) // 2 * 2)
            assert p.codec == "h264" and p.frames == v.frames
            checked += 1
    assert checked >= 2


def test_rerun_is_byte_identical_and_copies_nothing(published, cleaned_world, tmp_path):
    out, first = published
    before = _tree(out)
    with Catalog(cleaned_world.catalog_path) as cat:
        again = publish(cat, cleaned_world.root, out)
        assert again["written"] == 0 and again["unchanged"] == first["written"]
        assert again["metadata_written"] == []  # nothing rewritten, and the report says so
        assert {"entries.jsonl", "manifest.json", "croissant.json"} <= set(first["metadata_written"])
        assert_same_tree(_tree(out), before)
        # from scratch in another folder: same bytes too (crops re-encoded deterministically)
        fresh = publish(cat, cleaned_world.root, tmp_path / "fresh")
        # entries.jsonl as another toolkit wrote it: a rerun copies no media but rewrites it, and says so
        rows = (tmp_path / "fresh" / "entries.jsonl").read_text()
        (tmp_path / "fresh" / "entries.jsonl").write_text(rows.replace("}\n", ', "tracklets": []}\n'))
        upgraded = publish(cat, cleaned_world.root, tmp_path / "fresh")
        assert upgraded["written"] == 0 and upgraded["metadata_written"] == ["entries.jsonl"]
        assert (tmp_path / "fresh" / "entries.jsonl").read_text() == rows
    assert fresh["written"] == first["written"]
    # but for the decode memo, which records this disk's file stamps (inodes and times): hidden,
    # in no manifest or zip, it differs by folder by design
    local = {DECODED_MEMO}
    assert {k: v for k, v in _tree(tmp_path / "fresh").items() if k not in local} == {
        k: v for k, v in before.items() if k not in local
    }
    assert DECODED_MEMO in before


def test_republish_keeps_tracklets_and_drops_removed_products(cleaned_world, tmp_path):
    root_copy = tmp_path / "catalog.sqlite"
    with Catalog(cleaned_world.catalog_path) as cat:
        cat._db.execute(f"VACUUM INTO '{root_copy}'")
    out = tmp_path / "ds"
    with Catalog(root_copy) as cat:
        publish(cat, cleaned_world.root, out)
        train = json.loads((out / "train.json").read_text())
        pid = sorted(train)[0]
        train[pid]["tracklets"] = [{"0": [1.0, 2.0, 30.0, 40.0]}]
        (out / "train.json").write_text(json.dumps(train))
        gone = sorted(train)[1]
        row = next(r for r in cat.items() if r.product_id == gone)
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.NEEDS_REVIEW, reason="test: review"
        )
        res = publish(cat, cleaned_world.root, out)
    train2 = read_official(out / "train.json")
    assert train2[pid].tracklets == [{"0": [1.0, 2.0, 30.0, 40.0]}]
    assert gone not in train2 and res["removed"] >= 2
    assert not list((out / "videos").glob(f"{gone}_*"))


def test_missing_collected_file_is_a_clear_error(cleaned_world, tmp_path):
    from schemas.errors import MediaError

    root = tmp_path / "root"
    shutil.copytree(cleaned_world.root, root)
    with Catalog(cleaned_world.catalog_path) as cat:
        row = cat.items(status=Status.ACCEPTED)[0]
        vid = cat.assets(source=row.item.source, source_id=row.item.source_id, kind=AssetKind.VIDEO)[0]
        (root / vid.path).unlink()
        with pytest.raises(MediaError, match="missing") as exc:
            publish(cat, root, tmp_path / "ds")
    assert vid.path in str(exc.value)
