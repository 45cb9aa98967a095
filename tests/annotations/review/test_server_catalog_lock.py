"""A write made while another process holds the catalog's write lock (an sqlite3 shell inside a
transaction, a long writer) waits on a connection of its own: the queue and the items keep
answering, and after :data:`LOCK_WAIT_S` the write answers 503 naming the catalog (the page shows
it); once the lock is free the write goes through."""

from __future__ import annotations

import json
import time

import annotations.review.server as server_mod
from tests.annotations.review.conftest import running
from tests.annotations.review.lock_wait import decide_in_background, held_elsewhere
from tests.annotations.review.test_server import _post, _req

HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


def test_a_write_waiting_for_the_catalog_lock_holds_up_no_read(review_setup, monkeypatch):
    monkeypatch.setattr(server_mod, "LOCK_WAIT_S", 6.0)
    f = review_setup.facts
    stem, other = f["videos"][2], f["videos"][3]
    with running(review_setup, sample_rate=1.0) as srv:
        with held_elsewhere(HOLD, review_setup.catalog):
            th, answer = decide_in_background(srv, {"video": stem, "kind": "accept"})
            time.sleep(0.5)  # the accept is waiting for the catalog's write lock now
            status, _, body = _req(srv, "GET", f"/api/queue?token={srv.app.token}")
            assert status == 200 and json.loads(body)["total"] == len(f["videos"])
            assert _req(srv, "GET", f"/api/item?video={other}&token={srv.app.token}")[0] == 200
            assert th.is_alive()  # the reads were answered while the write still waits
            th.join(30)
            status, body, took = answer[0]
            assert status == 503 and 5.5 <= took < 40, body
            error = json.loads(body)["error"]
            assert str(review_setup.catalog) in error and "write lock" in error and "not saved" in error
        assert _post(srv, "/api/decision", {"video": stem, "kind": "accept"})[0] == 200
