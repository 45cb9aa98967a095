"""Rule 2's colour evidence: in a contest between a source's own shop image and a carousel pick,
the item whose video shows the picture's colours keeps it, and the one whose video does not goes
to needs_review, even when the matcher prefers the other.

The case is one of synthetic world 6021705 (45 quick products, ``wrong_shop_fraction`` 0.30),
rendered here from the world's own plan: TikTok item 7613147293739414659 (a brown coat with
yellow dots) was served the shop image of Instagram item CsfzBgNeVtH (a pink jacket), which is
also the carousel pick of its re-post C9Vo1qs5zSQ. On their classes the embedded matcher scored
the shared picture 0.9722 with the wrong TikTok video and 0.9295 with the right Instagram one; a
TikTok page has no fabric close-up nor rear shot, so the source's own (wrong) shop image kept the
picture and the right Instagram item was flagged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaning.associations import run_association_check
from cleaning.config import CleaningConfig
from movingfashion.media.images import write_image
from movingfashion.world.catalog import plan_world
from movingfashion.world.config import WorldConfig
from movingfashion.world.generate import _render_product
from movingfashion.world.render import studio_shot
from schemas.catalog import Catalog
from schemas.items import SourceName, Status
from tests.cleaning.association_items import ScoresByVideo, add_item

#: the world: products, seed, wrong_shop_fraction
WORLD = (45, 6021705, 0.30)
WRONG, OWNER, REPOST = "7613147293739414659", "CsfzBgNeVtH", "C9Vo1qs5zSQ"
#: the scores the embedded matcher gave there, on the items' classes (the contest's scores)
SCORES = {WRONG: 0.9722, REPOST: 0.9295}


@pytest.fixture(scope="module")
def world_case(tmp_path_factory) -> tuple[Path, Path]:
    """The two items' videos rendered as the world renders them (the owner's with its re-post),
    and the owner's picture; returns (the rendered world folder, the picture)."""
    products, seed, fraction = WORLD
    cfg = WorldConfig(wrong_shop_fraction=fraction)
    specs = {s.product_id: s for s in plan_world(products, seed, cfg)}
    wrong, owner, repost = specs[WRONG], specs[OWNER], specs[REPOST]
    # the truth: the TikTok page carries the Instagram item's picture; the re-post is the owner's
    assert wrong.wrong_shop_of == OWNER and wrong.source == SourceName.TIKTOK
    assert repost.duplicate_of == OWNER and owner.garment is not None
    out = tmp_path_factory.mktemp("world")
    _render_product((str(out), owner, [repost], cfg, True, seed))
    _render_product((str(out), wrong, [], cfg, True, seed))
    write_image(out / "picture.jpg", studio_shot(owner.garment, cfg.shop_size, variant=owner.index))
    return out, out / "picture.jpg"


def _check(tmp_path: Path, world: Path, picture: Path, lead: float | None):
    """The contest on the catalog of the two items, with the cleaning config's defaults but
    ``contest_coverage_lead`` = ``lead``."""
    cfg = CleaningConfig()
    root = tmp_path / "root"
    cat = Catalog(tmp_path / "catalog.sqlite")
    add_item(
        cat,
        root,
        "instagram",
        REPOST,
        {"candidate-shop-1.jpg": picture},
        video=world / f"media/videos/{REPOST}.mp4",
    )
    add_item(cat, root, "tiktok", WRONG, {"shop.jpg": picture}, video=world / f"media/videos/{WRONG}.mp4")
    res = run_association_check(
        cat,
        root,
        ScoresByVideo(SCORES),
        cfg.match_threshold,
        margin=cfg.contest_margin,
        derived_lead=cfg.contest_derived_lead,
        coverage_lead=lead,
        coverage_frames=cfg.shop_pick.sample_frames,
    )
    statuses = {r.item.source_id: r.status for r in cat.items()}
    return {f.source_id: f.reason for f in res.flags}, statuses, res


def test_the_video_showing_the_pictures_colours_keeps_it(world_case, tmp_path):
    world, picture = world_case
    cfg = CleaningConfig()
    flags, statuses, res = _check(tmp_path, world, picture, cfg.contest_coverage_lead)
    # the premise: the matcher prefers the wrong video, by less than the derived pick would need
    assert 0 < SCORES[WRONG] - SCORES[REPOST] < cfg.contest_derived_lead
    cover = {k[1]: c for k, c in res.colour_coverage.items()}
    assert set(cover) == {WRONG, REPOST}
    assert cover[REPOST] - cover[WRONG] > cfg.contest_coverage_lead  # pink shown; brown and yellow
    assert list(flags) == [WRONG]
    assert f"shows the garment of instagram/{REPOST}, whose video shows the picture's colours" in flags[WRONG]
    assert f"colour coverage {round(cover[WRONG], 3)} here vs {round(cover[REPOST], 3)} there" in flags[WRONG]
    assert "match score 0.9722 here vs 0.9295 there" in flags[WRONG]
    assert statuses == {REPOST: Status.ACCEPTED, WRONG: Status.NEEDS_REVIEW}


def test_without_colour_the_source_image_keeps_it_and_the_right_pick_is_flagged(world_case, tmp_path):
    """``contest_coverage_lead: null``: the earlier contest, which flagged the right re-post."""
    world, picture = world_case
    flags, statuses, res = _check(tmp_path, world, picture, None)
    assert list(flags) == [REPOST] and "the source's own shop image there" in flags[REPOST]
    assert statuses == {REPOST: Status.NEEDS_REVIEW, WRONG: Status.ACCEPTED}
    assert res.colour_coverage == {}
