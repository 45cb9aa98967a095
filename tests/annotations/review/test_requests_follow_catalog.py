"""Every request about one item answers from the queue as the dataset and the catalog have it
now (``ReviewApp.current_item``), as decisions already did: the item, its crops and an undo of
an item a `mf clean` rerun let go since the page loaded the queue get 410 with the note saying
why. Before, ``/api/item`` and ``/api/crops`` answered from the last-built queue (200, the
released item's data) and an undo by video acted on it (409 "no decision to undo"), until a
queue request rebuilt it. Also: a decision whose item keeps changing under it is answered 503
after ``RECHECKS`` tries, saying what to do, with nothing written."""

from __future__ import annotations

import json

import pytest

import annotations.review.server as server_mod
from annotations.tracklet_files import tracklet_file
from schemas.catalog import Catalog
from schemas.items import Status
from schemas.review import list_decisions
from tests.annotations.review.conftest import running
from tests.annotations.review.test_queue_follows_catalog import (
    _hold,
    _queue,
    _stems,
    _two_held_items,
    _unflagged_products,
)
from tests.annotations.review.test_server import _post, _req


def _get(srv, path: str):
    return _req(srv, "GET", f"{path}&token={srv.app.token}")


def _decisions(setup, stem: str) -> list:
    with Catalog(setup.catalog) as cat:
        return list_decisions(cat, video=setup.facts["video_path"][stem], include_undone=True)


def test_item_crops_and_undo_of_an_item_that_left_the_queue_are_410(review_setup):
    with running(review_setup, sample_rate=0.0) as srv:
        released, undone, stem_of = _two_held_items(review_setup, srv)
        gone = stem_of[released]
        for path in (f"/api/item?video={gone}", f"/api/crops?video={gone}&tracklet=0"):
            assert _get(srv, path)[0] == 200, path
        # a note on the other one, then a rerun lets both go (the page loads no queue since)
        status, _, body = _post(
            srv, "/api/decision", {"video": stem_of[undone], "kind": "note", "note": "n", "request_id": "n1"}
        )
        assert status == 200, body
        note_id = json.loads(body)["decision"]["id"]
        _hold(review_setup, released, status=Status.ACCEPTED, reason=None)
        for path in (f"/api/item?video={gone}", f"/api/crops?video={gone}&tracklet=0"):
            status, _, body = _get(srv, path)
            assert status == 410, (path, status, body)
            note = json.loads(body)["error"]
            assert note.startswith(f"{gone} left the review queue") and f"{released} accepted" in note
        status, _, body = _post(srv, "/api/undo", {"video": gone, "seen_decision": None, "request_id": "u1"})
        assert status == 410, body
        assert json.loads(body)["error"] == note

        # the note is undone by video (the item stays while it has it), the rerun lets it go: an
        # undo of the note by its id (the page's undo stack) is 410 too, not "already undone"
        status, _, body = _post(
            srv, "/api/undo", {"video": stem_of[undone], "seen_decision": note_id, "request_id": "u2"}
        )
        assert status == 200, body
        _hold(review_setup, undone, status=Status.ACCEPTED, reason=None)
        status, _, body = _post(srv, "/api/undo", {"decision_id": note_id, "request_id": "u3"})
        assert status == 410, body
        assert json.loads(body)["error"].startswith(f"{stem_of[undone]} left the review queue")
        assert [d.undone_at is not None for d in _decisions(review_setup, stem_of[undone])] == [True]
        assert _decisions(review_setup, gone) == []


@pytest.mark.parametrize("kind", ["reject", "tracklet"])
def test_a_decision_whose_item_changes_at_every_recheck_is_503_and_writes_nothing(
    review_setup, monkeypatch, kind
):
    f = review_setup.facts
    with running(review_setup, sample_rate=0.0) as srv:
        (pid,) = _unflagged_products(review_setup, set(_stems(_queue(srv))))[:1]
        stem = sorted(s for s in f["videos"] if f["product"][s] == pid)[0]
        _hold(review_setup, pid, reason="association: held by the test")
        assert stem in _stems(_queue(srv))
        path = tracklet_file(review_setup.dataset, f["video_path"][stem], pid)
        before = (
            path.read_bytes(),
            (review_setup.dataset / "train.json").read_bytes(),
            (review_setup.dataset / "test.json").read_bytes(),
        )
        real, calls = server_mod.decide, []

        def decide(*args, **kw):  # a rerun commits between every check and the write
            calls.append(kw["video"])
            _hold(review_setup, pid, reason=f"association: held again by rerun {len(calls)}")
            return real(*args, **kw)

        monkeypatch.setattr(server_mod, "decide", decide)
        ask = {"video": stem, "kind": kind, "request_id": "r1"}
        ask |= {"reason": "bad", "seen_verdict": None} if kind == "reject" else {"tracklet": 1}
        status, _, body = _post(srv, "/api/decision", ask)
        assert status == 503, body
        msg = json.loads(body)["error"]
        assert str(review_setup.catalog) in msg and f"changed {server_mod.RECHECKS} times" in msg, msg
        assert "not saved: decide again" in msg, msg
        assert len(calls) == server_mod.RECHECKS
        assert _decisions(review_setup, stem) == []
        with Catalog(review_setup.catalog) as cat:  # the last rerun's state, nothing of the decision
            row = cat.get_item(f["source"][pid], pid)
            assert (row.status, row.reason) == (
                Status.NEEDS_REVIEW,
                f"association: held again by rerun {len(calls)}",
            )
        after = (
            path.read_bytes(),
            (review_setup.dataset / "train.json").read_bytes(),
            (review_setup.dataset / "test.json").read_bytes(),
        )
        assert after == before
