"""The accepted items as products: items sharing a shop image, partition and class are one
product with several videos; which member names it (:func:`product_groups`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleaning.mih import UnionFind
from cleaning.steps.state import item_key
from schemas.catalog import Catalog, ItemRow
from schemas.dataset import Split
from schemas.items import GONE_PREFIX, SPLITSCREEN_URL, AssetKind, MediaAsset, Status
from schemas.review import review_shops, with_review_shop


@dataclass
class _Group:
    """Accepted items that are one product: the same shop image, partition and class."""

    rows: list[ItemRow]  #: the member naming the product first (see product_groups), then by item key
    assets: dict[str, list[MediaAsset]]  #: item key -> its assets
    #: the id of a published product taken down at its source that these items re-post (see
    #: product_groups): the product keeps it
    heir_of: str | None = None

    @property
    def rep(self) -> ItemRow:
        return self.rows[0]

    @property
    def product_id(self) -> str:
        return self.heir_of or str(self.rep.product_id)


def _key(r: ItemRow) -> str:
    return item_key(r.item.source, r.item.source_id)


def _accepted(assets: list[MediaAsset], kind: AssetKind) -> list[MediaAsset]:
    """Accepted assets of one kind; images collected before derived (split-screen) ones, then by path."""
    return sorted(
        (a for a in assets if a.kind == kind and a.status == Status.ACCEPTED and a.path),
        key=lambda a: ((a.url or "").startswith(SPLITSCREEN_URL), a.path),
    )


def _item_assets(catalog: Catalog, rows: list[ItemRow]) -> dict[str, list[MediaAsset]]:
    """Each row's assets by item key, a carousel candidate review chose replacing cleaning's pick."""
    chosen = review_shops(catalog)
    return {
        _key(r): with_review_shop(
            catalog.assets(source=r.item.source, source_id=r.item.source_id),
            chosen.get((str(r.item.source), r.item.source_id)),
        )
        for r in rows
    }


def product_groups(
    catalog: Catalog, rows: list[ItemRow], published: Mapping[str, str] | None = None
) -> list[_Group]:
    """The accepted rows as products (see the module docstring), sorted by product id.

    ``published`` maps the product ids an earlier publish into the same folder wrote to their
    split: a product is named after its member published before (the one in test first, then
    the smallest item key), so an item joining it (a re-listing whose key sorts first) never
    renames it; a product none of whose members was published is named after the member with the
    smallest item key, unless it carries the shop image of a published product whose own item
    was taken down at its source (``gone: ...``): then it keeps that product's id, split
    and tracklets (a re-post outliving its original renamed the product and lost its tracklets)."""
    published = published or {}

    def naming(r: ItemRow) -> tuple[int, str]:
        was = published.get(r.product_id or "")
        return (0 if was == str(Split.TEST) else 1 if was is not None else 2), _key(r)

    assets = _item_assets(catalog, rows)
    uf = UnionFind()
    for r in rows:
        shops = _accepted(assets[_key(r)], AssetKind.SHOP)
        uf.add(("item", _key(r)))
        if shops:
            uf.union(("item", _key(r)), ("path", shops[0].path))
            if shops[0].sha256:
                uf.union(("item", _key(r)), ("sha", shops[0].sha256))
    for a in catalog.assets(kind=AssetKind.SHOP):
        if a.path and a.duplicate_of:
            uf.union(("path", a.path), ("path", a.duplicate_of))
    # published products whose item was taken down: joined by their shop image only, as
    # products are (a video several products list must not join them)
    gone = [
        r
        for r in catalog.items(status=Status.REJECTED)
        if (r.reason or "").startswith(GONE_PREFIX) and r.product_id and r.product_id in published
    ]
    for r in gone:
        node = ("gone", _key(r))
        uf.add(node)
        for a in catalog.assets(source=r.item.source, source_id=r.item.source_id, kind=AssetKind.SHOP):
            if a.path:
                uf.union(node, ("path", a.path))
                if a.sha256:
                    uf.union(node, ("sha", a.sha256))
    by_group: dict[tuple[Any, ...], list[ItemRow]] = {}
    for r in sorted(rows, key=_key):
        by_group.setdefault((uf.find(("item", _key(r))), r.partition, r.df2_class), []).append(r)
    heirs: dict[tuple[Any, ...], list[ItemRow]] = {}
    for r in gone:
        heirs.setdefault((uf.find(("gone", _key(r))), r.partition, r.df2_class), []).append(r)
    groups = []
    for key, members in by_group.items():
        first = min(members, key=naming)
        members = [first, *(m for m in members if m is not first)]
        groups.append(_Group(members, {_key(m): assets[_key(m)] for m in members}))
        if naming(first)[0] == 2 and heirs.get(key):  # no member was published; a gone one was
            heir = str(min(heirs[key], key=naming).product_id)
            if published.get(heir) == str(first.split):  # never carried into the other split
                groups[-1].heir_of = heir
    taken = {str(r.product_id) for r in rows}
    seen: set[str] = set()
    for g in groups:  # an id an accepted item holds, or a second heir: named after its own member
        if g.heir_of is not None and (g.heir_of in taken or g.heir_of in seen):
            g.heir_of = None
        elif g.heir_of is not None:
            seen.add(g.heir_of)
    return sorted(groups, key=lambda g: g.product_id)


def merged_members(g: _Group) -> list[dict[str, str]]:
    """The members of product ``g`` published under its id rather than their own (an item that
    joined it: a re-listing, a held-back item accepted later): item key, own product id, and
    ``published_as``, the product's id."""
    return [
        {"item": _key(r), "product_id": str(r.product_id), "published_as": g.product_id}
        for r in g.rows
        if str(r.product_id) != g.product_id
    ]
