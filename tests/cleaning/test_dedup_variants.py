"""Re-posts of a generated world found per variant kind, retakes of the same garment and wearer not merged."""

from __future__ import annotations

import pytest

from cleaning.config import DedupConfig
from cleaning.dedup import video_pair_evidence
from movingfashion.world.dedup_eval import score_margin
from movingfashion.world.truth import COPY_VARIANTS

pytestmark = pytest.mark.slow


@pytest.fixture()
def detected(repost_world, world_dedup):
    cfg = DedupConfig()
    found = world_dedup(repost_world, cfg)
    return found.truth, found.records, cfg, found.result


def test_every_variant_kind_meets_the_precision_and_recall_goal(repost_world, world_dedup):
    scores = world_dedup(repost_world).scores
    assert set(COPY_VARIANTS) <= set(scores)  # every kind was planted and scored
    for kind in [*COPY_VARIANTS, "exact", "reencode", "subclip"]:
        s = scores[str(kind)]
        assert s["n"] >= 1
        assert s["precision"] >= 0.98, (kind, s)
        assert s["recall"] >= 0.95, (kind, s)
    assert scores["hard_negatives"]["n"] == 6
    assert scores["hard_negatives"]["merged"] == 0
    assert scores["false_pairs"]["pairs"] == []


def test_duplicates_and_non_duplicates_are_apart_by_a_margin(detected):
    truth, recs, cfg, _ = detected
    m = score_margin(truth, video_pair_evidence(recs, cfg, exhaustive=True))
    assert all(d["score"] is not None for d in m["duplicates"])
    assert m["worst_duplicate_score"] >= cfg.verify_threshold + 0.05
    assert (
        m["best_non_duplicate_score"] is None or m["best_non_duplicate_score"] <= cfg.verify_threshold - 0.05
    )
    assert m["score_gap"] >= 0.1
