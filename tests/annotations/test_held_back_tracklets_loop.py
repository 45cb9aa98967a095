"""The README's order, end to end on the small world: a video the tracklet builder flags is held
back by ``mf publish``, which keeps its tracklet file; the review page shows its boxes; after an
accept, ``mf publish`` publishes it with its tracklet (the loader reads it), the next
``mf-tracklets build`` keeps it and leaves the catalog accepted, and ``mf verify`` holds
throughout. A video whose file an older publish deleted is built anew without marking the
catalog again when a reviewer accepted it after the flag. A build's summary counts an accepted
flagged video apart from those that still need review."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from annotations.review.server import ReviewApp, make_server
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from tests.annotations.review.test_server import _req
from tests.mf_cli import run_mf
from tests.mf_cli import run_tracklets as _tracklets
from tests.world_fixtures import copy_cleaning_cache


def _splits(ds: Path) -> dict:
    return {**read_official(ds / "train.json"), **read_official(ds / "test.json")}


def _status(cat_path: Path, pid: str) -> tuple[Status, str | None]:
    with Catalog(cat_path) as cat:
        row = next(r for r in cat.items() if r.product_id == pid)
    return row.status, row.reason


def _queue(ds: Path, cat_path: Path, root: Path) -> dict[str, dict]:
    app = ReviewApp(ds, cat_path, sample_rate=0.0, collection=root)
    srv = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, _, body = _req(srv, "GET", f"/api/queue?token={app.token}")
    finally:
        srv.shutdown()
        srv.server_close()
        app.close()
    assert status == 200, body
    return {i["stem"]: i for i in json.loads(body)["items"]}


def _loads(ds: Path, pid: str) -> dict:
    from movingfashion.dataset import MovingFashionDataset

    split = "train" if pid in read_official(ds / "train.json") else "test"
    data = MovingFashionDataset(ds, split, frames=2, crop_size=32, shop_size=32, videos="first")
    i = next(i for i, (pi, _) in enumerate(data._index) if data.products[pi].product_id == pid)
    return data[i]


def test_an_accepted_flagged_video_is_published_with_its_tracklet_and_stays_accepted(
    small_world, world_truth, cleaned_world, tmp_path, capsys
):
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root, ds = tmp_path / "catalog.sqlite", tmp_path / "collected", tmp_path / "dataset"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(small_world, cat, root, world_truth)
    copy_cleaning_cache(cleaned_world, cat_path)  # the session's results: nothing decoded again
    where = ["--catalog", str(cat_path), "--root", str(root)]
    assert run_mf(["clean", *where], capsys)[0] == 0
    assert run_mf(["publish", *where, "--out", str(ds)], capsys)[0] == 0
    cfg = tmp_path / "build.yaml"  # a shop-score bar no video reaches: every video is flagged
    cfg.write_text("review:\n  min_shop_score: 1.0\n")
    build = ["build", "--dataset", str(ds), "--stride", "4", "--catalog", str(cat_path), "--config", str(cfg)]
    code, _, err = _tracklets(build, capsys)
    assert code == 0, err
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    flagged = sorted(h["product_id"] for h in res["held_back"] if h["reason"].startswith("tracklets:"))
    assert flagged and res["verify"]["ok"], res
    pid = flagged[0]
    stem, video = f"{pid}_0", f"videos/{pid}_0.mp4"
    kept = ds / "tracklets" / f"{stem}.json"
    assert kept.is_file() and pid not in _splits(ds)  # held back, its tracklet file kept
    # a build rerun counts the held-back videos (it said "0 need review" while they waited)
    held = json.loads((ds / ".publish-held.json").read_text())
    code, out, err = _tracklets(build, capsys)
    assert code == 0, err
    assert f", {len(held)} held back for review by mf publish" in out.splitlines()[0], out

    # review: the page shows the held-back video with its boxes
    item = _queue(ds, cat_path, root)[stem]
    assert item["held_back"] and item["has_file"] and item["tracklets"] > 0, item
    code, _, err = _tracklets(
        ["review", "--dataset", str(ds), "--catalog", str(cat_path), "--accept", stem], capsys
    )
    assert code == 0, err

    # publish: in the split files with the kept file's tracklet; the loader reads it
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["verify"]["ok"]
    entry = _splits(ds)[pid]
    assert entry.video_paths[0] == video and entry.tracklets[0], entry
    assert _loads(ds, pid)["product_id"] == pid

    # the next build keeps it (the accept is newer than its build) and the catalog stays accepted
    before = kept.read_bytes()
    code, out, err = _tracklets([*build, "--json"], capsys)
    assert code == 0, err
    assert _status(cat_path, pid)[0] == Status.ACCEPTED
    assert kept.read_bytes() == before
    # its file keeps its flag, but the summary no longer counts it as needing review
    rep = json.loads(out)
    assert [e["video"] for e in rep["accepted_in_review"]] == [stem], rep["accepted_in_review"]
    assert stem not in {e["video"] for e in rep["needs_review"]}
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0, err
    assert pid in _splits(ds) and _splits(ds)[pid].tracklets[0]
    code, out, err = run_mf(["verify", "--dataset", str(ds), "--json"], capsys)
    assert code == 0 and json.loads(out)["ok"], out

    # a file an older publish deleted: built anew, the accept since its flag keeps the catalog
    kept.unlink()
    (ds / "tracklets" / ".build" / f"{stem}.json").unlink(missing_ok=True)
    code, out, err = _tracklets([*build, "--json"], capsys)
    assert code == 0, err
    assert kept.is_file() and _status(cat_path, pid)[0] == Status.ACCEPTED
    assert stem in json.loads(out)["accepted_since_flag"]
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0 and json.loads(out)["verify"]["ok"], err
    assert _splits(ds)[pid].tracklets[0]
