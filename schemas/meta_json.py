"""The JSON of one catalog ``meta`` row, read in one place: a value that is no JSON (edited by
hand, or damaged on disk) is one :class:`~schemas.errors.CatalogError` naming the catalog file,
the key and what to do, never a ``JSONDecodeError`` traceback."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from schemas.errors import CatalogError


def catalog_file(db: sqlite3.Connection) -> str:
    """The file ``db`` has open (its main database), or ``"the catalog"`` when it has none."""
    try:
        row = db.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return "the catalog"
    return str(row[2]) if row and row[2] else "the catalog"


def meta_value(raw: str, key: str, where: str | sqlite3.Connection | None) -> Any:
    """``json.loads(raw)`` of the meta row ``key``; ``where``: the catalog (its path, or the
    connection it is read through)."""
    try:
        return json.loads(raw)
    except (ValueError, TypeError) as exc:
        path = catalog_file(where) if isinstance(where, sqlite3.Connection) else where or "the catalog"
        raise CatalogError(
            f"meta row {key!r} holds no valid JSON ({str(exc)[:120]})",
            where=path,
            hint=f'restore the catalog from a copy; or delete that row (sqlite3 {path} "DELETE FROM meta '
            f"WHERE key = '{key}'\") and rerun the command that wrote it",
        ) from None
