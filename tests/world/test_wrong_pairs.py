"""The world plants wrong video/shop pairs of three kinds, each pointing at a real, different garment."""

from __future__ import annotations

from movingfashion.world.catalog import plan_world
from movingfashion.world.config import WorldConfig
from schemas.items import SourceName


def test_every_kind_is_planted_on_another_items_garment():
    for products, seed in ((30, 1), (60, 2), (45, 3)):
        cfg = WorldConfig(wrong_carousels=2, wrong_split_screens=2)
        specs = plan_world(products, seed, cfg)
        by_id = {s.product_id: s for s in specs}
        wrong = [s for s in specs if s.wrong_shop_of]
        kinds = [s.wrong_shop_kind for s in wrong]
        assert kinds.count("carousel") == 2 and kinds.count("split_screen") == 2 and "shop" in kinds
        for s in wrong:
            owner = by_id[s.wrong_shop_of]
            assert owner is not s and owner.has_video and owner.split_layout is None
            assert owner.wrong_shop_kind is None  # the picture is right where it belongs
            if s.confusable_group is not None:  # a twin is the same garment to a matcher
                assert owner.confusable_group != s.confusable_group
            if s.wrong_shop_kind in ("carousel", "split_screen"):  # a store's picture, misattributed
                assert owner.source != SourceName.INSTAGRAM
            if s.wrong_shop_kind == "carousel":
                assert s.source == SourceName.INSTAGRAM and s.wrong_extra_of not in (None, s.wrong_shop_of)
            if s.wrong_shop_kind == "split_screen":
                assert s.split_layout is not None
        # the default plants only the wrong shop images, as before
        assert {s.wrong_shop_kind for s in plan_world(products, seed, WorldConfig()) if s.wrong_shop_of} == {
            "shop"
        }


def test_the_smallest_world_plants_every_case():
    """At --products min_products (20) the items without a video used to take the only spare
    garment: no wrong shop association was ever planted (and some seeds had no item without a video)."""
    cfg = WorldConfig()
    for products in (cfg.min_products, cfg.min_products + 1, cfg.min_products + 2):
        for seed in range(40):
            specs = plan_world(products, seed, cfg)
            originals = [s for s in specs if s.kind == "clothing" and not s.duplicate_of]
            right = {s.df2_class for s in originals if s.has_video and not s.wrong_shop_of}
            assert right == set(range(1, 14)), (products, seed)  # every class keeps a right pair
            assert any(s.wrong_shop_kind == "shop" for s in specs), (products, seed)
            assert any(not s.has_video and s.source == SourceName.NETAPORTER for s in specs), (products, seed)
            assert any(s.confusable_group is not None for s in specs), (products, seed)
