"""`mf publish` writes what the real MovingFashion archive looks like, and proves it.

A world with retakes (another clip of a product's garment, the same shop image) is cleaned and
published; every archive invariant is asserted directly and by `mf verify`; products with several
videos come from items the world says show one garment; a test product keeps one video; the
Croissant metadata validates; `--archive` zips to the same bytes twice.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from cleaning.publish import product_groups, publish
from movingfashion.app.cli import cli
from movingfashion.archive.verify import verify_dataset
from movingfashion.media.images import read_image
from movingfashion.media.probe import probe_video
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.cli_support import run_main
from schemas.dataset import DatasetEntry
from schemas.items import AssetKind, Status
from schemas.official import read_official
from schemas.paths import check_relpath

pytestmark = pytest.mark.slow


def _put_a_multi_item_product_in_test(cat: Catalog) -> list[str]:
    """Move the largest group of items sharing a shop image into test (all its members: a group
    shares one split); returns their source ids. The stratified split rarely draws a one-product
    class for test on a world this small, so the test places one there itself."""
    rows = cat.items(status=Status.ACCEPTED)
    group = max(product_groups(cat, rows), key=lambda g: (len(g.rows), g.product_id))
    assert len(group.rows) >= 2
    for r in group.rows:
        cat.set_item_state(r.item.source, r.item.source_id, split="test")
    return [r.item.source_id for r in group.rows]


@pytest.fixture(scope="module")
def published(cleaned_repost_world, tmp_path_factory):
    work = tmp_path_factory.mktemp("pub-archive")
    cat_path = work / "catalog.sqlite"
    with Catalog(cleaned_repost_world.catalog_path) as cat:
        cat._db.execute(f"VACUUM INTO '{cat_path}'")
    with Catalog(cat_path) as cat:
        _put_a_multi_item_product_in_test(cat)
        res = publish(cat, cleaned_repost_world.root, work / "MovingFashion", archive=True)
    return work / "MovingFashion", res, cat_path


def _entries(out: Path) -> dict[str, DatasetEntry]:
    rows = [DatasetEntry.model_validate_json(x) for x in (out / "entries.jsonl").read_text().splitlines()]
    return {e.product_id: e for e in rows}


def test_every_archive_invariant_holds(published, capsys):
    out, res, _ = published
    assert (res["verify"]["ok"], res["verify"]["breaks"]) == (True, []) and not res["failed"]
    report = verify_dataset(out, deep=True)
    assert report.ok, report.table()
    assert all(c.status == "ok" for c in report.checks), report.table()
    try:
        run_main(cli, ["verify", "--dataset", str(out)])
    except SystemExit as exc:  # a break exits 1
        pytest.fail(f"mf verify exited {exc.code}")
    assert "clean: every invariant holds" in capsys.readouterr().out

    splits = {s: read_official(out / f"{s}.json") for s in ("train", "test")}
    entries = _entries(out)
    owners: dict[str, dict[str, set[str]]] = {"video": {}, "img": {}, "id": {}}
    for split, products in splits.items():
        for pid, e in products.items():
            assert e.source in (0, 1)
            assert (e.source == 1) == (entries[pid].partition == "regular")
            assert e.img_path.startswith("imgs/") and e.img_path.endswith(".jpg" if e.source == 1 else ".png")
            assert all(v.startswith("videos/") for v in e.video_paths)
            assert len(set(e.video_paths)) == len(e.video_paths)
            for rel in [*e.video_paths, e.img_path]:
                assert check_relpath(rel) == rel and (out / rel).is_file()
            head = (out / e.img_path).read_bytes()[:4]
            assert head[:3] == b"\xff\xd8\xff" if e.source == 1 else head == b"\x89PNG"
            read_image(out / e.img_path)
            for v in e.video_paths:
                assert probe_video(out / v, count_decodable=True).decodable > 0
            if split == "test":
                assert len(e.video_paths) == 1
            owners["id"].setdefault(pid, set()).add(split)
            owners["img"].setdefault(e.img_path, set()).add(split)
            for v in e.video_paths:
                owners["video"].setdefault(v, set()).add(split)
    for kind, by in owners.items():
        assert all(len(s) == 1 for s in by.values()), kind
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    assert all(sha256_file(out / rel) == sha for rel, sha in manifest.items())


def test_items_with_one_shop_image_are_one_product_with_several_videos(published, cleaned_repost_world):
    out, res, _ = published
    truth = cleaned_repost_world.truth

    def garment(item: str) -> str:  # the original clip a world video retakes or re-posts (or itself)
        v = truth.video(truth.product(item).videos[0])
        return v.retake_of or v.duplicate_of or v.video_id

    multi = [
        e
        for e in _entries(out).values()
        if len(e.metadata["video_items"]) > 1 or e.metadata.get("merged_items")
    ]
    assert res["multi_video_products"] >= 2 and len(multi) >= 3
    for e in multi:
        items = e.metadata.get("merged_items") or e.metadata["video_items"]
        assert len({garment(i) for i in items}) == 1, items  # every member shows one garment
        assert len(e.metadata["video_items"]) == len(e.video_paths)
    # every retake the cleaning accepted went into its original's product: no shop image twice
    imgs = Counter(sha256_file(out / e.img_path) for e in _entries(out).values())
    assert max(imgs.values()) == 1


def test_a_test_product_keeps_one_video_and_publishes_the_others_nowhere(published, cleaned_repost_world):
    out, res, cat_path = published
    tested = [e for e in _entries(out).values() if e.split == "test" and e.metadata.get("merged_items")]
    assert tested and res["test_videos_left_out"] >= 1
    published_shas = {sha256_file(p) for p in (out / "videos").iterdir()}
    with Catalog(cat_path) as cat:
        for e in tested:
            members = e.metadata["merged_items"]
            assert len(e.video_paths) == 1 and e.metadata["test_videos_left_out"] == len(members) - 1
            vids = []
            for sid in members:
                row = next(r for r in cat.items() if r.item.source_id == sid)
                for a in cat.assets(source=row.item.source, source_id=sid, kind=AssetKind.VIDEO):
                    if a.status == Status.ACCEPTED:
                        vids.append(
                            (
                                -a.probe.frames,
                                -a.probe.width * a.probe.height,
                                f"{row.item.source}/{sid}/{a.path}",
                                sid,
                                a,
                            )
                        )
            kept = min(vids)
            assert e.metadata["video_items"] == [kept[3]]
            assert sha256_file(out / e.video_paths[0]) == kept[4].sha256
            for *_, a in vids:
                if a is not kept[4]:
                    assert a.sha256 not in published_shas  # not in test, not moved to train


def test_croissant_validates_and_reads_the_pairs(published):
    import mlcroissant as mlc

    out, _, _ = published
    ds = mlc.Dataset(jsonld=out / "croissant.json")
    assert not ds.metadata.issues.errors and not ds.metadata.issues.warnings, ds.metadata.issues.report()
    entries = _entries(out)
    n = 0
    for r in ds.records(record_set="pairs"):
        pid = r["pairs/product_id"].decode()
        e = entries[pid]
        assert r["pairs/video_path"].decode() == e.video_paths[r["pairs/video_index"]]
        assert r["pairs/img_path"].decode() == e.img_path and r["pairs/df2_class"] == e.df2_class
        n += 1
    assert n == sum(len(e.video_paths) for e in entries.values())
    card = (out / "README.md").read_text()
    assert "license: cc-by-nc-sa-4.0" in card and "pairs/train.jsonl" in card


def test_archive_zip_is_byte_identical_across_runs(published, cleaned_repost_world, tmp_path):
    out, res, cat_path = published
    zip1 = Path(res["archive"]["path"])
    assert zip1 == out.with_name("MovingFashion.zip")
    first = zip1.read_bytes()
    assert (out.parent / "MovingFashion.zip.sha256").read_text().split()[0] == res["archive"]["sha256"]
    with Catalog(cat_path) as cat:
        again = publish(cat, cleaned_repost_world.root, out, archive=True)
        fresh = publish(cat, cleaned_repost_world.root, tmp_path / "MovingFashion", archive=True)
    assert again["written"] == 0 and again["archive"]["sha256"] == res["archive"]["sha256"]
    assert zip1.read_bytes() == first
    assert Path(fresh["archive"]["path"]).read_bytes() == first


def test_a_folder_that_breaks_an_invariant_is_not_zipped(published, cleaned_repost_world, tmp_path):
    """Publish verifies what it wrote: a collected video that does not decode (recorded so in the
    catalog: its size and SHA-256 are those of the bad bytes) is copied as it is, and the result
    says so (mf publish exits 1); nothing is zipped."""
    out, _, cat_path = published
    root, bad_cat = tmp_path / "root", tmp_path / "catalog.sqlite"
    shutil.copytree(cleaned_repost_world.root, root)
    with Catalog(cat_path) as cat:
        cat._db.execute(f"VACUUM INTO '{bad_cat}'")
    e = next(e for e in _entries(out).values() if e.split == "train" and e.metadata["source_crops"] == [None])
    with Catalog(bad_cat) as cat:
        row = next(r for r in cat.items() if r.product_id == e.product_id)
        vid = cat.assets(source=row.item.source, source_id=row.item.source_id, kind=AssetKind.VIDEO)[0]
        (root / vid.path).write_bytes(b"\x00" * 64)
        cat.upsert_assets([vid.model_copy(update={"size": 64, "sha256": sha256_file(root / vid.path)})])
        res = publish(cat, root, tmp_path / "ds", archive=True)
    assert not res["verify"]["ok"] and res["archive"] is None
    assert not (tmp_path / "ds.zip").exists()
    assert any(
        b.startswith(f"train/{e.product_id} video_paths[0]: 'videos/") for b in res["verify"]["breaks"]
    )


def test_a_video_changed_behind_the_catalogs_back_is_not_published(published, cleaned_repost_world, tmp_path):
    """A collected video whose bytes no longer match the catalog's SHA-256 (same size) is held back:
    the product fails, the folder verifies, and the archive is still written."""
    out, _, cat_path = published
    root = tmp_path / "root"
    shutil.copytree(cleaned_repost_world.root, root)
    e = next(e for e in _entries(out).values() if e.split == "train" and e.metadata["source_crops"] == [None])
    with Catalog(cat_path) as cat:
        row = next(r for r in cat.items() if r.product_id == e.product_id)
        vid = cat.assets(source=row.item.source, source_id=row.item.source_id, kind=AssetKind.VIDEO)[0]
        size = (root / vid.path).stat().st_size
        (root / vid.path).write_bytes(b"\x00" * size)
        res = publish(cat, root, tmp_path / "ds", archive=True, keep_going=True)
    assert [f["product"] for f in res["failed"]] == [e.product_id]
    assert "SHA-256" in res["failed"][0]["error"] and vid.path in res["failed"][0]["error"]
    assert res["verify"]["ok"] and e.product_id not in read_official(tmp_path / "ds" / "train.json")
    assert res["archive"] is not None
