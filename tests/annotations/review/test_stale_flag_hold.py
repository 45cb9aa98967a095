"""A tracklet hold naming a video stem the item no longer has (an older builder recorded the flag
of a merged product's second video on the product's item; the next publish undid the merge) is
listed and lifted by that name, on the page and on the command line. Before, nothing listed it,
``--accept <stem>`` said "no tracklet file", and no accept of the item's own video lifted it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from annotations.cli import tracklets
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import flag_video
from tests.annotations.review.conftest import running
from tests.annotations.review.test_held_back import _cleaning_flagged, _queue
from tests.annotations.review.test_server import _post

WHY = "low confidence: det_mean 0.33 < 0.359"


def _stuck(setup, pid: str, video: str) -> str:
    """Item ``pid`` (one video, ``<pid>_0``) held by a tracklet flag of ``<pid>_1``, which it does
    not have: the catalog the walkthrough left. Returns that stem."""
    _cleaning_flagged(setup, pid, video)
    stale = f"{pid}_1"
    with Catalog(setup.catalog) as cat:
        cat.set_item_state("instagram", pid, status=Status.ACCEPTED, reason=None)
        flag_video(cat, "instagram", pid, stale, WHY, "8c155a0544494c699689")
        row = cat.get_item("instagram", pid)
    assert row.status == Status.NEEDS_REVIEW and row.reason == f"tracklets: {stale}: {WHY}"
    return stale


def test_a_hold_naming_a_vanished_video_is_listed_and_lifted_by_that_name(review_setup):
    f = review_setup.facts
    page = _stuck(review_setup, "CstaleAAAAA", f["videos"][2])
    cli = _stuck(review_setup, "CstaleBBBBB", f["videos"][3])
    with running(review_setup, sample_rate=0.0) as srv:
        items = {i["stem"]: i for i in _queue(srv)["items"]}
        it = items[page]
        assert (
            it["held_back"]
            and it["flagged"]
            and "review it by that name, mf-tracklets review" in it["reason"]
        )
        assert it["video_src"] == "file"  # the item's own video is shown
        # the accept of the item's own video is not made on the flagged one: the hold stays
        status, _, body = _post(srv, "/api/decision", {"video": "CstaleAAAAA_0", "kind": "accept"})
        assert status == 200, body
        with Catalog(review_setup.catalog) as cat:
            assert cat.get_item("instagram", "CstaleAAAAA").status == Status.NEEDS_REVIEW
        status, _, body = _post(srv, "/api/decision", {"video": page, "kind": "accept"})
        assert status == 200, body
    runner = CliRunner()
    args = ["review", "--dataset", str(review_setup.dataset), "--catalog", str(review_setup.catalog)]
    res = runner.invoke(tracklets, [*args, "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["video"]: r for r in json.loads(res.stdout)["needs_review"]}
    assert rows[cli]["held_back"] and rows[cli]["product_id"] == "CstaleBBBBB" and page not in rows
    res = runner.invoke(tracklets, [*args, "--accept", cli])
    assert res.exit_code == 0, res.output
    with Catalog(review_setup.catalog) as cat:
        for pid in ("CstaleAAAAA", "CstaleBBBBB"):
            row = cat.get_item("instagram", pid)
            assert (row.status, row.reason) == (Status.ACCEPTED, None), pid
