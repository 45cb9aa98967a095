"""A decision POSTed for an item that left the queue since the page last loaded it (a `mf clean`
rerun let its hold go, or removed it as a duplicate) is refused with 410 and the note saying why,
even when no queue request came between: the server looks at the catalog as it is when the
decision arrives. Before, the server's queue was brought up to date only on /api/queue, so such a
decision went through (stored on an item no longer under review). An item with a live decision
stays decidable (kept), with the 409 on a stale verdict and undo as before."""

from __future__ import annotations

import json

from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_browser import Page, browser  # noqa: F401 - the fixture
from tests.annotations.review.test_queue_follows_catalog import _hold, _queue, _stems, _unflagged_products
from tests.annotations.review.test_server import _post, _req


def _decisions(setup, stem: str) -> list:
    video = setup.facts["video_path"][stem]
    with Catalog(setup.catalog) as cat:
        return list_decisions(cat, video=video, include_undone=True)


def test_a_decision_on_an_item_that_left_the_queue_since_the_page_loaded_it_is_refused(review_setup):
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        before = set(_stems(_queue(srv)))
        released, removed, kept = _unflagged_products(review_setup, before)[:3]
        stem_of = {
            pid: sorted(s for s in f["videos"] if f["product"][s] == pid)[0]
            for pid in (released, removed, kept)
        }
        for pid in (released, removed, kept):
            _hold(review_setup, pid, reason="association: held by the test")
        assert set(stem_of.values()) <= set(_stems(_queue(srv)))  # the page loads them
        status, _, body = _post(
            srv, "/api/decision", {"video": stem_of[kept], "kind": "note", "note": "n", "request_id": "n1"}
        )
        assert status == 200, body

        # a rerun lets one go and marks another a duplicate; the page has not loaded the queue since
        _hold(review_setup, released, status=Status.ACCEPTED, reason=None)
        _hold(review_setup, removed, status=Status.DUPLICATE, reason="duplicate of another product")
        _hold(review_setup, kept, status=Status.ACCEPTED, reason=None)
        gone = stem_of[released]
        status, _, body = _post(
            srv,
            "/api/decision",
            {"video": gone, "kind": "reject", "reason": "bad", "seen_verdict": None, "request_id": "r1"},
        )
        assert status == 410, body
        note = json.loads(body)["error"]
        assert note.startswith(f"{gone} left the review queue") and f"{released} accepted" in note
        status, _, body = _post(
            srv, "/api/decision", {"video": stem_of[removed], "kind": "note", "note": "x", "request_id": "n2"}
        )
        assert status == 410, body
        assert "duplicate (duplicate of another product)" in json.loads(body)["error"]
        assert _decisions(review_setup, gone) == [] and _decisions(review_setup, stem_of[removed]) == []
        # the queue names the same notes
        q = _queue(srv)
        assert q["left"][gone] == note and stem_of[removed] in q["left"]

        # the item with a live decision stays decidable: a stale verdict is 409, a fresh one goes
        # through, and it can be undone
        stem = stem_of[kept]
        assert stem in _stems(q) and _stems(q)[stem]["kept"]
        ask = {"video": stem, "kind": "reject", "reason": "bad", "seen_verdict": "accept", "request_id": "r2"}
        status, _, body = _post(srv, "/api/decision", ask)
        assert status == 409, body
        status, _, body = _post(srv, "/api/decision", ask | {"seen_verdict": None, "request_id": "r3"})
        assert status == 200, body
        shown = json.loads(_req(srv, "GET", f"/api/item?video={stem}&token={srv.app.token}")[2])
        undo = {"video": stem, "seen_decision": shown["decisions"][-1]["id"], "request_id": "u1"}
        status, _, body = _post(srv, "/api/undo", undo)
        assert status == 200, body
        assert json.loads(body)["undone"]["kind"] == "reject"


def test_the_page_shows_why_and_does_not_count_the_decision(browser, review_setup):  # noqa: F811
    """The page shows an item a rerun lets go meanwhile (no queue load since): a note typed on it
    is refused, the page names why the item left, clears it and counts nothing saved."""
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        released = _unflagged_products(review_setup, set(f["flagged"]))[0]
        _hold(review_setup, released, reason="association: held by the test")
        gone = sorted(s for s in f["videos"] if f["product"][s] == released)[0]
        pg = Page(browser, srv.url)
        try:
            pg.p.click(f"#queue li[data-stem='{gone}']")
            pg.p.wait_for_selector(f"body[data-video='{gone}']")
            _hold(review_setup, released, status=Status.ACCEPTED, reason=None)
            pg.press("n")
            pg.p.wait_for_selector("#form:not([hidden])")
            pg.p.keyboard.type("too late")
            pg.p.keyboard.press("Enter")
            pg.p.wait_for_selector("body:not([data-video]), body[data-saved]")
            seen = pg.state()
            assert seen["saved"] is None and seen["video"] is None, seen
            assert pg.text("#flag").startswith(f"{gone} left the review queue: the catalog now has")
            assert pg.text("#status").startswith(f"{gone} left the review queue")
            assert _decisions(review_setup, gone) == []
            assert pg.errors == [] and pg.dialogs == []
        finally:
            pg.close()
