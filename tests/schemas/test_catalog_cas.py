"""Catalog.set_item_states_if: a batch of compare-and-set state writes in one transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.items import SourceItem, Status


@pytest.fixture()
def cat(tmp_path: Path):
    with Catalog(tmp_path / "catalog.sqlite") as c:
        c.upsert_items(
            [SourceItem(source="tiktok", source_id=sid, title=sid) for sid in ("a", "b", "c")],
            status=Status.ACCEPTED,
        )
        yield c


def _state(cat: Catalog, sid: str) -> tuple[str, str | None, str | None]:
    row = cat.get_item("tiktok", sid)
    assert row is not None
    return str(row.status), row.reason, row.product_id


def test_writes_only_rows_that_still_hold_the_expected_values(cat):
    cat.set_item_state("tiktok", "b", status=Status.NEEDS_REVIEW, reason="tracklets: noisy")  # meanwhile
    expect = {"status": Status.ACCEPTED, "reason": None}
    missed = cat.set_item_states_if(
        [
            ("tiktok", sid, expect, {"status": Status.REJECTED, "reason": "probe: x", "product_id": sid})
            for sid in ("a", "b", "zz")
        ]
    )
    assert missed == [("tiktok", "b"), ("tiktok", "zz")]
    assert _state(cat, "a") == ("rejected", "probe: x", "a")
    assert _state(cat, "b") == ("needs_review", "tracklets: noisy", None)  # nothing written there


def test_updated_at_moves_only_when_a_value_changes(cat):
    before = cat.get_item("tiktok", "a")
    assert cat.set_item_states_if([("tiktok", "a", {"status": "accepted"}, {"status": "accepted"})]) == []
    assert cat.get_item("tiktok", "a").updated_at == before.updated_at
    assert cat.set_item_states_if([("tiktok", "a", {"reason": None}, {"split": "train"})]) == []
    assert cat.get_item("tiktok", "a").updated_at > before.updated_at


def test_an_unknown_column_writes_nothing(cat):
    with pytest.raises(CatalogError, match="unknown item columns"):
        cat.set_item_states_if(
            [
                ("tiktok", "a", {}, {"status": Status.REJECTED}),
                ("tiktok", "b", {"colour": "red"}, {"status": Status.REJECTED}),
            ]
        )
    assert _state(cat, "a")[0] == "accepted"
    with pytest.raises(CatalogError, match="no item column"):
        cat.set_item_states_if([("tiktok", "a", {"status": "accepted"}, {})])
