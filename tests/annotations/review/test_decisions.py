"""Review decisions on a published folder: a tracklet pick (and its undo) leaves ``mf verify``
clean, and a tracklet file naming another video is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.review.decisions import decide, reconcile, undo
from annotations.tracklet_files import read_video_tracklets, tracklet_file
from movingfashion.archive.describe import refresh
from movingfashion.archive.verify import verify_dataset
from schemas.catalog import Catalog
from schemas.errors import DataFormatError
from schemas.official import read_official
from schemas.review import list_decisions


def _official(ds: Path, pid: str, vp: str) -> dict:
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    return split[pid].tracklets[split[pid].video_paths.index(vp)]


def _table(ds: Path, vp: str) -> dict[int, list[float]]:
    rows = [json.loads(line) for p in (ds / "boxes").glob("*.jsonl") for line in p.read_text().splitlines()]
    return {r["frame"]: r["box"] for r in rows if r["video_path"] == vp}


def _as_table(boxes: dict[str, list]) -> dict[int, list[float]]:
    return {int(k): [float(v) for v in b] for k, b in boxes.items()}


def test_a_pick_and_its_undo_keep_the_folder_verifying(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)  # the review copy added candidate tracklets after the manifest was written
    assert verify_dataset(ds).ok
    stem = f["videos"][0]
    vp, pid = f["video_path"][stem], f["product"][stem]
    old = _official(ds, pid, vp)
    with Catalog(review_setup.catalog) as cat:
        d, _ = decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        picked = read_video_tracklets(tracklet_file(ds, vp)).tracklets[1].official()
        assert _official(ds, pid, vp) == picked != old
        assert _table(ds, vp) == _as_table(picked)  # the boxes table follows
        report = verify_dataset(ds)
        assert report.ok, report.table()
        undo(ds, cat, d.id)
        assert _official(ds, pid, vp) == old and _table(ds, vp) == _as_table(old)
        report = verify_dataset(ds)
        assert report.ok, report.table()


def test_reconcile_refreshes_the_derived_files(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem = f["videos"][1]
    vp, pid = f["video_path"][stem], f["product"][stem]
    with Catalog(review_setup.catalog) as cat:
        decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=2)
        p = tracklet_file(ds, vp)
        vt = read_video_tracklets(p)
        vt.ground_truth = 0  # as if the process died before the file side of the pick
        p.write_text(vt.model_dump_json(indent=1) + "\n")
        refresh(ds)
        assert reconcile(ds, cat) == [vp]
    assert _table(ds, vp) == _as_table(read_video_tracklets(p).tracklets[2].official())
    report = verify_dataset(ds)
    assert report.ok, report.table()


def test_a_pick_on_a_file_naming_another_video_is_refused(review_setup):
    ds, f = review_setup.dataset, review_setup.facts
    stem, other = f["videos"][0], f["videos"][1]
    vp, ovp, pid = f["video_path"][stem], f["video_path"][other], f["product"][stem]
    p = tracklet_file(ds, vp)
    p.write_text(p.read_text().replace(json.dumps(vp), json.dumps(ovp)))
    before = {q.relative_to(ds): q.read_bytes() for q in sorted(ds.rglob("*")) if q.is_file()}
    with Catalog(review_setup.catalog) as cat:
        with pytest.raises(DataFormatError, match="field 'video'") as exc:
            decide(ds, cat, video=vp, product_id=pid, kind="tracklet", tracklet=1)
        assert exc.value.where == str(p)
        assert list_decisions(cat) == []  # nothing stored either
    assert {q.relative_to(ds): q.read_bytes() for q in sorted(ds.rglob("*")) if q.is_file()} == before


def test_sheets_and_review_marks_keep_a_published_folder_verifying(review_setup):
    from click.testing import CliRunner

    from annotations.cli import tracklets

    ds, f = review_setup.dataset, review_setup.facts
    refresh(ds)
    assert verify_dataset(ds).ok
    stem = f["videos"][0]
    runner = CliRunner()
    res = runner.invoke(tracklets, ["sheets", "--dataset", str(ds), "--video", stem, "--json"])
    assert res.exit_code == 0, res.output
    assert (ds / "tracklets" / "sheets").is_dir() and verify_dataset(ds).ok  # the sheet is in the manifest
    res = runner.invoke(tracklets, ["review", "--dataset", str(ds), "--accept", stem])
    assert res.exit_code == 0, res.output
    assert (ds / "review.jsonl").is_file() and verify_dataset(ds).ok
