"""A small catalog to split: accepted Regular products of one class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cleaning.splits import rebuild_splits
from schemas.catalog import Catalog
from schemas.items import SourceItem, Status


def regular_catalog(path: Path, products: int = 20, **split: Any) -> Path:
    """``products`` accepted Regular products of class 1 (``r0``...), split once by
    :func:`rebuild_splits` with ``split`` (its defaults when empty)."""
    with Catalog(path) as cat:
        sids = [f"r{i}" for i in range(products)]
        cat.upsert_items([SourceItem(source="netaporter", source_id=s) for s in sids], status=Status.ACCEPTED)
        for s in sids:
            cat.set_item_state("netaporter", s, product_id=s, df2_class=1, partition="regular")
        rebuild_splits(cat, **split)
    return path
