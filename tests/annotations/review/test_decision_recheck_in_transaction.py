"""A `mf clean` rerun that commits after the review server checked a decision's item against the
queue, but before the decision's write, cannot let the decision through: the decision's own
transaction compares the item's catalog state with the one the check saw and stores nothing
when it moved; the server then checks the item again: 410 with why when it left the queue, and
the decision stored once when it is still under review. Before, the check ran only before the
write, so a decision landed on an item a rerun had let go in between."""

from __future__ import annotations

import json

import annotations.review.server as server_mod
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_queue_follows_catalog import _hold, _queue, _two_held_items
from tests.annotations.review.test_server import _post


def _decisions(setup, stem: str) -> list:
    video = setup.facts["video_path"][stem]
    with Catalog(setup.catalog) as cat:
        return list_decisions(cat, video=video, include_undone=True)


def _between_check_and_write(monkeypatch, change) -> list[str]:
    """Make ``change`` (a rerun's commit, in another connection) happen once, after the server
    checked the item and right before it stores the decision; the calls of the write are listed."""
    real, calls = server_mod.decide, []

    def decide(*args, **kw):
        calls.append(kw["video"])
        if len(calls) == 1:
            change()
        return real(*args, **kw)

    monkeypatch.setattr(server_mod, "decide", decide)
    return calls


def test_a_rerun_committing_between_the_check_and_the_write_lets_no_decision_through(
    review_setup, monkeypatch
):
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        released, moved, stem_of = _two_held_items(review_setup, srv)

        # the rerun lets the item go after the check: refused with why, nothing stored
        gone = stem_of[released]
        calls = _between_check_and_write(
            monkeypatch, lambda: _hold(review_setup, released, status=Status.ACCEPTED, reason=None)
        )
        ask = {"video": gone, "kind": "reject", "reason": "bad", "seen_verdict": None, "request_id": "r1"}
        status, _, body = _post(srv, "/api/decision", ask)
        assert status == 410, body
        note = json.loads(body)["error"]
        assert note.startswith(f"{gone} left the review queue") and f"{released} accepted" in note
        assert _decisions(review_setup, gone) == []
        with Catalog(review_setup.catalog) as cat:  # the rerun's state, not the reject's
            row = cat.get_item(f["source"][released], released)
            assert (row.status, row.reason) == (Status.ACCEPTED, None)
        assert _queue(srv)["left"][gone] == note

        # the rerun holds the item for another reason after the check: still under review, so the
        # item is checked again and the decision stored once, on the state it has now
        stem = stem_of[moved]
        calls = _between_check_and_write(
            monkeypatch, lambda: _hold(review_setup, moved, reason="association: held again by the rerun")
        )
        status, _, body = _post(
            srv, "/api/decision", {"video": stem, "kind": "note", "note": "n", "request_id": "n1"}
        )
        assert status == 200, body
        assert len(calls) == 2  # the first write stored nothing: the state had moved
        (d,) = _decisions(review_setup, stem)
        assert d.kind == "note" and d.prev["reason"] == "association: held again by the rerun"
