"""The documented order, end to end on the small world: collect -> clean -> publish (the draft) ->
tracklets --catalog -> publish again (as mf demo does) -> review (the page and mf-tracklets
review) -> publish. Every item publish held back is on the page; an accepted one is published
by the last publish and a rejected one is not, for a video the tracklet builder flagged and for
an item cleaning flagged (never published before); the review log written into the dataset
folder does not stop the publish."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from annotations.review.server import ReviewApp, make_server
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.official import read_official
from tests.annotations.review.test_server import _post, _req
from tests.mf_cli import run_mf
from tests.mf_cli import run_tracklets as _tracklets
from tests.world_fixtures import copy_cleaning_cache


def _published(ds: Path) -> set[str]:
    return set(read_official(ds / "train.json")) | set(read_official(ds / "test.json"))


def test_review_between_tracklets_and_publish_decides_what_is_published(
    small_world, world_truth, cleaned_world, tmp_path, capsys
):
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root, ds = tmp_path / "catalog.sqlite", tmp_path / "collected", tmp_path / "dataset"
    with Catalog(cat_path) as cat:  # collect: the world's items as mf-collect stores them
        seed_catalog_from_world(small_world, cat, root, world_truth)
    copy_cleaning_cache(cleaned_world, cat_path)  # the session's results: nothing decoded again
    where = ["--catalog", str(cat_path), "--root", str(root)]
    code, _, err = run_mf(["clean", *where], capsys)
    assert code == 0, err
    code, _, err = run_mf(["publish", *where, "--out", str(ds)], capsys)
    assert code == 0, err
    # tracklets --catalog: a shop-score bar no video reaches flags every video needs_review
    cfg = tmp_path / "build.yaml"
    cfg.write_text("review:\n  min_shop_score: 1.0\n")
    build = ["build", "--dataset", str(ds), "--stride", "4", "--catalog", str(cat_path), "--config", str(cfg)]
    code, _, err = _tracklets(build, capsys)
    assert code == 0, err
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0, err
    held = {
        h["product_id"]: h["reason"] for h in json.loads(out)["held_back"] if h["status"] == "needs_review"
    }
    by_tracklets = sorted(p for p, why in held.items() if why.startswith("tracklets:"))
    # a pair the association check doubts last: it is the one rejected (accepted, a wrong shop
    # image shared with its owner is held again under merge:, tests/cleaning/test_publish_held_merge.py)
    by_cleaning = sorted(
        (p for p, why in held.items() if not why.startswith("tracklets:")),
        key=lambda p: (held[p].startswith("association:"), p),
    )
    assert len(by_tracklets) >= 2 and len(by_cleaning) >= 2, held
    assert not set(held) & _published(ds)  # held back: none of them in the split files
    (t_accept, t_reject), (c_accept, c_reject) = by_tracklets[:2], by_cleaning[:2]

    # review: the page queues exactly what publish held back, with media to look at
    app = ReviewApp(ds, cat_path, sample_rate=0.0, collection=root)
    srv = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, _, body = _req(srv, "GET", f"/api/queue?token={app.token}")
        items = json.loads(body)["items"]
        assert status == 200 and {i["product_id"] for i in items if i["held_back"]} == set(held)
        assert all(i["video_src"] and i["shop_src"] for i in items)
        stem = {i["product_id"]: i["stem"] for i in items}
        for pid, kind in ((t_accept, "accept"), (c_reject, "reject")):
            status, _, body = _post(srv, "/api/decision", {"video": stem[pid], "kind": kind})
            assert status == 200, body
    finally:
        srv.shutdown()
        srv.server_close()
        app.close()
    # ... and mf-tracklets review names and decides the same items
    code, out, err = _tracklets(
        ["review", "--dataset", str(ds), "--catalog", str(cat_path), "--json"], capsys
    )
    assert code == 0, err
    listed = {r["product_id"] for r in json.loads(out)["needs_review"]}
    assert listed == set(held) - {t_accept, c_reject}
    decide = ["--reject", stem[t_reject], "--accept", stem[c_accept]]
    code, _, err = _tracklets(["review", "--dataset", str(ds), "--catalog", str(cat_path), *decide], capsys)
    assert code == 0, err

    # publish: the accepted ones are in the split files, the rejected ones are not
    code, out, err = run_mf(["publish", *where, "--out", str(ds), "--json"], capsys)
    assert code == 0, err
    published = _published(ds)
    assert {t_accept, c_accept} <= published and not {t_reject, c_reject} & published
    res = json.loads(out)
    rejected = {h["product_id"] for h in res["held_back"] if h["reason"].startswith("review:")}
    assert rejected == {t_reject, c_reject} and res["verify"]["ok"]
    with Catalog(cat_path) as cat:
        states = {r.product_id: r.status for r in cat.items()}
    assert states[t_accept] == states[c_accept] == Status.ACCEPTED
    assert (ds / "videos" / f"{c_accept}_0.mp4").is_file()  # the name its review used
