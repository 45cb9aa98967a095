"""Salvage the readable rows of a damaged catalog into a new one (``mf catalog recover``).

Each table is read in rowid order; where a damaged page hides a run of rows, the walk probes
ahead (doubling steps, then bisecting back) for the first row it can read again and goes on
from there. What it reads goes into a fresh catalog with the current schema (its migrations);
the damaged file is only read. Assets whose item was lost are left out (a rerun of the
collectors fetches that item again), and so are ``meta`` rows that are no JSON (every reader
would stop on them again): each is listed with why and the command that writes it again
(:func:`schemas.meta_json.rebuild_of`); a review decision row the review module cannot read
(:func:`schemas.review_rows.decision_row_problem`) is left out the same way, named with why (the
decision is made again on the review page).

SQLite's own ``sqlite3 CATALOG .recover`` reads pages directly and can find rows a walk
cannot reach, but needs a ``sqlite3`` shell built with the ``sqlite_dbpage`` table; the one
Debian 12 ships (3.40) stops with "SQL logic error" on any file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.errors import CatalogError
from schemas.meta_json import no_json, rebuild_of
from schemas.review_rows import decision_row_problem

#: the catalog's tables, items first (assets are kept only when their item is)
TABLES = ("items", "assets", "events", "meta", "review_decisions")
_MIN_ROWID = -(2**63)
_MAX_ROWID = 2**63 - 1


@dataclass
class RecoverReport:
    """What was salvaged: rows per table (ids kept), runs of rows skipped, assets left out without
    an item, rows read but refused by the new catalog (torn: a NULL where one is not allowed), and
    meta rows that are no JSON (``key``, ``why``, ``rebuild``: the command, or None) and review
    decision rows that cannot be read (``id``, ``video``, ``why``)."""

    source: str
    out: str
    rows: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    orphaned_assets: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    meta_left_out: list[dict[str, str | None]] = field(default_factory=list)
    decisions_left_out: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "catalog": self.source,
            "out": self.out,
            "rows": self.rows,
            "damaged_runs_skipped": self.gaps,
            "orphaned_assets": self.orphaned_assets,
            "rows_dropped": self.dropped,
            "meta_left_out": self.meta_left_out,
            "decisions_left_out": self.decisions_left_out,
        }


def _probe(db: sqlite3.Connection, table: str, after: int) -> int | None | bool:
    """The first rowid above ``after`` (None: none), or False when the seek meets damage."""
    try:
        row = db.execute(
            f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1", (after,)
        ).fetchone()
    except sqlite3.DatabaseError:
        return False
    return None if row is None else int(row[0])


def _skip_damage(db: sqlite3.Connection, table: str, last: int) -> int | None:
    """Past the damaged run after rowid ``last``: the rowid to read on from (exclusive), or None."""
    step, bad = 1, last
    while True:
        at = min(_MAX_ROWID, last + step)
        found = _probe(db, table, at)
        if found is not False:
            break
        bad = at
        if at == _MAX_ROWID:
            return None
        step *= 2
    lo, hi = bad, at  # probing after lo meets damage, after hi does not: find the smallest good start
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _probe(db, table, mid) is False:
            lo = mid
        else:
            hi = mid
    return None if _probe(db, table, hi) is None else hi


def _walk(db: sqlite3.Connection, table: str, columns: list[str], report: RecoverReport) -> Iterator[tuple]:
    cols = ", ".join(f'"{c}"' for c in columns)
    last = _MIN_ROWID
    while True:
        try:
            for row in db.execute(
                f"SELECT rowid, {cols} FROM {table} WHERE rowid > ? ORDER BY rowid", (last,)
            ):
                last = int(row[0])
                yield tuple(row[1:])
            return
        except sqlite3.DatabaseError:
            report.gaps[table] = report.gaps.get(table, 0) + 1
            nxt = _skip_damage(db, table, last)
            if nxt is None:
                return
            last = nxt


def _no_json(rec: dict, report: RecoverReport) -> bool:
    """Whether the meta row ``rec`` is no JSON (listed in ``report.meta_left_out``, to leave out)."""
    key = str(rec.get("key"))
    why = no_json(rec.get("value"))
    if why is None:
        return False
    report.meta_left_out.append({"key": key, "why": why, "rebuild": rebuild_of(key, report.out)})
    return True


def _bad_decision(rec: dict, report: RecoverReport) -> bool:
    """Whether the review decision row ``rec`` cannot be read (listed in
    ``report.decisions_left_out``, to leave out)."""
    why = decision_row_problem(rec)
    if why is None:
        return False
    report.decisions_left_out.append({"id": rec.get("id"), "video": rec.get("video"), "why": why})
    return True


def _open_read_only(src: Path) -> tuple[sqlite3.Connection, set[str]]:
    """``src`` opened read-only (a URI with its path percent-encoded, so ``#``, ``?`` and ``%`` in
    the name stay part of it) and its tables; refused when it holds none of the catalog's, or
    when the ``-wal`` beside it was written for a file it replaced (:class:`WalOfAnotherFile`:
    the old file's pages would be read as this one's). On read-only media it is read as
    :class:`~schemas.catalog.Catalog` reads it there (:func:`_read_only_uri`)."""
    from schemas.catalog import _file_identity, _read_only_uri, _refuse_wal_of_another_file, _side_base

    _refuse_wal_of_another_file(_side_base(src), _file_identity(_side_base(src)))
    try:
        db = sqlite3.connect(_read_only_uri(src), uri=True)
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise CatalogError(
            f"cannot read the catalog's schema ({exc}): nothing to salvage",
            where=str(src),
            hint="restore it from a copy",
        ) from None
    if not present & set(TABLES):
        db.close()
        raise CatalogError(
            f"has none of the catalog's tables ({', '.join(TABLES)}): nothing to salvage",
            where=str(src),
            hint="give the catalog mf-collect wrote (--catalog), or restore it from a copy",
        )
    return db, present


def recover_catalog(src: str | os.PathLike[str], out: str | os.PathLike[str]) -> RecoverReport:
    """Copy every readable row of the catalog ``src`` into a new catalog ``out`` (must not exist)."""
    from schemas.catalog import Catalog

    src, out = Path(src), Path(out)
    if out.exists():
        raise CatalogError("the output exists already", where=str(out), hint="name a new file with --out")
    if out.resolve() == src.resolve():
        raise CatalogError("the output is the damaged catalog itself", where=str(out), hint="name a new file")
    db, present = _open_read_only(src)
    report = RecoverReport(str(src), str(out))
    with Catalog(out):  # the current schema, migrations applied
        pass
    dst = sqlite3.connect(out, isolation_level=None)
    try:
        dst.execute("BEGIN IMMEDIATE")
        items: set[tuple[str, str]] = set()
        for table in TABLES:
            if table not in present:
                continue
            want = [r[1] for r in dst.execute(f"PRAGMA table_info({table})")]
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            columns = [c for c in want if c in have]  # ids too: review decisions and events are named by them
            marks = ", ".join("?" for _ in columns)
            names = ", ".join(f'"{c}"' for c in columns)
            n = dropped = 0
            for row in _walk(db, table, columns, report):
                rec = dict(zip(columns, row, strict=True))
                if table == "assets" and (rec.get("source"), rec.get("source_id")) not in items:
                    report.orphaned_assets += 1
                    continue
                if table == "meta" and _no_json(rec, report):
                    continue
                if table == "review_decisions" and _bad_decision(rec, report):
                    continue
                try:
                    dst.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", row)
                except sqlite3.IntegrityError:  # a torn row: a NOT NULL column read as NULL, a key twice
                    dropped += 1
                    continue
                n += 1
                if table == "items":
                    items.add((rec.get("source"), rec.get("source_id")))
            report.rows[table] = n
            if dropped:
                report.dropped[table] = dropped
        dst.execute("COMMIT")
    except BaseException:
        if dst.in_transaction:
            dst.execute("ROLLBACK")
        raise
    finally:
        dst.close()
        db.close()
    return report
