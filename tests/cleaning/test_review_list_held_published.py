"""`mf-tracklets review` lists every item the review page's queue holds: a published item that a
later `mf clean` flags needs_review (the association check: a new item contests its shop image)
is held back by `mf publish`, which keeps its tracklet file although the builder never flagged
that file; the command-line list names it with its sheet and the catalog's reason, as it names
a listed product the catalog marks needs_review before that republish."""

from __future__ import annotations

import json
from pathlib import Path

from annotations.review.queue import build_queue
from cleaning.publish import publish
from movingfashion.archive.describe import refresh
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from tests.cleaning.test_publish_stale_tracklets import _tracklet_files_of
from tests.mf_cli import run_tracklets

REASON = "association: its shop image is contested by instagram/999 (score 0.91)"


def _review_list(ds: Path, cat_path: Path, capsys, *extra: str) -> tuple[dict[str, dict], str]:
    """The rows of ``mf-tracklets review --catalog`` by name, and its human-readable text."""
    args = ["review", "--dataset", str(ds), "--catalog", str(cat_path), *extra]
    code, out, err = run_tracklets([*args, "--json"], capsys)
    assert code == 0, err
    rows = {r["video"]: r for r in json.loads(out)["needs_review"]}
    code, text, err = run_tracklets(args, capsys)
    assert code == 0, err
    return rows, text


def test_a_published_item_cleaning_flags_later_is_in_the_cli_review_list(
    cleaned_world, catalog_copy, tmp_path, capsys
):
    ds = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, ds)
        train = read_official(ds / "train.json")
        pid = sorted(train)[0]
        videos = train[pid].video_paths
        for v in videos:  # built tracklets, none flagged by the builder
            _tracklet_files_of(ds, pid, v, flagged=False)
        assert refresh(ds)
        row = next(r for r in cat.items() if r.product_id == pid)
        cat.set_item_state(row.item.source, row.item.source_id, status=Status.NEEDS_REVIEW, reason=REASON)

    # before the republish: listed, the next publish holds it back (the page flags it too)
    rows, _ = _review_list(ds, catalog_copy, capsys)
    stems = [Path(v).stem for v in videos]
    assert set(stems) <= set(rows) and all(rows[s]["reason"] == REASON for s in stems), rows

    with Catalog(catalog_copy) as cat:
        publish(cat, cleaned_world.root, ds)  # holds it back, keeps its tracklet files
    assert pid not in read_official(ds / "train.json")
    assert set(json.loads((ds / ".publish-held.json").read_text())) == set(videos)

    rows, text = _review_list(ds, catalog_copy, capsys)
    for s in stems:
        assert rows[s]["product_id"] == pid and rows[s]["reason"] == REASON, rows
        assert rows[s]["held_back"] and rows[s]["has_file"] and rows[s]["sheet"], rows[s]
        assert f"{s}  {REASON}  held back by mf publish; sheet: " in text, text
    with Catalog(catalog_copy, read_only=True) as cat:  # the page's queue: the same held-back set
        queue = build_queue(ds, 0.0, 0, catalog=cat).items
    page = {(Path(i.video).stem, i.product_id) for i in queue if i.held_back}
    assert page == {(name, r["product_id"]) for name, r in rows.items() if r.get("held_back")}, (page, rows)
