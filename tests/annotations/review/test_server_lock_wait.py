"""A pick made while another process holds the dataset's lock (a publish describing the folder,
a build writing a file) waits for it without holding up the page: the queue and the items keep
answering, and a pick that cannot take the lock in time answers 503 naming the lock file and
its holder (the page shows an answer's ``error``); once the lock is free the pick goes through."""

from __future__ import annotations

import json
import time

import annotations.review.server as server_mod
from tests.annotations.review.conftest import running
from tests.annotations.review.lock_wait import decide_in_background, held_elsewhere
from tests.annotations.review.test_server import _post, _req

HOLD = """
import sys, time
from schemas.atomic import file_lock
with file_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_pick_waiting_for_the_dataset_lock_holds_up_no_other_request(review_setup, monkeypatch):
    monkeypatch.setattr(server_mod, "LOCK_WAIT_S", 6.0)
    f = review_setup.facts
    stem, other = f["videos"][2], f["videos"][3]
    with running(review_setup, sample_rate=1.0) as srv:
        with held_elsewhere(HOLD, review_setup.dataset / ".lock") as holder:
            th, answer = decide_in_background(srv, {"video": stem, "kind": "tracklet", "tracklet": 1})
            time.sleep(0.5)  # the pick is waiting for the lock now
            status, _, body = _req(srv, "GET", f"/api/queue?token={srv.app.token}")
            assert status == 200 and json.loads(body)["total"] == len(f["videos"])
            status, _, _ = _req(srv, "GET", f"/api/item?video={other}&token={srv.app.token}")
            assert status == 200
            # an accept writes no dataset file: it does not wait for the lock
            assert _post(srv, "/api/decision", {"video": other, "kind": "accept"})[0] == 200
            assert th.is_alive()  # the reads were answered while the write still waits
            th.join(30)
            status, body, took = answer[0]
            assert status == 503 and 5.5 <= took < 40
            error = json.loads(body)["error"]
            assert str(review_setup.dataset / ".lock") in error and f"pid {holder.pid}" in error
            assert "try again" in error and "mf publish" in error
        assert _post(srv, "/api/decision", {"video": stem, "kind": "tracklet", "tracklet": 1})[0] == 200
