"""``Catalog.delete_assets``: rows dropped by their key (source, source id, kind, URL), all in
one transaction; the item's other rows, and other items' rows, stay."""

from __future__ import annotations

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName, Status


def asset(sid: str, kind: AssetKind, url: str | None) -> MediaAsset:
    return MediaAsset(
        source=SourceName.TIKTOK, source_id=sid, kind=kind, url=url, status=Status.FAILED, reason="x"
    )


@pytest.fixture
def cat(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as c:
        c.upsert_items([SourceItem(source=SourceName.TIKTOK, source_id=s) for s in ("1", "2")])
        c.upsert_assets(
            [
                asset("1", AssetKind.SHOP, "https://a/old.jpg"),
                asset("1", AssetKind.SHOP, "https://a/new.jpg"),
                asset("1", AssetKind.VIDEO, "https://a/old.jpg"),
                asset("1", AssetKind.VIDEO, None),
                asset("2", AssetKind.SHOP, "https://a/old.jpg"),
            ]
        )
        yield c


def keys(cat: Catalog) -> set[tuple[str, str, str]]:
    return {(a.source_id, str(a.kind), a.url or "") for a in cat.assets(source="tiktok")}


def test_only_the_rows_named_by_their_whole_key_go(cat):
    gone = cat.delete_assets(
        [asset("1", AssetKind.SHOP, "https://a/old.jpg"), asset("1", AssetKind.VIDEO, None)]
    )
    assert gone == 2
    assert keys(cat) == {
        ("1", "shop", "https://a/new.jpg"),
        ("1", "video", "https://a/old.jpg"),
        ("2", "shop", "https://a/old.jpg"),
    }


def test_a_row_already_gone_is_no_error_and_not_counted(cat):
    assert cat.delete_assets([asset("1", AssetKind.SHOP, "https://a/none.jpg")]) == 0
    assert cat.delete_assets([]) == 0
    assert len(keys(cat)) == 5


def test_the_rows_go_all_or_none(cat, monkeypatch):
    """A failure part way (the catalog refusing one row) leaves every row in place."""
    rows = [asset("1", AssetKind.SHOP, "https://a/old.jpg"), asset("2", AssetKind.SHOP, "https://a/old.jpg")]
    execute, seen = cat._db.execute, []

    def fail_second(sql, args=()):
        if sql.startswith("DELETE"):
            seen.append(args)
            if len(seen) == 2:
                raise CatalogError("refused", where="test")
        return execute(sql, args)

    monkeypatch.setattr(cat._db, "execute", fail_second)
    with pytest.raises(CatalogError):
        cat.delete_assets(rows)
    monkeypatch.undo()
    assert len(keys(cat)) == 5
