"""Re-posts over one bar of more than 40% of the frame (world kind ``one_bar``) are duplicates."""

from __future__ import annotations

import re

import pytest

from cleaning.config import DedupConfig


@pytest.mark.slow
def test_world_one_bar_reposts_are_found_their_bar_cut_and_nothing_else_changes(dedup_world, world_dedup):
    """The world with every re-post knob (test_dedup_mixed.py): three one-bar re-posts, two
    retakes; every other kind's re-posts keep the old rule's box too."""
    world = dedup_world("mixed")
    found = world_dedup(world)
    truth, recs, scores = found.truth, found.records, found.scores
    assert scores["one_bar"]["n"] == 3
    for kind in ("one_bar", "exact", "reencode", "subclip"):
        assert scores[kind]["recall"] == 1.0 and scores[kind]["precision"] == 1.0, (kind, scores)
    assert scores["false_pairs"]["pairs"] == [] and scores["hard_negatives"]["merged"] == 0
    # the bar is cut where the truth put the clip; every other video's box is the old rule's
    by_id = {v.video_id: v for v in truth.videos}
    old = world_dedup(world, DedupConfig(max_lone_bar=0)).records
    for r, o in zip(recs, old, strict=True):
        v = by_id[r.key]
        if v.variant == "one_bar":
            placed = re.match(r"(\d+)x(\d+) at the (top|bottom) of (\d+)x(\d+)", v.variant_detail or "")
            assert placed, v.variant_detail
            iw, ih, where, ow, oh = placed.groups()
            y0 = 0 if where == "top" else int(oh) - int(ih)
            want = (0.0, y0 / int(oh), 1.0, (y0 + int(ih)) / int(oh))
            assert r.fingerprint.box == pytest.approx(want, abs=0.02), (v.variant_detail, r.fingerprint.box)
            assert o.fingerprint.box != pytest.approx(want, abs=0.02)  # the old cap left bar in the box
        else:
            assert r.fingerprint.box == o.fingerprint.box, v.video_id
