"""A carousel pick cleaning could not make (candidates too alike, or a pick the matcher does not
back): the reviewer chooses the right candidate on the page, accepts, and the next publish
publishes that candidate as the shop image. On the small world cleaning picks the wrong one of
three (the case the audit found)."""

from __future__ import annotations

import json
import threading

import numpy as np

from annotations.review.server import ReviewApp, make_server
from cleaning.pipeline import clean
from cleaning.publish import publish
from cleaning.steps.shop_images import UNBACKED_PICK
from movingfashion.media.images import read_image
from schemas.atomic import sha256_file
from schemas.catalog import Catalog
from schemas.items import AssetKind, Status
from schemas.official import read_official
from tests.annotations.review.test_server import _post, _req
from tests.world_fixtures import copy_cleaning_cache

#: the reasons a carousel pick is held for the reviewer's choice
SHOP_PICK_HOLDS = ("shop: candidates too alike", UNBACKED_PICK)


def split_file(ds, pid: str) -> str:
    return "train.json" if pid in read_official(ds / "train.json") else "test.json"


def test_a_candidate_chosen_on_the_page_is_the_published_shop_image(
    small_world, world_truth, cleaned_world, tmp_path
):
    from movingfashion.world.seed import seed_catalog_from_world

    cat_path, root, ds = tmp_path / "catalog.sqlite", tmp_path / "collected", tmp_path / "dataset"
    with Catalog(cat_path) as cat:
        seed_catalog_from_world(small_world, cat, root, world_truth)
    copy_cleaning_cache(cleaned_world, cat_path)  # the session's results: nothing decoded again
    with Catalog(cat_path) as cat:
        clean(cat, root)
        publish(cat, root, ds)
        held = [
            r for r in cat.items(status=Status.NEEDS_REVIEW) if (r.reason or "").startswith(SHOP_PICK_HOLDS)
        ]
        assert held, "the small world plants a look-alike carousel"
        row = held[0]
        pid = row.product_id
        cands = sorted(
            (
                a.path
                for a in cat.assets(
                    source=row.item.source, source_id=row.item.source_id, kind=AssetKind.CANDIDATE_SHOP
                )
            ),
        )
    truth = next(p for p in world_truth.products if p.product_id == row.item.source_id)
    true_sha = sha256_file(small_world / truth.images["shop"])
    right = next(i for i, c in enumerate(cands) if sha256_file(root / c) == true_sha)
    assert pid not in read_official(ds / "train.json") | read_official(ds / "test.json")  # held back

    app = ReviewApp(ds, cat_path, sample_rate=0.0, collection=root)
    srv = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:

        def item():
            status, _, body = _req(srv, "GET", f"/api/queue?token={app.token}")
            assert status == 200
            return next(i for i in json.loads(body)["items"] if i["product_id"] == pid)

        it = item()
        assert it["candidates"] == len(cands) and not it["candidate_chosen_in_review"]
        assert it["candidate_picked"] != right  # cleaning's pick is the look-alike
        for bad in (len(cands), -1, "1", None):
            status, _, body = _post(
                srv, "/api/decision", {"video": it["stem"], "kind": "shop", "candidate": bad}
            )
            assert status == 400, body
        status, _, body = _post(
            srv,
            "/api/decision",
            {"video": it["stem"], "kind": "shop", "candidate": right, "request_id": "s1"},
        )
        assert status == 200, body
        assert json.loads(body)["decision"]["shop"] == cands[right]
        it = item()
        assert it["candidate_picked"] == right and it["candidate_chosen_in_review"]
        status, _, shown = _req(srv, "GET", f"/api/file?token={app.token}&video={it['stem']}&file=shop")
        assert status == 200 and shown == (root / cands[right]).read_bytes()  # the page shows the choice
        status, _, body = _post(srv, "/api/decision", {"video": it["stem"], "kind": "accept"})
        assert status == 200, body
    finally:
        srv.shutdown()
        srv.server_close()
        app.close()

    with Catalog(cat_path) as cat:
        res = publish(cat, root, ds)
    assert res["verify"]["ok"]
    split = read_official(ds / "train.json") | read_official(ds / "test.json")
    assert pid in split
    published = read_image(ds / split[pid].img_path).astype(np.int16)
    chosen = read_image(root / cands[right]).astype(np.int16)
    assert published.shape == chosen.shape and np.abs(published - chosen).max() == 0
    # mf clean again: the accepted pick is not flagged "too alike" again (it was, and the next
    # publish dropped the product), and the choice stands
    with Catalog(cat_path) as cat:
        clean(cat, root)
        again_row = cat.get_item(row.item.source, row.item.source_id)
        assert again_row.status == Status.ACCEPTED, again_row.reason
        res = publish(cat, root, ds)
    assert res["verify"]["ok"] and pid in read_official(ds / split_file(ds, pid))
    again = read_image(ds / split[pid].img_path).astype(np.int16)
    assert np.abs(again - chosen).max() == 0
