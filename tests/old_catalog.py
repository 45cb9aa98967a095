"""A catalog file as an older toolkit left it, for the tests of upgrades and refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from schemas.catalog import MIGRATIONS


def old_catalog(path: str | Path, version: int) -> sqlite3.Connection:
    """The catalog at ``path`` made as a toolkit at schema ``version`` made it: its first
    ``version`` migrations applied and ``PRAGMA user_version`` set to ``version``. Returned open
    in autocommit mode, for the test to add the rows of that schema; close it before a
    :class:`~schemas.catalog.Catalog` opens the file."""
    db = sqlite3.connect(path, isolation_level=None)
    for sql in MIGRATIONS[:version]:
        db.executescript(sql)
    db.execute(f"PRAGMA user_version = {int(version)}")
    return db
