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


def no_json(raw: Any) -> str | None:
    """Why the meta value ``raw`` is no JSON (``no valid JSON (<the parser's words>)``), or None
    when it reads."""
    try:
        json.loads(raw)
    except (ValueError, TypeError) as exc:
        return f"no valid JSON ({str(exc)[:120]})"
    return None


def meta_value(raw: str, key: str, where: str | sqlite3.Connection | None) -> Any:
    """``json.loads(raw)`` of the meta row ``key``; ``where``: the catalog (its path, or the
    connection it is read through)."""
    try:
        return json.loads(raw)
    except (ValueError, TypeError):
        path = catalog_file(where) if isinstance(where, sqlite3.Connection) else where or "the catalog"
        raise CatalogError(
            f"meta row {key!r} holds {no_json(raw)}",
            where=path,
            hint=f'restore the catalog from a copy; or delete that row (sqlite3 {path} "DELETE FROM meta '
            f"WHERE key = '{key}'\") and rerun the command that wrote it",
        ) from None


#: what writes the tracklet builder's records of an item again (:data:`REBUILDS`)
_TRACKLETS = (
    "mf-tracklets build --dataset DATASET --catalog CATALOG --force (DATASET: the folder published "
    "from this catalog; its settle pass records the flags of item SOURCE's videos again as it builds "
    "them; a rerun without --force does not, and a video holding a person's work is kept, its flag "
    "not recorded again)"
)

#: what writes a meta row again, by key (or key prefix, ending in ``:``): the command to run on a
#: catalog that lost the row (``mf catalog recover`` leaves a row that is no JSON out and says this)
REBUILDS: dict[str, str] = {
    "splits": "mf splits rebuild --catalog CATALOG (the recorded rule is lost: give --seed and "
    "--test-fraction when they were not the defaults)",
    "associations": "mf clean (its association check records it again)",
    "recheck_cursor:": "mf-collect SOURCE --recheck --root ROOT (it starts again from the first item)",
    # the tracklet builder's records of an item (schemas.holds: TRACKLET_FLAGS, TRACKLET_BUILDS,
    # ITEM_FLAG), written by the settle pass of a build for the videos that build built
    **dict.fromkeys(("tracklet_flags:", "tracklet_builds:", "tracklet_item_flag:"), _TRACKLETS),
    "merge_holds": "mf publish --catalog CATALOG --root ROOT --out DATASET (its merge check records "
    "each hold it makes from then on; a hold in place keeps working from its reason, and an item "
    "released from it gets back no reason it had before the hold)",
}


def rebuild_of(key: str, catalog: str = "CATALOG") -> str | None:
    """The command that writes the meta row ``key`` of ``catalog`` again (:data:`REBUILDS`, with
    the catalog and the source of a prefixed key filled in: a recheck cursor's source, a tracklet
    record's ``source/id``), or None when none does (restore the row from a copy of the catalog)."""
    for name, how in REBUILDS.items():
        if key == name:
            return how.replace("CATALOG", catalog)
        if name.endswith(":") and key.startswith(name):
            return how.replace("CATALOG", catalog).replace("SOURCE", key[len(name) :])
    return None
