"""A review decision row edited into something the toolkit never writes is one CatalogError
naming the catalog file, the decision and the fix. Before, a ``prev`` that is no JSON was a
JSONDecodeError traceback in ``mf review`` and ``mf-tracklets review``, and an unknown kind, a
tracklet that is no number or a ``prev`` that is no object were read silently (the decision
counted as none, or as another), while ``mf catalog check`` called the catalog sound."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.holds import live_verdicts
from schemas.items import SourceItem, Status
from schemas.review import list_decisions, record_decision, review_states
from tests.mf_cli import run_mf

DAMAGE = [
    ("prev = '{{{'", "prev: no valid JSON"),
    ("prev = '[1]'", "prev: not a JSON object"),
    ("kind = 'bogus'", "kind: 'bogus' is none of"),
    ("tracklet = 'abc'", "tracklet: 'abc' is not a tracklet number"),
    ("df2_class = 99", "df2_class: 99 is not a DeepFashion2 class number"),
]


def _catalog_with_decisions(path):
    with Catalog(path) as cat:
        cat.upsert_items(
            [SourceItem(source="netaporter", source_id="p0", url="http://x/0")], status=Status.ACCEPTED
        )
        cat.set_item_state("netaporter", "p0", product_id="P0", df2_class=1)
        record_decision(cat, video="videos/P0_0.mp4", product_id="P0", kind="tracklet", tracklet=1)
        record_decision(cat, video="videos/P0_0.mp4", product_id="P0", kind="accept")


@pytest.mark.parametrize(("damage", "says"), DAMAGE)
def test_a_damaged_decision_row_names_the_catalog_the_decision_and_the_fix(tmp_path, capsys, damage, says):
    path = tmp_path / "catalog.sqlite"
    _catalog_with_decisions(path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"UPDATE review_decisions SET {damage} WHERE id = 2")
    with Catalog(path) as cat:
        for read in (lambda: list_decisions(cat), lambda: review_states(cat)):
            with pytest.raises(CatalogError, match="review decision 2 .* is not a valid catalog row") as exc:
                read()
            assert says in exc.value.message and exc.value.where == str(path)
            assert f'sqlite3 {path} "DELETE FROM review_decisions WHERE id = 2"' in exc.value.hint
        if "kind" not in damage:  # the holds read an item's live verdicts too
            with pytest.raises(CatalogError, match=says.split(":")[0]):
                live_verdicts(cat._db, "netaporter", "p0")
    code, _, err = run_mf(["catalog", "check", "--catalog", str(path)], capsys)
    assert code == 2 and "1 catalog row cannot be read" in err and says in err, err
    assert "make it again on the review page" in err
    # mf catalog recover leaves that row out, named (it copied it as is: the copy failed the same way)
    out = tmp_path / "recovered.sqlite"
    code, text, _ = run_mf(["catalog", "recover", "--catalog", str(path), "--out", str(out)], capsys)
    assert code == 0 and f"left out review decision 2 on 'videos/P0_0.mp4': {says}" in text, text
    with Catalog(out) as cat:
        assert cat.row_problems() == [] and [d.id for d in list_decisions(cat)] == [1]
