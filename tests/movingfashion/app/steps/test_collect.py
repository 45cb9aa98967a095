"""Demo step ``collect``: every source of the loopback world into the catalog."""

from __future__ import annotations

import pytest

from movingfashion.app.context import DemoContext, Fixtures, StepSkipped
from movingfashion.app.steps.collect import run
from schemas.catalog import Catalog
from schemas.items import SourceName


def test_collects_every_source(world_server, world_truth, tmp_path):
    ctx = DemoContext(work=tmp_path, base_url=world_server.base_url)
    ctx.fixtures = Fixtures.from_dict(world_server.write_fixtures(tmp_path / "fixtures"))
    section = run(ctx)
    assert section.failed == 0 and section.incomplete() is None, section
    n_nap = sum(p.source == SourceName.NETAPORTER for p in world_truth.products)
    n_tt = sum(p.source == SourceName.TIKTOK and bool(p.videos) for p in world_truth.products)
    assert section.sources["netaporter"].ok == n_nap and section.sources["tiktok"].ok == n_tt
    assert ctx.catalog == tmp_path / "catalog.sqlite" and (ctx.collect_root / "netaporter").is_dir()
    with Catalog(ctx.catalog) as cat:
        assert cat.count_items(status="downloaded") == n_nap + n_tt + section.sources["instagram"].ok


def test_without_a_site_it_is_skipped(tmp_path):
    with pytest.raises(StepSkipped, match="no loopback site"):
        run(DemoContext(work=tmp_path))
