"""Where every catalog item went in a publish: published, held back (needs review, rejected,
accepted without a class), dropped as a duplicate of a kept item, failed in this publish, not
cleaned yet; counts that add up to the catalog's items, so nothing leaves the dataset unsaid."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any

from cleaning.steps.state import item_key
from schemas.catalog import Catalog, ItemRow
from schemas.items import Status

#: the order the counts are listed in (``items`` in publish's result)
FATES = ("published", "needs_review", "rejected", "no_class", "duplicate", "failed", "not_cleaned", "other")

#: how the text names each fate
LABELS = {
    "published": "published",
    "needs_review": "needs review",
    "rejected": "rejected",
    "no_class": "accepted without a class",
    "duplicate": "duplicates",
    "failed": "failed in this publish",
    "not_cleaned": "not cleaned",
    "other": "other",
}

#: states of items ``mf clean`` has not decided on (collected, or not collected yet)
_NOT_CLEANED = (Status.DISCOVERED, Status.DOWNLOADED, Status.FAILED)


def item_accounting(
    catalog: Catalog,
    published: Container[str],
    held_back: Sequence[Mapping[str, str]],
    failed: Container[str],
) -> dict[str, Any]:
    """``items``: how many catalog items this publish published (``published``: item keys), held
    back (``held_back``: the result's rows, by status: ``needs_review``, ``rejected``,
    ``no_class`` for an accepted item without a class), dropped as duplicates, failed
    (``failed``: item keys of the products it could not publish), left not cleaned, and
    ``other`` (any item none of these says, with its state in ``unaccounted``); ``catalog``, the
    catalog's item count, is their sum. ``duplicates`` lists each duplicate item with the item
    it is a copy of (``duplicate_of``, as cleaning recorded it) and that item's product id and
    fate here, so a reader sees which copy was kept and whether it was published."""
    rows = catalog.items()
    held = {h["item"]: h["status"] for h in held_back}
    by_key = {item_key(r.item.source, r.item.source_id): r for r in rows}
    fates: dict[str, str] = {}
    for key, r in by_key.items():
        fates[key] = _fate(key, r, published, held, failed)
    counts = dict.fromkeys(FATES, 0)
    for fate in fates.values():
        counts[fate] += 1
    duplicates = [_duplicate(key, r, by_key, fates) for key, r in by_key.items() if fates[key] == "duplicate"]
    unaccounted = [{"item": k, "status": str(by_key[k].status)} for k, f in fates.items() if f == "other"]
    return {
        "items": {"catalog": len(rows), **counts},
        "duplicates": duplicates,
        "unaccounted": unaccounted,
    }


def _fate(
    key: str, r: ItemRow, published: Container[str], held: Mapping[str, str], failed: Container[str]
) -> str:
    """One item's fate in :func:`item_accounting`."""
    if key in published:
        return "published"
    if key in failed:
        return "failed"
    if key in held:
        return {Status.NEEDS_REVIEW: "needs_review", Status.REJECTED: "rejected"}.get(held[key], "no_class")
    if r.status == Status.DUPLICATE:
        return "duplicate"
    if r.status in _NOT_CLEANED:
        return "not_cleaned"
    return "other"


def _duplicate(
    key: str, r: ItemRow, by_key: Mapping[str, ItemRow], fates: Mapping[str, str]
) -> dict[str, Any]:
    """A duplicate's row: the item, the item it copies, that item's product id and fate."""
    kept = r.duplicate_of or ""
    row = by_key.get(kept)
    return {
        "item": key,
        "duplicate_of": kept or None,
        "kept_product_id": row.product_id if row else None,
        "kept_fate": fates.get(kept, "not in the catalog"),
        "reason": r.reason or "",
    }


def accounting_lines(res: Mapping[str, Any]) -> Iterable[str]:
    """The human lines of a publish's :func:`item_accounting`: the sum, then each duplicate."""
    items = res.get("items")
    if not items:
        return
    parts = [f"{items[f]} {LABELS[f]}" for f in FATES if items.get(f)]
    yield f"catalog items: {items['catalog']} = " + (" + ".join(parts) or "0")
    dups = res.get("duplicates") or []
    if dups:
        yield f"duplicates (dropped as copies of a kept item): {len(dups)}"
        for d in dups:
            kept = d["duplicate_of"] or "(no kept item recorded)"
            pid = f", product {d['kept_product_id']}" if d.get("kept_product_id") else ""
            yield f"  {d['item']}: copy of {kept} ({LABELS.get(d['kept_fate'], d['kept_fate'])}{pid})"
    for u in res.get("unaccounted") or []:
        yield f"  not published: {u['item']} [{u['status']}]"
