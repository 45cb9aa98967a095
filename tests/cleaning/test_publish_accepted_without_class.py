"""An item accepted in review without a DeepFashion2 class (cleaning could not tell it) is left out
of `mf publish` with a warning naming it and listed in its ``held_back``; the rest of the catalog is still published."""

from __future__ import annotations

import logging

import pytest

from cleaning.publish import publish
from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.items import Status
from schemas.official import read_official


def _in_splits(out) -> set[str]:
    return set(read_official(out / "train.json")) | set(read_official(out / "test.json"))


def test_an_accepted_item_without_a_class_is_held_back_not_fatal(
    cleaned_world, catalog_copy, tmp_path, caplog
):
    out = tmp_path / "ds"
    with Catalog(catalog_copy) as cat:
        rows = sorted(cat.items(status=Status.ACCEPTED), key=lambda r: r.product_id or "")
        row = rows[0]
        cat.set_item_state(row.item.source, row.item.source_id, status=Status.ACCEPTED, df2_class=None)
        with caplog.at_level(logging.WARNING, logger="cleaning.publish"):
            res = publish(cat, cleaned_world.root, out)
        published = _in_splits(out)
        assert row.product_id not in published and published
        assert res["products"] == len(published)
        said = " ".join(r.getMessage() for r in caplog.records)
        assert f"{row.item.source}/{row.item.source_id}" in said and "without a class" in said
        # the report lists it with what to do, as every item it leaves out
        listed = [h for h in res["held_back"] if h["product_id"] == row.product_id]
        assert [h["status"] for h in listed] == ["accepted"], res["held_back"]
        assert "set one with c" in listed[0]["reason"]
        assert res["held_back_by_reason"].get("accepted/review", 0) >= 1
        # a row without a product id still means `mf clean` did not run
        cat.set_item_state(
            rows[1].item.source, rows[1].item.source_id, status=Status.ACCEPTED, product_id=None
        )
        with pytest.raises(CatalogError, match="mf clean"):
            publish(cat, cleaned_world.root, out)
