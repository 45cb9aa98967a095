"""Demo step ``clean``: seeds from the world, cleans, publishes and scores against the truth."""

from __future__ import annotations

import json

import pytest

from movingfashion.app.context import DemoContext
from movingfashion.app.steps.clean import run
from tests.world_fixtures import copy_cleaning_cache


@pytest.mark.slow
def test_seeds_cleans_publishes_and_reports(small_world, world_truth, cleaned_world, tmp_path):
    copy_cleaning_cache(cleaned_world, tmp_path / "catalog.sqlite")  # the session's results
    ctx = DemoContext(work=tmp_path, world=small_world)
    out = run(ctx)
    assert ctx.dataset == tmp_path / "dataset" and (ctx.dataset / "train.json").is_file()
    assert out.items == len(world_truth.products)
    assert out.duplicate_precision >= 0.98 and out.duplicate_recall >= 0.95
    assert out.split_screen_f1 >= 0.95 and out.leakage == 0
    assert out.published_products == out.train + out.test and out.failed == 0 and out.incomplete() is None
    assert out.truth["duplicates"]["precision"] == out.duplicate_precision
    # the text rows leave the nested truth to the JSON report
    assert "truth" not in dict(out.rows()) and "truth" in json.loads(json.dumps(out.as_dict()))
