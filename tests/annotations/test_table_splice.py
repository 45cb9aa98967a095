"""A review pick or an import into a published folder rewrites only the changed videos' rows of
``boxes/<split>.jsonl`` (spliced in, every other row's bytes kept), not the tables from the split
files read whole; the folder ends byte for byte as a whole refresh leaves it, and ``mf verify``
holds. Box tables that may not be current (a split file changed since the manifest) are written
whole."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import movingfashion.archive.tables as tables_mod
from annotations.exchange import export_dataset
from annotations.exchange.importer import import_cvat
from annotations.review.decisions import decide
from annotations.tracklet_files import read_video_tracklets, set_official_tracklets, tracklet_file
from movingfashion.archive.describe import describe, refresh, tables_current
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog
from tests.annotations.test_pick_rewrites_one_entry import _Truth


def _files(ds: Path) -> dict[str, bytes]:
    """Every file of the folder but the dataset's lock, by relative path."""
    return {
        str(p.relative_to(ds)): p.read_bytes()
        for p in sorted(ds.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def _as_whole_refresh(ds: Path, tmp_path: Path) -> dict[str, bytes]:
    """The folder's files after a whole refresh of a copy of it (the split files read whole)."""
    copy = tmp_path / "whole"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(ds, copy)
    assert refresh(copy)
    return _files(copy)


@pytest.fixture
def whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The split files the tables read whole."""
    reads: list[str] = []
    real = tables_mod.read_official
    monkeypatch.setattr(
        tables_mod, "read_official", lambda p, *a, **k: reads.append(Path(p).name) or real(p, *a, **k)
    )
    return reads


def _box(f: int, k: float = 0.0) -> list[float]:
    return [f + k, 1.5, f + 20.25 + k, 30]


def _folder(root: Path) -> Path:
    """A described folder whose products sit first, last, between others, hold several videos
    (one without boxes), sort apart as text and as bytes (non-ASCII ids) and span both splits."""
    trk = lambda lo, hi, k=0.0: {str(f): _box(f, k) for f in range(lo, hi)}  # noqa: E731
    splits = {
        "train": {
            "b": [trk(0, 5), {}, trk(3, 6)],
            "a": [trk(2, 4)],
            "z": [{}],
            "é": [trk(0, 3)],
            "ab": [trk(1, 2), trk(4, 9)],
        },
        "test": {"t1": [trk(0, 2)], "t0": [{}]},
    }
    root.mkdir()
    for sub in ("videos", "imgs"):
        (root / sub).mkdir()
    for split, products in splits.items():
        data = {}
        for pid, tracklets in products.items():
            videos = [f"videos/{pid}_{i}.mp4" for i in range(len(tracklets))]
            data[pid] = {
                "video_paths": videos,
                "img_path": f"imgs/{pid}.jpg",
                "source": 1,
                "tracklets": tracklets,
            }
            for rel in (*videos, f"imgs/{pid}.jpg"):
                (root / rel).write_bytes(rel.encode())
        (root / f"{split}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    describe(root)
    return root


CHANGES = {
    "rows added to a video without any": [_Truth("b", "videos/b_1.mp4", {str(f): _box(f) for f in (7, 8)})],
    "every row of a video taken out": [_Truth("ab", "videos/ab_0.mp4", {})],
    "a video without rows stays without": [_Truth("z", "videos/z_0.mp4", {})],
    "first, last and a test video changed at once": [
        _Truth("a", "videos/a_0.mp4", {str(f): _box(f, 0.5) for f in range(0, 7)}),
        _Truth("é", "videos/é_0.mp4", {"2": _box(2, 3)}),
        _Truth("t0", "videos/t0_0.mp4", {"4": _box(4)}),
        _Truth("b", "videos/b_2.mp4", {str(f): _box(f, 1) for f in range(3, 5)}),
    ],
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_the_spliced_tables_are_the_whole_writes_bytes(tmp_path, whole_reads, change):
    ds = _folder(tmp_path / "ds")
    assert tables_current(ds)
    truths = CHANGES[change]
    set_official_tracklets(ds, truths)
    whole_reads.clear()
    assert refresh(ds, changed=[], videos=[(t.product_id, t.video) for t in truths])
    assert whole_reads == []  # the box rows of those videos alone were written
    assert _files(ds) == _as_whole_refresh(ds, tmp_path)
    assert verify_dataset(ds).check("manifest").status == "ok"  # its videos are no real videos


@pytest.mark.parametrize("edited", ["train.json", "boxes/train.jsonl", "boxes/test.jsonl"])
def test_tables_are_current_only_while_no_split_file_or_box_table_changed_since_the_manifest(
    tmp_path, edited
):
    ds = _folder(tmp_path / "ds")
    assert tables_current(ds)
    later = (ds / "manifest.json").stat().st_mtime_ns + 10**9
    os.utime(ds / edited, ns=(later, later))  # a hand edit after the manifest
    assert not tables_current(ds)
    os.utime(ds / edited, ns=(later - 2 * 10**9,) * 2)
    assert tables_current(ds)
    (ds / "manifest.json").write_text(json.dumps({"files": {}}))  # no description: not published
    assert not tables_current(ds)


def test_a_box_table_the_splice_cannot_read_is_written_whole(tmp_path, whole_reads):
    """A table cut short (no newline after its last row): the tables are written whole."""
    ds = _folder(tmp_path / "ds")
    truth = _Truth("a", "videos/a_0.mp4", {"1": _box(1)})
    table = ds / "boxes/train.jsonl"
    table.write_bytes(table.read_bytes()[:-1])
    set_official_tracklets(ds, [truth])
    whole_reads.clear()
    assert refresh(ds, changed=[], videos=[(truth.product_id, truth.video)])
    assert whole_reads == ["train.json", "test.json"]
    assert _files(ds) == _as_whole_refresh(ds, tmp_path)


def _edit_first_box(xml: Path) -> None:
    tree = ET.parse(xml)
    box = next(b for b in tree.getroot().iter("box") if b.get("outside") == "0")
    box.set("xtl", str(float(box.get("xtl")) + 1))
    tree.write(xml, encoding="utf-8", xml_declaration=True)


def test_an_import_into_a_published_folder_splices_the_box_rows(published, tmp_path, whole_reads):
    ds, f = published
    stems = f["videos"][:2]
    export_dataset(ds, "cvat", tmp_path / "x", videos=stems)
    for stem in stems:
        _edit_first_box(tmp_path / "x" / f"{stem}.xml")
    whole_reads.clear()
    res = import_cvat(ds, tmp_path / "x")
    assert sorted(res["changed_videos"]) == sorted(stems)
    assert whole_reads == []
    assert _files(ds) == _as_whole_refresh(ds, tmp_path)
    report = verify_dataset(ds)
    assert report.ok, report.table()

    # a split file edited by hand since the manifest: the next import writes the tables whole,
    # taking the hand edit along
    data = json.loads((ds / "train.json").read_text())
    pid = sorted(data)[-1]
    data[pid]["tracklets"][0] = {"0": [1.0, 2.0, 30.0, 40.0]}
    (ds / "train.json").write_text(json.dumps(data))
    later = (ds / "manifest.json").stat().st_mtime_ns + 10**9
    os.utime(ds / "train.json", ns=(later, later))
    export_dataset(ds, "cvat", tmp_path / "y", videos=stems[:1])
    _edit_first_box(tmp_path / "y" / f"{stems[0]}.xml")
    whole_reads.clear()
    import_cvat(ds, tmp_path / "y")
    assert "train.json" in whole_reads
    rows = [json.loads(x) for x in (ds / "boxes/train.jsonl").read_text().splitlines()]
    assert [r["box"] for r in rows if r["product_id"] == pid] == [[1.0, 2.0, 30.0, 40.0]]
    assert _files(ds) == _as_whole_refresh(ds, tmp_path)


def test_a_pick_on_a_published_folder_splices_the_box_rows(published, tmp_path, whole_reads):
    ds, f = published
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    whole_reads.clear()
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
    picked = read_video_tracklets(tracklet_file(ds, vp)).tracklets[1].official()
    assert whole_reads == []
    rows = [json.loads(x) for p in (ds / "boxes").glob("*.jsonl") for x in p.read_text().splitlines()]
    assert {r["frame"]: r["box"] for r in rows if r["video_path"] == vp} == {
        int(k): [float(v) for v in b] for k, b in picked.items()
    }
    assert _files(ds) == _as_whole_refresh(ds, tmp_path)
    report = verify_dataset(ds)
    assert report.ok, report.table()
