"""Fuzzed catalog migrations: a catalog left at any older schema version, holding any rows that
version could store, opens at the current version with every row kept."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import MIGRATIONS, Catalog
from schemas.errors import CatalogError
from schemas.items import AssetKind, SourceItem, SourceName, Status
from tests.old_catalog import old_catalog

#: property-based exploration: many drawn examples, run by `make test`
pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NOW = "2024-01-02T03:04:05.000006+00:00"

safe_id = st.text(alphabet="abcXYZ0189_-.", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum() and ".." not in s  # what schemas.naming.check_safe_name accepts
)
text = st.none() | st.text(max_size=30)
item = st.builds(
    SourceItem,
    source=st.sampled_from(list(SourceName)),
    source_id=safe_id,
    url=text,
    title=text,
    category_path=st.lists(st.text(max_size=10), max_size=3),
    hashtags=st.lists(st.text(max_size=10), max_size=3),
    metadata=st.dictionaries(
        st.text(max_size=5), st.integers() | st.text(max_size=5) | st.none(), max_size=3
    ),
)
row_state = st.fixed_dictionaries(
    {
        "status": st.sampled_from([str(s) for s in Status]),
        "reason": text,
        "product_id": st.none() | safe_id,
        "df2_class": st.none() | st.integers(1, 13),
        "split": st.sampled_from([None, "train", "test"]),
    }
)
asset_row = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([str(k) for k in AssetKind]),
        "url": st.text(max_size=20),
        "path": st.none() | st.text(max_size=20),
        "sha256": st.none() | st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        "size": st.none() | st.integers(0, 2**40),
        "status": st.sampled_from([str(s) for s in Status]),
    }
)
event = st.tuples(st.sampled_from(["collect", "clean", "review"]), st.text(max_size=30))


@FUZZ
@given(
    version=st.integers(0, len(MIGRATIONS) - 1),
    items=st.lists(st.tuples(item, row_state, st.lists(asset_row, max_size=3)), max_size=5),
    events=st.lists(event, max_size=3),
    meta=st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.text(max_size=8), max_size=3),
)
def test_any_older_catalog_upgrades_with_its_data_kept(tmp_path_factory, version, items, events, meta):
    path = tmp_path_factory.mktemp("old") / "catalog.sqlite"
    db = old_catalog(path, version)
    kept_items, kept_assets = {}, {}
    if version >= 1:
        for it, state, assets in items:
            key = (str(it.source), it.source_id)
            if key in kept_items:
                continue
            db.execute(
                "INSERT INTO items (source, source_id, url, status, reason, product_id, df2_class, split, data, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    it.url,
                    state["status"],
                    state["reason"],
                    state["product_id"],
                    state["df2_class"],
                    state["split"],
                    it.model_dump_json(),
                    NOW,
                    NOW,
                ),
            )
            kept_items[key] = (it, state)
            for a in assets:
                akey = (*key, a["kind"], a["url"])
                if akey in kept_assets:
                    continue
                db.execute(
                    "INSERT INTO assets (source, source_id, kind, url, path, sha256, size, status, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*akey, a["path"], a["sha256"], a["size"], a["status"], NOW, NOW),
                )
                kept_assets[akey] = a
    if version >= 2:
        for stage, message in events:
            db.execute("INSERT INTO events (at, stage, message) VALUES (?, ?, ?)", (NOW, stage, message))
    db.close()

    with Catalog(path) as cat:
        assert cat.schema_version == len(MIGRATIONS)
        rows = {(str(r.item.source), r.item.source_id): r for r in cat.items()}
        assert set(rows) == set(kept_items)
        for key, (it, state) in kept_items.items():
            r = rows[key]
            assert r.item == it and str(r.status) == state["status"] and r.reason == state["reason"]
            assert (r.product_id, r.df2_class, r.split) == (
                state["product_id"],
                state["df2_class"],
                state["split"],
            )
        got = {(str(a.source), a.source_id, str(a.kind), a.url or ""): a for a in cat.assets()}
        assert set(got) == set(kept_assets)
        for key, a in kept_assets.items():
            g = got[key]
            assert (g.path, g.sha256, g.size, str(g.status)) == (
                a["path"],
                a["sha256"],
                a["size"],
                a["status"],
            )
        assert [(e["stage"], e["message"]) for e in cat.events()] == (list(events) if version >= 2 else [])
        for k, v in meta.items():  # the newest table works after the upgrade
            cat.set_meta(k, v)
        assert {k: cat.get_meta(k) for k in meta} == meta
    with Catalog(path) as cat:  # opening again changes nothing
        assert cat.schema_version == len(MIGRATIONS) and len(cat.items()) == len(kept_items)


def test_a_newer_catalog_is_refused_not_downgraded(tmp_path):
    path = tmp_path / "catalog.sqlite"
    db = old_catalog(path, len(MIGRATIONS))
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer than this toolkit"):
        Catalog(path)
