"""Upgrade path: an older toolkit held products back for review and kept their videos' tracklet
files, but wrote no ``.publish-held.json``. The first publish of this toolkit adopts the file of a
video it holds back now (records it as made from the catalog's collected file and recipe: the
review page shows its boxes, an accept publishes them), removes the file of a product taken down,
and its closing ``mf verify`` holds."""

from __future__ import annotations

import json
from pathlib import Path

from cleaning.publish import publish
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import dataset_files, verify_dataset
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from schemas.review import record_decision
from tests.cleaning.test_held_back_tracklets_publish import BOX, HELD_TRACKLETS, _files_of, _flag, _in_splits


def _older_toolkit_state(
    cat: Catalog, root: Path, out: Path
) -> tuple[dict[str, list[Path]], dict[str, object]]:
    """Publish, write flagged tracklet files of two products, flag both and republish (held
    back, files kept), then drop the held record, as a toolkit before it left the folder.
    Returns each product's files and the record this toolkit wrote."""
    publish(cat, root, out)
    train = read_official(out / "train.json")
    pids = sorted(train)[:2]
    files = {p: [f for v in train[p].video_paths for f in _files_of(out, p, v)] for p in pids}
    assert refresh(out) and verify_dataset(out).ok
    for p in pids:
        _flag(cat, p)
    publish(cat, root, out)
    record = json.loads((out / HELD_TRACKLETS).read_text())
    (out / HELD_TRACKLETS).unlink()  # an older toolkit wrote none
    assert not (out / "videos" / f"{pids[0]}_0.mp4").exists()  # held back: no video, no state of it
    return files, record


def test_an_older_toolkits_held_back_tracklet_file_is_adopted(cleaned_world, catalog_copy, tmp_path):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        files, record = _older_toolkit_state(cat, cleaned_world.root, out)
        held, down = sorted(files)
        row = next(r for r in cat.items() if r.product_id == down)
        cat.set_item_state(
            row.item.source, row.item.source_id, status=Status.REJECTED, reason="review: wrong item"
        )
        res = publish(cat, cleaned_world.root, out)
        assert res["verify"]["ok"], res["verify"]["breaks"]
        assert all(f.is_file() for f in files[held])  # kept for the reviewer
        assert [f for f in files[down] if f.exists()] == []  # taken down: its boxes go
        adopted = json.loads((out / HELD_TRACKLETS).read_text())
        # recorded as this toolkit records a file it keeps itself
        assert adopted == {v: r for v, r in record.items() if r["product_id"] == held}
        rels = {f.relative_to(out).as_posix() for f in files[held]}
        assert not rels & set(dataset_files(out))  # not part of the published dataset
        assert verify_dataset(out).ok
        assert publish(cat, cleaned_world.root, out)["removed_tracklets"] == []  # a rerun keeps it
        # the reviewer accepts it: published with the boxes of the adopted file
        video = next(iter(adopted))
        record_decision(cat, video=video, product_id=held, kind="accept")
        res = publish(cat, cleaned_world.root, out)
    assert _in_splits(out)[held].tracklets[0] == {"0": BOX}
    assert not (out / HELD_TRACKLETS).exists()
    assert res["verify"]["ok"], res["verify"]["breaks"]


def test_a_file_about_another_product_is_not_adopted(cleaned_world, catalog_copy, tmp_path):
    """Only a file about the held video and its own product is adopted; another goes."""
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        files, _ = _older_toolkit_state(cat, cleaned_world.root, out)
        held = sorted(files)[0]
        path = files[held][0]
        data = json.loads(path.read_text())
        data["product_id"] = "someone_else"
        path.write_text(json.dumps(data))
        res = publish(cat, cleaned_world.root, out)
    assert f"tracklets/{path.name}" in res["removed_tracklets"] and not path.exists()
    assert held not in {r["product_id"] for r in json.loads((out / HELD_TRACKLETS).read_text()).values()}
    assert res["verify"]["ok"], res["verify"]["breaks"]
