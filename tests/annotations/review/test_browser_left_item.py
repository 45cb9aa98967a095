"""The page with items a `mf clean` rerun let go while it was open (no queue load since): choosing
one in the list says why it left and the list drops it (before, the server answered /api/item
from the queue built before, and the page showed the released item as reviewable); an undo of
this page's decision whose item left meanwhile says why and takes it off the page's undo list
(before: 409 "already undone", and every later u asked for the same dead decision again)."""

from __future__ import annotations

import json

from schemas.items import Status
from tests.annotations.review.conftest import running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.annotations.review.test_queue_follows_catalog import _hold, _unflagged_products
from tests.annotations.review.test_server import _post, _req


def _status_starts(pg: Page, text: str) -> None:
    pg.p.wait_for_function("(t) => document.getElementById('status').textContent.startsWith(t)", arg=text)


def test_a_left_item_chosen_or_undone_on_the_page_says_why(browser, review_setup):  # noqa: F811
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        listed, undone = _unflagged_products(review_setup, set(f["flagged"]))[:2]
        stem_of = {
            pid: sorted(s for s in f["videos"] if f["product"][s] == pid)[0] for pid in (listed, undone)
        }
        for pid in (listed, undone):
            _hold(review_setup, pid, reason="association: held by the test")
        pg = Page(browser, srv.url)
        try:
            mine = stem_of[undone]
            pg.p.click(f"#queue li[data-stem='{mine}']")
            pg.p.wait_for_selector(f"body[data-video='{mine}']")
            pg.decide("n", text="look again")  # on this page's undo list
            # another page undoes it, and the rerun lets both items go; this page loads nothing
            item = json.loads(_req(srv, "GET", f"/api/item?video={mine}&token={srv.app.token}")[2])
            undo = {"video": mine, "seen_decision": item["decisions"][-1]["id"], "request_id": "other"}
            assert _post(srv, "/api/undo", undo)[0] == 200
            _hold(review_setup, listed, status=Status.ACCEPTED, reason=None)
            _hold(review_setup, undone, status=Status.ACCEPTED, reason=None)

            # choosing the released item in the list: why it left, and the list drops it
            gone = stem_of[listed]
            pg.p.click(f"#queue li[data-stem='{gone}']")
            _status_starts(pg, f"{gone} left the review queue: the catalog now has {listed} accepted")
            pg.p.wait_for_selector(f"#queue li[data-stem='{gone}']", state="detached")

            # u: this page's note, whose item left: said, and off the undo list
            pg.press("u")
            _status_starts(pg, f"not undone: {mine} left the review queue")
            assert "taken off this page's undo list" in pg.text("#status")
            pg.press("u")  # the next u no longer asks for it (no video shown: said)
            _status_starts(pg, "no video shown to decide on")
            assert pg.errors == [] and pg.dialogs == []
        finally:
            pg.close()
