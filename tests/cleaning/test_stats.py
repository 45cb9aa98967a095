"""`mf stats` counts of a catalog (cleaning/stats.py)."""

from __future__ import annotations

import json

from schemas.catalog import Catalog
from schemas.items import SourceItem, Status
from tests.mf_cli import run_mf


def test_stats_counts_an_accepted_item_with_no_class_as_unclassified(tmp_path, capsys):
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id=s, url=f"http://x/{s}") for s in ("p0", "p1", "p2")],
            status=Status.ACCEPTED,
        )
        cat.set_item_state("netaporter", "p0", product_id="P0", df2_class=7)
        cat.set_item_state("netaporter", "p1", product_id="P1", df2_class=1)
    code, out, err = run_mf(["stats", "--catalog", str(path), "--json"], capsys)
    assert code == 0, err
    stats = json.loads(out)
    assert stats["accepted_per_class"] == {"1": 1, "7": 1} and stats["accepted_unclassified"] == 1
    code, out, err = run_mf(["stats", "--catalog", str(path)], capsys)
    assert code == 0 and "accepted_unclassified" in out, err
