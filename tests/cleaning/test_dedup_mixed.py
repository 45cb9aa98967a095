"""Every re-post knob in one world: the draws differ from each knob's own world, and two re-posts
that the per-knob worlds never drew were weak there (seed 47): a blur-fill re-post whose fill was
darkened to 0.6 around a flat wall (the fill was not found: the picture's seam spilled into the
compared fill) and a 16:9 pillarbox re-post off centre that verified at 0.865 (its views' edges
carried the bar's colour and the seam's ringing). The world is now seed 53, not tuned on (it
holds a darkened fill and an off-centre pillarbox re-post too): its 13-frame trim of a 48-frame
clip holding one pose was missed (verified only at wrong offsets of equal hash score, 0.44) until
alignments of equal hash score were ranked by their frames' distance (0.9985)."""

from __future__ import annotations

import re

import pytest

from cleaning.config import DedupConfig


@pytest.mark.slow
def test_world_with_every_repost_knob_finds_each_kind_and_nothing_else(dedup_world, world_dedup):
    from movingfashion.world.dedup_eval import score_margin
    from movingfashion.world.truth import (
        FILLED_VARIANTS,
        MIRRORED_ROTATED_VARIANTS,
        ONE_BAR_VARIANTS,
        REFRAMED_VARIANTS,
        ROTATED_VARIANTS,
    )

    cfg = DedupConfig()
    found = world_dedup(dedup_world("mixed"), cfg)
    truth, recs, scores = found.truth, found.records, found.scores
    kinds = [
        *FILLED_VARIANTS,
        *ONE_BAR_VARIANTS,
        *ROTATED_VARIANTS,
        *MIRRORED_ROTATED_VARIANTS,
        *REFRAMED_VARIANTS,
        "exact",
        "reencode",
        "subclip",
    ]
    for kind in kinds:
        assert scores[str(kind)]["n"] >= 1
        assert scores[str(kind)]["recall"] == 1.0 and scores[str(kind)]["precision"] == 1.0, (kind, scores)
    assert scores["false_pairs"]["pairs"] == [] and scores["hard_negatives"]["merged"] == 0
    # every blur-fill re-post's fill is cut off where the truth put the picture (one is darkened
    # to 0.6 around a flat wall: its box was the whole frame)
    by_id = {v.video_id: v for v in truth.videos}
    dims = []
    for r in recs:
        v = by_id[r.key]
        if v.variant == "blur_fill":
            placed = re.match(r"(\d+)x(\d+) at (\d+),(\d+) .*, x([\d.]+)$", v.variant_detail or "")
            assert placed, v.variant_detail
            iw, ih, x0, y0 = map(int, placed.groups()[:4])
            dims.append(float(placed.group(5)))
            want = (x0 / v.width, y0 / v.height, (x0 + iw) / v.width, (y0 + ih) / v.height)
            assert r.fingerprint.box == pytest.approx(want, abs=0.02), (v.variant_detail, r.fingerprint.box)
    assert min(dims) < 1.0  # a darkened fill is among them
    # the pillarbox re-post verifies as surely as in its own world; non-duplicates stay far below
    margin = score_margin(truth, found.evidence)
    wide = [d["score"] for d in margin["duplicates"] if d["kind"] == "pillarbox_wide"]
    assert wide and min(wide) >= 0.93  # 0.96; 0.865 with the views' margins compared
    assert margin["best_non_duplicate_score"] < 0.6 < cfg.verify_threshold
