"""``product_groups`` with a taken-down published product in the catalog: a re-post carrying
its shop image takes its id; nothing else changes how products group (two products listing one
video stay two: a video never joins products)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import cleaning.publish.products as products_mod
from schemas.items import AssetKind, Status


def _row(sid, split, status=Status.ACCEPTED, reason=None):
    return NS(
        item=NS(source="web", source_id=sid),
        product_id=sid,
        partition="regular",
        df2_class=1,
        split=split,
        status=status,
        reason=reason,
    )


def _asset(sid, kind, path, sha):
    return NS(
        source="web", source_id=sid, kind=kind, status=Status.ACCEPTED, path=path, sha256=sha, url="http://x",
        duplicate_of=None,
    )  # fmt: skip


class _Catalog:
    def __init__(self, items, assets):
        self._items, self._assets = items, assets

    def items(self, status=None):
        return [r for r in self._items if status is None or r.status == status]

    def assets(self, kind=None, source=None, source_id=None):
        return [
            a
            for a in self._assets
            if (kind is None or a.kind == kind) and (source_id is None or a.source_id == source_id)
        ]


def _groups(monkeypatch, items, assets, rows, published):
    monkeypatch.setattr(products_mod, "review_shops", lambda cat: {})
    groups = products_mod.product_groups(_Catalog(items, assets), rows, published)
    return {g.product_id: sorted(r.item.source_id for r in g.rows) for g in groups}


def test_two_products_listing_one_video_stay_two_with_a_gone_product_about(monkeypatch):
    a, b = _row("A", "train"), _row("B", "train")
    gone = _row("G", "train", Status.REJECTED, "gone: http_404")  # unrelated, taken down
    assets = [
        _asset("A", AssetKind.SHOP, "shop/A.jpg", "sa"),
        _asset("A", AssetKind.VIDEO, "v/haul.mp4", "vh"),
        _asset("B", AssetKind.SHOP, "shop/B.jpg", "sb"),
        _asset("B", AssetKind.VIDEO, "v/haul2.mp4", "vh"),  # the same video's bytes
        _asset("G", AssetKind.SHOP, "shop/G.jpg", "sg"),
        _asset("G", AssetKind.VIDEO, "v/g.mp4", "vg"),
    ]
    got = _groups(monkeypatch, [a, b, gone], assets, [a, b], {"A": "train", "B": "train", "G": "train"})
    assert got == {"A": ["A"], "B": ["B"]}  # they were one product once G was taken down


def test_a_repost_with_the_gone_products_shop_image_takes_its_id_in_its_split_only(monkeypatch):
    repost = _row("R", "test")
    gone = _row("G", "test", Status.REJECTED, "gone: http_404")
    assets = [
        _asset("R", AssetKind.SHOP, "shop/R.jpg", "sg"),  # the gone product's shop image, re-posted
        _asset("G", AssetKind.SHOP, "shop/G.jpg", "sg"),
    ]
    assert _groups(monkeypatch, [repost, gone], assets, [repost], {"G": "test"}) == {"G": ["R"]}
    repost.split = "train"  # never carried into the other split
    assert _groups(monkeypatch, [repost, gone], assets, [repost], {"G": "test"}) == {"R": ["R"]}
