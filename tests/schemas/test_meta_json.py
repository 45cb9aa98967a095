"""A catalog meta row that is no JSON (edited by hand, or damaged) is one CatalogError naming
the catalog file, the key and what to do; it was a JSONDecodeError traceback (mf splits
rebuild, mf publish)."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

from schemas.catalog import Catalog
from schemas.errors import CatalogError
from schemas.holds import flags_key, read_flags
from tests.mf_cli import run_mf


def test_a_meta_row_that_is_no_json_names_the_catalog_key_and_fix(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        cat.set_meta("splits", {"mode": "stable"})
        cat.set_meta(flags_key("netaporter", "1"), {"1_0": "low confidence"})
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '{{{'")
    db.commit()
    with Catalog(path) as cat:
        for read in (lambda: cat.get_meta("splits"), lambda: cat.update_meta("splits", lambda v: v)):
            with pytest.raises(CatalogError, match="meta row 'splits' holds no valid JSON") as exc:
                read()
            assert exc.value.where == str(path) and "DELETE FROM meta WHERE key = 'splits'" in exc.value.hint
        # mf catalog check names them too (it called such a catalog sound)
        assert [m.split(" holds")[0] for m in cat.row_problems()] == [
            "meta row 'splits'",
            "meta row 'tracklet_flags:netaporter/1'",
        ]
    with pytest.raises(CatalogError, match="tracklet_flags:netaporter/1") as exc:
        read_flags(db, "netaporter", "1")
    assert exc.value.where == str(path)
    db.close()


@pytest.mark.parametrize(
    ("bad", "says"), [(1, "1 catalog row cannot be read"), (2, "2 catalog rows cannot be read")]
)
def test_catalog_check_counts_the_rows_it_cannot_read_in_words(tmp_path, capsys, bad, says):
    """One unreadable row is "1 catalog row", not "1 catalog rows" (schemas.render.counted)."""
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as cat:
        for key in ("a", "b")[:bad]:
            cat.set_meta(key, 1)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE meta SET value = '{{{'")
    code, _, err = run_mf(["catalog", "check", "--catalog", str(path)], capsys)
    assert code == 2 and says in err, err
    assert ("delete that row" if bad == 1 else "delete those rows") in err
