"""One catalog ``review_decisions`` row, checked in one place: a row edited into something the
toolkit never writes (its ``prev`` no JSON object, an unknown kind, a tracklet or class that is
not a number) is one :class:`~schemas.errors.CatalogError` naming the catalog file, the decision
and what to do, never a ``JSONDecodeError`` traceback nor a decision silently read as another.

It lives apart from :mod:`schemas.review` so that :meth:`schemas.catalog.Catalog.row_problems`
(``mf catalog check``) reads the rows the same way without importing the review module."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from schemas.errors import CatalogError
from schemas.meta_json import catalog_file
from schemas.taxonomy import DF2_CLASSES

#: the kinds of decision the catalog stores (see :mod:`schemas.review`)
KINDS = ("accept", "reject", "class", "tracklet", "note", "import", "shop")
#: the text columns a decision always has, and those it may leave empty
_TEXT = ("at", "video", "product_id", "kind")
_TEXT_OR_NULL = ("source", "source_id", "reason", "note", "request_id", "undone_at", "shop")


def _cell(r: sqlite3.Row | Mapping[str, Any], col: str) -> Any:
    """Column ``col`` of row ``r`` (None when the row has no such column: an older schema's)."""
    try:
        return r[col]
    except (KeyError, IndexError):
        return None


def decision_row_problem(r: sqlite3.Row | Mapping[str, Any]) -> str | None:
    """What in decision row ``r`` the toolkit never writes (the first such column), or None."""
    for col in _TEXT:
        if not isinstance(_cell(r, col), str):
            return f"{col}: {_cell(r, col)!r} is not text"
    for col in _TEXT_OR_NULL:
        if _cell(r, col) is not None and not isinstance(_cell(r, col), str):
            return f"{col}: {_cell(r, col)!r} is not text"
    if r["kind"] not in KINDS:
        return f"kind: {r['kind']!r} is none of {', '.join(KINDS)}"
    t = _cell(r, "tracklet")
    if t is not None and (not isinstance(t, int) or t < 0):
        return f"tracklet: {t!r} is not a tracklet number"
    c = _cell(r, "df2_class")
    if c is not None and (not isinstance(c, int) or c not in DF2_CLASSES):
        return f"df2_class: {c!r} is not a DeepFashion2 class number"
    try:
        prev = json.loads(_cell(r, "prev") or "{}")
    except (ValueError, TypeError) as exc:
        return f"prev: no valid JSON ({str(exc)[:120]})"
    if not isinstance(prev, dict):
        return "prev: not a JSON object"
    return None


def _path_of(where: Any) -> str:
    """The catalog file ``where`` names: a path, a ``sqlite3`` connection, or the catalog's own
    connection (it has ``path``)."""
    if isinstance(where, sqlite3.Connection):
        return catalog_file(where)
    path = getattr(where, "path", None)
    return str(path if path is not None else where)


def decision_prev(r: sqlite3.Row | Mapping[str, Any], where: Any) -> dict[str, Any]:
    """The ``prev`` object of decision row ``r`` once the whole row is checked
    (:func:`decision_row_problem`);
    ``where``: the catalog (its path, or the connection the row was read through)."""
    why = decision_row_problem(r)
    if why is None:
        return json.loads(r["prev"] or "{}")
    path = _path_of(where)
    raise CatalogError(
        f"review decision {r['id']} ({r['kind']!r} on {r['video']!r}) is not a valid catalog row ({why})",
        where=path,
        hint=f'restore the catalog from a copy; or delete that row (sqlite3 {path} "DELETE FROM '
        f'review_decisions WHERE id = {r["id"]}") and make the decision again on the review page',
    )
