"""Rule 3 of the association check: a Net-A-Porter item whose shop image's colour disagrees with
its own fabric close-up goes to needs_review, and does not keep a product shot it shares.

The case is the one seed 4242421's demo world showed: an item served the shop image of a
same-class look-alike of another colour (there a yellow polka-dot T-shirt's picture on an ivory
shirt's page; here a yellow top's picture on the page of a red top of the same cut). The matcher scores the look-alike's video a little higher than the
right one (0.9491 against 0.9449), so rule 1 cannot fire and rule 2 made the wrong item the
keeper and left the right one within the margin: nothing was flagged. The pictures here are the
synthetic world's own renders (studio shot, fabric close-up) of such a pair.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cleaning.associations import run_association_check
from cleaning.config import CleaningConfig
from movingfashion.world.catalog import random_garment
from movingfashion.world.render import fabric_closeup, studio_shot
from schemas.catalog import Catalog
from schemas.items import Status
from tests.cleaning.association_items import ScoresByVideo, add_item

#: the scores seed 4242421's matcher gave: the look-alike's video fits the shared picture better
SCORES = {"right": 0.9449, "lookalike": 0.9491, "other": 0.97, "tiktok": 0.96}


def _item(
    cat: Catalog, root: Path, source: str, sid: str, shop: Path | np.ndarray, fabric: np.ndarray | None
):
    """One accepted item: a video, a shop image (a picture, or a copy of another item's file) and,
    when given, a fabric close-up."""
    images = {"shop.jpg": shop, **({"fabric.jpg": fabric} if fabric is not None else {})}
    return add_item(cat, root, source, sid, images) / "shop.jpg"


@pytest.fixture()
def planted(tmp_path: Path) -> tuple[Catalog, Path]:
    """Four accepted items: ``right`` (a yellow short-sleeve top), ``lookalike`` (a red
    short-sleeve top of the same cut) served ``right``'s shop image file, ``other`` (navy
    trousers, right), and ``tiktok`` (no fabric image, its own picture)."""
    rng = np.random.default_rng(7)
    top = replace(random_garment(rng, 1), pattern="plain", colour="yellow")
    twin = replace(top, colour="red", tex_seed=top.tex_seed + 1)
    trousers = replace(random_garment(rng, 8), pattern="plain", colour="navy")
    size = (160, 200)
    root = tmp_path / "root"
    cat = Catalog(tmp_path / "catalog.sqlite")
    shop = _item(cat, root, "netaporter", "right", studio_shot(top, size), fabric_closeup(top, 96))
    _item(cat, root, "netaporter", "lookalike", shop, fabric_closeup(twin, 96))
    _item(cat, root, "netaporter", "other", studio_shot(trousers, size), fabric_closeup(trousers, 96))
    _item(cat, root, "tiktok", "tiktok", studio_shot(replace(top, colour="teal"), size, variant=1), None)
    return cat, root


def _flags(cat: Catalog, root: Path, fabric_distance: float | None, scores: dict[str, float] | None = None):
    """The check's flags (item id -> reason) and its result."""
    res = run_association_check(
        cat,
        root,
        ScoresByVideo(scores or SCORES),
        0.7,
        margin=CleaningConfig().contest_margin,
        fabric_distance=fabric_distance,
    )
    return {f.source_id: f.reason for f in res.flags}, res


def test_a_lookalikes_shop_image_is_flagged_by_its_own_fabric_colour(planted):
    cat, root = planted
    flags, res = _flags(cat, root, CleaningConfig().fabric_colour_distance)
    # the premise: the matcher alone cannot tell, the look-alike fits the shared picture better
    assert res.scores[("netaporter", "lookalike")] > res.scores[("netaporter", "right")] >= 0.7
    assert list(flags) == ["lookalike"]
    assert "colour disagrees with the item's own fabric close-up fabric.jpg" in flags["lookalike"]
    assert "match score 0.9491" in flags["lookalike"]
    # the right pairs stay accepted, the right owner keeps its shop image
    statuses = {r.item.source_id: r.status for r in cat.items()}
    assert statuses == {
        "right": Status.ACCEPTED,
        "lookalike": Status.NEEDS_REVIEW,
        "other": Status.ACCEPTED,
        "tiktok": Status.ACCEPTED,
    }
    # only items with a fabric image are measured; the right ones lie far below the cut
    dist = {k[1]: d for k, d in res.fabric_colour.items()}
    assert set(dist) == {"right", "lookalike", "other"}
    assert max(dist["right"], dist["other"]) < CleaningConfig().fabric_colour_distance < dist["lookalike"]


def test_the_off_colour_item_does_not_keep_a_contested_shot(planted):
    """The wrong item scores the shared file higher, but its colour disagrees with its fabric: the
    right item keeps the shot; a right item losing it by more than the margin is not flagged
    either."""
    cat, root = planted
    # the look-alike now wins the contest by far on the score alone (the right item lost it
    # by more than the margin and was flagged)
    flags, _ = _flags(cat, root, CleaningConfig().fabric_colour_distance, {**SCORES, "lookalike": 0.99})
    assert list(flags) == ["lookalike"]


def test_the_rule_switched_off_leaves_the_lookalike_to_rules_one_and_two(planted):
    """``fabric_colour_distance: null``: the earlier check, which misses this pair."""
    cat, root = planted
    flags, res = _flags(cat, root, None)
    assert flags == {} and res.fabric_colour == {}
