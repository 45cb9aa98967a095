"""Demo step ``world``: reuses an identical world, serves it, hands on typed fixtures."""

from __future__ import annotations

import urllib.request

from movingfashion.app.context import DemoContext
from movingfashion.app.steps.world import WorldSection, expected_seconds, run
from tests.world_fixtures import SMALL_WORLD


def test_reuses_the_world_and_serves_it(small_world, world_truth, tmp_path):
    (tmp_path / "world").symlink_to(small_world, target_is_directory=True)
    ctx = DemoContext(
        work=tmp_path, products=SMALL_WORLD["products"], seed=SMALL_WORLD["seed"], quick=SMALL_WORLD["quick"]
    )
    assert expected_seconds(ctx) <= 1.0  # a reused world costs nothing
    try:
        section = run(ctx)
        assert isinstance(section, WorldSection)
        assert section.reused and section.products == SMALL_WORLD["products"] == len(world_truth.products)
        assert section.videos == len(world_truth.videos)
        assert section.duplicates == sum(v.duplicate_of is not None for v in world_truth.videos)
        assert ctx.world == tmp_path / "world" and ctx.base_url == ctx.server.base_url
        assert ctx.truth is not None and ctx.truth.seed == world_truth.seed
        with urllib.request.urlopen(ctx.base_url + "/robots.txt") as r:
            assert r.status == 200
        assert (tmp_path / "fixtures" / "tiktok_shops.csv").exists() and ctx.fixtures.instagram
        assert ctx.fixtures.sitemap == f"{ctx.base_url}/sitemap.xml"
        assert section.as_dict()["by_source"] == section.by_source
    finally:
        if ctx.server is not None:
            ctx.server.stop()
