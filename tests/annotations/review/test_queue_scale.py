"""The review queue's cost: one catalog query per GET /api/queue, each tracklet file read once and
only for the fields the queue shows; what it shows and the errors it raises stay the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import annotations.review.queue as queue
from annotations.review.queue import build_queue, read_summary
from annotations.review.server import ReviewApp
from annotations.tracklet_files import read_video_tracklets
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.items import SourceItem, Status


def _tracklet(video: str, n: int = 3) -> dict:
    return {"video": video, "boxes": {str(f): [1.0, 2.0, 30.0, 40.0] for f in range(n)}}


def _file(root: Path, stem: str, pid: str, video: str, **kw) -> Path:
    doc = {"product_id": pid, "video": kw.pop("file_video", video), "frames": 3, "width": 64, "height": 48}
    doc |= {"tracklets": [_tracklet(video), _tracklet(video)], "ground_truth": 0, **kw}
    p = root / "tracklets" / f"{stem}.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc))
    return p


def _world(tmp_path: Path, n: int) -> tuple[Path, Path]:
    """``n`` accepted untitled items (product id = source id), a titled item of product ``solo``,
    a titled one of source id ``bysrc`` (no product id) and a titled later row of source id
    ``p0001`` (the first row, untitled, wins); train.json lists them all."""
    catalog = tmp_path / "catalog.sqlite"
    with Catalog(catalog) as cat:
        items = [SourceItem(source="instagram", source_id=f"p{i:04d}") for i in range(n)]
        cat.upsert_items(items, status=str(Status.ACCEPTED))
        with cat.transaction() as db:
            db.execute("UPDATE items SET product_id = source_id")
        titled = [
            SourceItem(source="tiktok", source_id="p0001", title="later row"),
            SourceItem(source="tiktok", source_id="x", title="by product id", caption="c", designer="d"),
            SourceItem(source="tiktok", source_id="bysrc", title="by source id"),
        ]
        cat.upsert_items(titled, status=str(Status.ACCEPTED))
        with cat.transaction() as db:
            db.execute("UPDATE items SET product_id = 'solo' WHERE source_id = 'x'")
    ds = tmp_path / "ds"
    ds.mkdir()
    pids = [*(f"p{i:04d}" for i in range(n)), "solo", "bysrc"]
    split = {
        p: {"video_paths": [f"videos/{p}_0.mp4"], "img_path": f"imgs/{p}.png", "source": 0} for p in pids
    }
    (ds / "train.json").write_text(json.dumps(split))
    return ds, catalog


def test_catalog_indexes_items_by_product_and_source_id(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as cat:
        for col in ("product_id", "source_id"):
            plan = " ".join(
                str(r[3])
                for r in cat.read(f"EXPLAIN QUERY PLAN SELECT id FROM items WHERE {col} = ?", ("a",))
            )
            assert "USING" in plan and "INDEX" in plan, plan


def test_queue_json_reads_the_catalog_items_in_one_query(tmp_path):
    ds, catalog = _world(tmp_path, 40)
    app = ReviewApp(ds, catalog)
    try:
        statements: list[str] = []
        app.cat._raw.set_trace_callback(statements.append)
        items = {d["product_id"]: d for d in app.queue_json()["items"]}
        app.cat._raw.set_trace_callback(None)
    finally:
        app.close()
    assert sum("FROM items" in s for s in statements) == 1, statements
    assert (items["solo"]["title"], items["solo"]["caption"], items["solo"]["designer"]) == (
        "by product id",
        "c",
        "d",
    )
    assert items["bysrc"]["title"] == "by source id"
    assert items["p0001"]["title"] is None  # its first row has none
    assert items["p0003"]["title"] is None


def _dataset(tmp_path: Path) -> Path:
    ds = tmp_path / "ds"
    ds.mkdir()
    split = {
        pid: {"video_paths": [f"videos/{pid}_0.mp4"], "img_path": f"imgs/{pid}.png", "source": 0}
        for pid in ("a", "b")
    }
    (ds / "train.json").write_text(json.dumps(split))
    _file(ds, "a_0", "a", "videos/a_0.mp4", needs_review=True, review_reason="det_mean")
    _file(ds, "b_0", "b", "videos/b_0.mp4")
    _file(ds, "z_0", "z", "videos/z_0.mp4", needs_review=True)  # no split file lists it
    return ds


def test_build_queue_reads_each_tracklet_file_once_and_never_validates_it_whole(tmp_path, monkeypatch):
    ds = _dataset(tmp_path)
    reads: list[str] = []
    for name in ("read_bytes", "read_text"):
        orig = getattr(Path, name)

        def counting(self, *a, _orig=orig, **k):
            if self.parent.name == "tracklets":
                reads.append(self.name)
            return _orig(self, *a, **k)

        monkeypatch.setattr(Path, name, counting)
    full: list[str] = []
    monkeypatch.setattr(
        queue, "read_video_tracklets", lambda p, **k: full.append(str(p)) or read_video_tracklets(p, **k)
    )
    q = build_queue(ds, 1.0)
    assert sorted(reads) == ["a_0.json", "b_0.json", "z_0.json"]
    assert full == []
    got = {it.product_id: it for it in q.items}
    assert (got["a"].flagged, got["a"].reason, got["a"].tracklets, got["a"].ground_truth) == (
        True,
        "det_mean",
        2,
        0,
    )
    assert (got["a"].frames, got["a"].width, got["a"].height, got["a"].has_file) == (3, 64, 48, True)
    assert not got["b"].flagged and got["z"].held_back and got["z"].flagged


@pytest.mark.parametrize(
    "fields",
    [
        {"frames": -1},  # a field the queue shows
        {"ground_truth": 5},  # out of range
        {"tracklets": [_tracklet("videos/other.mp4")]},  # a tracklet of another video
        {"file_video": "videos/other_0.mp4"},  # not this file's video
    ],
)
def test_a_broken_tracklet_file_raises_what_the_full_read_raises(tmp_path, fields):
    p = _file(tmp_path, "a_0", "a", "videos/a_0.mp4", **fields)
    with pytest.raises(DataFormatError) as full:
        read_video_tracklets(p)
    with pytest.raises(DataFormatError) as light:
        read_summary(p)
    assert str(light.value) == str(full.value)
