"""A rerun of the association check that flags an item the same way logs no event again (the
event log is the catalog's history of changes, as the other per-item events are: the builder's
marks, a recheck's gone items); a flag whose reason changes is logged."""

from __future__ import annotations

import numpy as np

from cleaning.associations import run_association_check
from schemas.catalog import Catalog
from schemas.items import Status
from tests.cleaning.association_items import ScoresByVideo, add_item


def _flagged_events(cat: Catalog) -> list[str]:
    return [e["source_id"] for e in cat.events("clean") if e["message"].startswith("association flagged")]


def test_a_rerun_flagging_the_same_way_logs_no_event_again(tmp_path):
    root = tmp_path / "root"
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        for i, sid in enumerate(("good", "bad")):
            add_item(cat, root, "netaporter", sid, {"shop.jpg": np.full((48, 32, 3), 60 * (i + 1), np.uint8)})
        scores = {"good": 0.9, "bad": 0.1}
        # mf clean's rerun: the record step keeps the flag an earlier run set, and the check
        # takes that item as accepted (held)
        held = frozenset({("netaporter", "bad")})
        for run in range(3):
            res = run_association_check(
                cat, root, ScoresByVideo(scores), 0.5, held=held if run else frozenset()
            )
            assert [f.source_id for f in res.flags] == ["bad"]  # the report still lists it
        assert cat.get_item("netaporter", "bad").status == Status.NEEDS_REVIEW
        assert _flagged_events(cat) == ["bad"]  # was: one more each rerun
        scores["bad"] = 0.2  # a new score: a new reason, logged
        run_association_check(cat, root, ScoresByVideo(scores), 0.5, held=held)
        assert _flagged_events(cat) == ["bad", "bad"]
