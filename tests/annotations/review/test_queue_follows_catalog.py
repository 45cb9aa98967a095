"""The running review server's queue follows the catalog: an item a `mf clean` rerun (any writer)
holds for review while the page is open joins the queue at the next queue request, one it lets go
leaves it with a note saying why, and an item with a live decision stays reachable whatever the
catalog says of it since (an accept that lets the catalog's hold go kept it in the queue; undo,
409 on a stale verdict). Before, the queue was built again only when the dataset's files changed:
a catalog change showed after a restart (a new token for every open page); the attempt that
rebuilt it on every catalog change dropped the accepted item."""

from __future__ import annotations

import json

from schemas.catalog import Catalog
from schemas.items import Status
from tests.annotations.review.conftest import running
from tests.annotations.review.test_server import _post, _req


def _queue(srv) -> dict:
    status, _, body = _req(srv, "GET", f"/api/queue?token={srv.app.token}")
    assert status == 200, body
    return json.loads(body)


def _stems(q: dict) -> dict[str, dict]:
    return {i["stem"]: i for i in q["items"]}


def _hold(setup, pid: str, status: Status = Status.NEEDS_REVIEW, reason: str | None = None) -> None:
    """What a `mf clean` rerun does to the item: its status and reason, in another connection."""
    with Catalog(setup.catalog) as cat:
        cat.set_item_state(setup.facts["source"][pid], pid, status=status, reason=reason)


def _unflagged_products(setup, before: set[str]) -> list[str]:
    f = setup.facts
    pids = []
    for stem in f["videos"]:
        pid = f["product"][stem]
        mine = [s for s in f["videos"] if f["product"][s] == pid]
        if pid not in pids and not set(mine) & before:
            pids.append(pid)
    return pids


def _two_held_items(setup, srv) -> tuple[str, str, dict[str, str]]:
    """Two products the page had not queued, both held for review by a rerun and loaded by the
    page: (first, second, their first video's stem by product)."""
    f = setup.facts
    first, second = _unflagged_products(setup, set(_stems(_queue(srv))))[:2]
    stem_of = {pid: sorted(s for s in f["videos"] if f["product"][s] == pid)[0] for pid in (first, second)}
    for pid in (first, second):
        _hold(setup, pid, reason="association: held by the test")
    assert set(stem_of.values()) <= set(_stems(_queue(srv)))  # the page loads them
    return first, second, stem_of


def test_a_held_item_joins_an_accepted_one_stays_and_a_released_one_leaves_with_a_note(review_setup):
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        q0 = _queue(srv)
        before = set(_stems(q0))
        assert before == set(f["flagged"])
        held, released = _unflagged_products(review_setup, before)[:2]
        held_stems = sorted(s for s in f["videos"] if f["product"][s] == held)
        released_stems = sorted(s for s in f["videos"] if f["product"][s] == released)

        # a clean rerun holds two published items for review: both join, flagged with its reason
        _hold(review_setup, held, reason="association: planted by the test")
        _hold(review_setup, released, reason="association: planted too")
        q1 = _stems(_queue(srv))
        assert set(q1) == before | set(held_stems) | set(released_stems)
        stem = held_stems[0]
        assert q1[stem]["flagged"] and q1[stem]["reason"] == "association: planted by the test"

        # accepted on the page: the catalog lets the hold go, the item stays in the queue (decided)
        status, _, body = _post(
            srv,
            "/api/decision",
            {"video": stem, "kind": "accept", "seen_verdict": None, "request_id": "a1"},
        )
        assert status == 200, body
        with Catalog(review_setup.catalog) as cat:
            assert cat.get_item(f["source"][held], held).status == Status.ACCEPTED
        q2 = _queue(srv)
        items = _stems(q2)
        assert stem in items, "the accepted item left the queue"
        assert items[stem]["state"]["verdict"] == "accept"
        assert not items[stem]["flagged"] and items[stem]["kept"]
        assert q2["reviewed"] == 1 and q2["kept"] == 1
        order = [i["stem"] for i in q2["items"]]
        assert order == sorted(order)  # the decided item kept its place among the flagged ones
        # it stays reachable: it opens, a stale verdict on it is refused, its accept undone
        status, _, _ = _req(srv, "GET", f"/api/item?video={stem}&token={srv.app.token}")
        assert status == 200
        status, _, body = _post(
            srv,
            "/api/decision",
            {"video": stem, "kind": "reject", "reason": "x", "seen_verdict": None, "request_id": "r1"},
        )
        assert status == 409, body
        shown = json.loads(_req(srv, "GET", f"/api/item?video={stem}&token={srv.app.token}")[2])
        undo = {"video": stem, "seen_decision": shown["decisions"][-1]["id"], "request_id": "u1"}
        status, _, body = _post(srv, "/api/undo", undo)
        assert status == 200, body
        q3 = _stems(_queue(srv))
        assert q3[stem]["flagged"] and q3[stem]["reason"] == "association: planted by the test"

        # the other one is let go by a rerun, nothing decided on it: it leaves, with a note
        _hold(review_setup, released, status=Status.ACCEPTED, reason=None)
        q4 = _queue(srv)
        gone = released_stems[0]
        assert gone not in _stems(q4) and stem in _stems(q4)
        assert set(q4["left"]) == set(released_stems)
        note = q4["left"][gone]
        assert note.startswith(f"{gone} left the review queue") and f"{released} accepted" in note
        # a page still showing it gets the note, not a bare 404
        status, _, body = _req(srv, "GET", f"/api/item?video={gone}&token={srv.app.token}")
        assert (status, json.loads(body)["error"]) == (410, note)
        status, _, body = _post(srv, "/api/decision", {"video": gone, "kind": "note", "note": "n"})
        assert (status, json.loads(body)["error"]) == (410, note)

        # held again: it comes back, and the note goes
        _hold(review_setup, released, reason="association: again")
        q5 = _queue(srv)
        assert gone in _stems(q5) and gone not in q5["left"]


def test_an_item_with_decisions_the_new_queue_leaves_out_is_carried_over(review_setup):
    """A QA-sample item noted on, whose product a republish then takes out of the split files
    and a clean rerun marks a duplicate (nothing lists it any more): it stays in the queue,
    unflagged, with a note saying why, and its note can still be undone from the page."""
    from tests.annotations.review.test_held_back import _take_out

    f = review_setup.facts
    with running(review_setup, sample_rate=1.0) as srv:
        stem = next(s for s in f["videos"] if s not in f["flagged"])
        pid = f["product"][stem]
        status, _, body = _post(
            srv, "/api/decision", {"video": stem, "kind": "note", "note": "look again", "request_id": "n1"}
        )
        assert status == 200, body
        note_id = json.loads(body)["decision"]["id"]
        _take_out(review_setup.dataset, pid)
        _hold(review_setup, pid, status=Status.DUPLICATE, reason="duplicate of another product")
        items = _stems(_queue(srv))
        assert stem in items
        assert not items[stem]["flagged"] and "kept in the queue" in items[stem]["kept"]
        status, _, body = _post(srv, "/api/undo", {"decision_id": note_id, "request_id": "u1"})
        assert status == 200, body


def test_a_rebuild_reads_only_the_tracklet_files_changed_since(review_setup, monkeypatch):
    """The queue is built again after every catalog change (each verdict is one): the tracklet
    files read for the build before are not read again, one rewritten since is."""
    from annotations.review import queue as queue_module
    from annotations.tracklet_files import read_video_tracklets, tracklet_file, write_video_tracklets

    f = review_setup.facts
    reads: list[str] = []
    orig = queue_module.read_summary
    monkeypatch.setattr(queue_module, "read_summary", lambda p, **k: reads.append(p.name) or orig(p, **k))
    with running(review_setup, sample_rate=1.0) as srv:
        assert len(reads) >= len(f["videos"])  # the first build reads every file
        reads.clear()
        stem = f["flagged"][0]
        status, _, body = _post(
            srv, "/api/decision", {"video": stem, "kind": "accept", "seen_verdict": None, "request_id": "a"}
        )
        assert status == 200, body
        assert srv.app.refresh_queue()  # the catalog changed: built again
        assert reads == []
        other = f["flagged"][1]
        vt = read_video_tracklets(tracklet_file(review_setup.dataset, f["video_path"][other]))
        vt.review_reason = "low confidence: rewritten"
        write_video_tracklets(review_setup.dataset, vt)
        assert _stems(_queue(srv))[other]["reason"] == "low confidence: rewritten"
        assert reads == [f"{other}.json"]
