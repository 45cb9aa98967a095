"""A shop decision: review chooses another carousel candidate as the product's shop image."""

from __future__ import annotations

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError, ConfigError
from schemas.items import CANDIDATE_URL, AssetKind, MediaAsset, SourceItem, Status
from schemas.review import (
    REVIEW_SHOP_REASON,
    held_for_review,
    record_decision,
    review_shops,
    review_states,
    shop_candidates,
    undo_decision,
    with_review_shop,
)

CANDS = ["c/C1/candidate-shop-1.jpg", "c/C1/candidate-shop-2.jpg", "c/C1/candidate-shop-3.jpg"]


def _catalog(path) -> Catalog:
    """One carousel item flagged for review: three accepted candidates, cleaning picked the third."""
    cat = Catalog(path)
    cat.upsert_items(
        [SourceItem(source="instagram", source_id="C1", url="http://x/C1")], status=Status.ACCEPTED
    )
    cat.set_item_state(
        "instagram",
        "C1",
        product_id="C1",
        df2_class=1,
        status=Status.NEEDS_REVIEW,
        reason="shop: candidates too alike",
    )
    assets = [
        MediaAsset(
            source="instagram",
            source_id="C1",
            kind=AssetKind.CANDIDATE_SHOP,
            url=f"world://{p}",
            path=p,
            sha256=f"{i}" * 64,
            status=Status.ACCEPTED,
        )
        for i, p in enumerate(CANDS)
    ]
    assets.append(
        MediaAsset(
            source="instagram",
            source_id="C1",
            kind=AssetKind.CANDIDATE_SHOP,
            url="world://c/C1/x.jpg",
            path="c/C1/candidate-shop-9.jpg",
            status=Status.REJECTED,
        )
    )
    assets.append(assets[2].model_copy(update={"kind": AssetKind.SHOP, "url": f"{CANDIDATE_URL}{CANDS[2]}"}))
    assets.append(
        MediaAsset(
            source="instagram",
            source_id="C1",
            kind=AssetKind.VIDEO,
            url="world://v",
            path="c/C1/video.mp4",
            status=Status.ACCEPTED,
        )
    )
    cat.upsert_assets(assets)
    return cat


def _shop(assets):
    shops = [a for a in assets if a.kind == AssetKind.SHOP]
    assert len(shops) == 1
    return shops[0]


def test_a_chosen_candidate_replaces_cleanings_pick_until_undone(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        assert shop_candidates(cat, "instagram", "C1") == CANDS  # accepted ones, in path order
        assert held_for_review(cat)[0].shop.path == CANDS[2]  # cleaning's pick
        d, created = record_decision(
            cat, video="videos/C1_0.mp4", product_id="C1", kind="shop", shop=CANDS[1]
        )
        assert created and d.shop == CANDS[1] and d.source_id == "C1"
        assert review_shops(cat) == {("instagram", "C1"): CANDS[1]}
        assert review_states(cat)["videos/C1_0.mp4", "C1"].shop == CANDS[1]
        held = held_for_review(cat)[0]
        assert held.shop.path == CANDS[1] and held.shop.reason == REVIEW_SHOP_REASON
        assert held.shop.kind == AssetKind.SHOP and held.shop.sha256 == "1" * 64
        assert cat.get_item("instagram", "C1").status == Status.NEEDS_REVIEW  # a choice is no verdict
        assert any("shop: videos/C1_0.mp4" in e["message"] for e in cat.events("review"))
        # a later choice wins; undoing it gives the earlier one back, undoing that cleaning's pick
        record_decision(cat, video="videos/C1_0.mp4", product_id="C1", kind="shop", shop=CANDS[0])
        assert review_shops(cat)[("instagram", "C1")] == CANDS[0]
        undo_decision(cat, video="videos/C1_0.mp4")
        assert review_shops(cat)[("instagram", "C1")] == CANDS[1]
        undo_decision(cat, video="videos/C1_0.mp4")
        assert review_shops(cat) == {} and held_for_review(cat)[0].shop.path == CANDS[2]


def test_only_an_accepted_candidate_of_the_product_can_be_chosen(tmp_path):
    with _catalog(tmp_path / "c.sqlite") as cat:
        for bad in ("c/C1/candidate-shop-9.jpg", "c/C1/video.mp4", "../../etc/passwd"):
            with pytest.raises(ConfigError, match="not a carousel candidate of product C1") as err:
                record_decision(cat, video="videos/C1_0.mp4", product_id="C1", kind="shop", shop=bad)
            assert CANDS[0] in str(err.value)  # it says which ones are
        with pytest.raises(ConfigError, match="needs the chosen candidate"):
            record_decision(cat, video="videos/C1_0.mp4", product_id="C1", kind="shop")
        with pytest.raises(ConfigError, match="a note decision takes no shop"):
            record_decision(
                cat, video="videos/C1_0.mp4", product_id="C1", kind="note", note="x", shop=CANDS[0]
            )
        with pytest.raises(ConfigError, match="has no carousel candidates"):
            record_decision(cat, video="videos/X_0.mp4", product_id="X", kind="shop", shop=CANDS[0])
        assert review_shops(cat) == {}  # nothing was stored
        record_decision(
            cat, video="videos/C1_0.mp4", product_id="C1", kind="shop", shop=CANDS[0], request_id="r1"
        )
        with pytest.raises(CatalogError, match="differs in shop"):
            record_decision(
                cat, video="videos/C1_0.mp4", product_id="C1", kind="shop", shop=CANDS[1], request_id="r1"
            )


def test_a_choice_whose_candidate_cleaning_dropped_since_leaves_its_pick():
    cand = MediaAsset(
        source="instagram",
        source_id="C1",
        kind=AssetKind.CANDIDATE_SHOP,
        url="world://a",
        path=CANDS[0],
        status=Status.ACCEPTED,
    )
    pick = cand.model_copy(
        update={"kind": AssetKind.SHOP, "path": CANDS[2], "url": f"{CANDIDATE_URL}{CANDS[2]}"}
    )
    assets = [cand, pick]
    assert _shop(with_review_shop(assets, CANDS[0])).path == CANDS[0]
    assert with_review_shop(assets, CANDS[1]) == assets  # not a candidate (any more)
    gone = [cand.model_copy(update={"status": Status.REJECTED}), pick]
    assert with_review_shop(gone, CANDS[0]) == gone
    assert with_review_shop(assets, None) == assets


def test_cleaning_knows_the_items_a_reviewer_accepted(tmp_path):
    """cleaning.associations.reviewer_accepted read review_states by video alone after they were
    keyed by (video, product): it found no item, so every rerun of mf clean flagged a
    review-accepted item again (an association flag, a look-alike carousel pick)."""
    from cleaning.associations import reviewer_accepted

    with _catalog(tmp_path / "c.sqlite") as cat:
        assert reviewer_accepted(cat) == set()
        record_decision(cat, video="videos/C1_0.mp4", product_id="C1", kind="accept")
        assert reviewer_accepted(cat) == {("instagram", "C1")}
        record_decision(cat, video="videos/C1_0.mp4", product_id="C1", kind="reject", reason="blurry")
        assert reviewer_accepted(cat) == set()
