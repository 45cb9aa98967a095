"""Cached association scores are stamped with the comparison's version
(:data:`cleaning.associations.ASSOCIATION_VERSION`): a score an older release (or another version)
cached is scored again and counted in ``association_recomputed``, one of this version is reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cleaning.associations as assoc
from cleaning.config import CleaningConfig
from cleaning.pipeline import clean
from schemas.catalog import Catalog
from schemas.items import Status


class GoodFit:
    """Scores every pair 0.95 (every pair fits), tagged so its scores are cached."""

    tag = "good-fit"

    def score(self, video_path, shop_path) -> float:
        return 0.95


def _stale_scores(cache_file: Path, stale) -> int:
    """Every cached association score replaced by ``stale(score)``; how many."""
    raw = json.loads(cache_file.read_text(encoding="utf-8"))
    n = 0
    for entry in raw["entries"].values():
        for what in [w for w in entry if w.startswith("assoc:good-fit:")]:
            entry[what] = stale(entry[what])
            n += 1
    cache_file.write_text(json.dumps(raw), encoding="utf-8")
    return n


@pytest.mark.parametrize(
    "stale",
    [
        pytest.param(lambda kept: 0.1, id="an-older-release-bare-score"),
        pytest.param(
            lambda kept: {"version": assoc.ASSOCIATION_VERSION + 1, "score": 0.1}, id="another-version"
        ),
    ],
)
def test_a_score_cached_by_another_version_is_scored_again(catalog_copy, cleaned_world, stale):
    cfg = CleaningConfig()
    with Catalog(catalog_copy) as cat:
        first = clean(cat, cleaned_world.root, cfg, GoodFit())
        assert first["association_pairs"] > 0
        again = clean(cat, cleaned_world.root, cfg, GoodFit())
        assert again["association_cached"] == again["association_pairs"]
        assert again["association_recomputed"] == 0
        n = _stale_scores(catalog_copy.with_name("catalog.cleaning-cache.json"), stale)
        assert n > 0
        rep = clean(cat, cleaned_world.root, cfg, GoodFit())
        # the stale 0.1 scores are not believed: nothing is flagged for a poor fit
        assert rep["association_recomputed"] == n and rep["association_cached"] == 0
        flagged = [r for r in cat.items(status=Status.NEEDS_REVIEW) if "score 0.1" in (r.reason or "")]
    assert flagged == []
