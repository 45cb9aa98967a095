"""Same seed -> same plan, same metadata and byte-identical media; another seed -> another world."""

from __future__ import annotations

from movingfashion.world.catalog import plan_world
from movingfashion.world.config import WorldConfig
from movingfashion.world.generate import _render_product
from schemas.atomic import sha256_file
from tests.world_fixtures import SMALL_WORLD


def test_plan_is_deterministic():
    cfg = WorldConfig()
    a = plan_world(SMALL_WORLD["products"], 0, cfg)
    b = plan_world(SMALL_WORLD["products"], 0, cfg)
    c = plan_world(SMALL_WORLD["products"], 1, cfg)
    assert [(s.product_id, s.meta, s.garment) for s in a] == [(s.product_id, s.meta, s.garment) for s in b]
    assert [s.product_id for s in a] != [s.product_id for s in c]


def test_rerendering_a_product_gives_identical_files(small_world, world_truth, tmp_path):
    cfg = WorldConfig()
    specs = plan_world(SMALL_WORLD["products"], SMALL_WORLD["seed"], cfg)
    assert [s.product_id for s in specs] == [p.product_id for p in world_truth.products]
    for source in ("netaporter", "tiktok"):
        spec = next(
            s
            for s in specs
            if s.source == source and s.has_video and not s.duplicate_of and s.kind == "clothing"
        )
        res = _render_product((str(tmp_path), spec, [], cfg, SMALL_WORLD["quick"], SMALL_WORLD["seed"]))
        row = res[spec.product_id]["videos"][0]
        assert row["sha256"] == world_truth.video(row["video_id"]).sha256
        assert (tmp_path / row["gt"]).read_bytes() == (small_world / row["gt"]).read_bytes()
        for view, rel in res[spec.product_id]["images"].items():
            if not world_truth.product(spec.product_id).wrong_shop or view != "shop":
                assert sha256_file(tmp_path / rel) == sha256_file(small_world / rel)


def test_every_size_from_the_documented_minimum_plans_all_thirteen_classes():
    cfg = WorldConfig()
    for n in range(cfg.min_products, cfg.min_products + 12):
        for seed in range(4):
            specs = plan_world(n, seed, cfg)
            assert len(specs) == n
            assert {s.df2_class for s in specs if s.kind == "clothing"} == set(range(1, 14)), (n, seed)
