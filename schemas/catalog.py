"""The pipeline's state: a SQLite catalog (WAL) of source items and media assets.

It lives in ``schemas`` (the contract layer every stage already depends on) so that
collectors write it, cleaning and annotations update it, and no stage imports a later one.

* One row per item, keyed by ``(source, source_id)``; one row per asset, keyed by
  ``(source, source_id, kind, url)``. Upserts are idempotent.
* Status per row (see :class:`schemas.items.Status`) with reason, ``duplicate_of`` and
  timestamps; per item, ``attempts``: the runs since its last success in which a collector failed
  it for a reason that looks permanent (:func:`collectors.core.failure_state`).
* Several writer processes at once: WAL journal, ``BEGIN IMMEDIATE`` for every write and a
  busy timeout, so writers queue instead of failing; a killed writer loses only its
  uncommitted transaction. A write waits at most ``timeout_s`` (:data:`LOCK_WAIT_S`, 3 minutes,
  by default) for another process's write lock, says once on stderr that it waits, then
  raises :class:`~schemas.errors.CatalogError` naming the file.
* Schema migrations are numbered (``PRAGMA user_version``) and applied on open.
* Damage is detected: ``PRAGMA quick_check`` runs on open, before anything is written (a full
  ``integrity_check`` in :meth:`Catalog.check`, ``mf catalog check``). A damaged catalog raises
  :class:`~schemas.errors.CatalogCorrupt` (one line naming the file and the way back: SQLite's
  ``.recover`` or a copy) and is never written to; so does damage a query runs into later.
  SQLite's local faults (a full disk, an I/O error, a read-only file) raise
  :class:`~schemas.errors.LocalFault`; no ``sqlite3`` exception leaves this module.
* A catalog file replaced (moved over, restored from a copy) while a process wrote it: that
  process's next write stops (``catalog_gone``), and its write-ahead log, left beside the new
  file, is never replayed onto it: every writer records the file it opened in
  ``<catalog>-wal-owner`` (:data:`WAL_OWNER_SUFFIX`), and an open that finds a ``-wal`` of
  another file refuses (:class:`WalOfAnotherFile`) before SQLite reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from schemas.atomic import atomic_write_bytes
from schemas.errors import CatalogCorrupt, CatalogError, ConfigError, LocalFault
from schemas.faults import HINTS, path_faults, read_only_mount, sqlite_fault
from schemas.holds import hold_by_flags
from schemas.items import GAVE_UP_PREFIX, AssetKind, MediaAsset, SourceItem, SourceName, Status
from schemas.meta_json import meta_value
from schemas.redact import redacted_logger
from schemas.review_rows import decision_prev

#: how long (seconds) a write waits, by default, for another process's write lock on the catalog
LOCK_WAIT_S = 180.0
#: SQLite's busy timeout (seconds) for one try at the write lock: short, so the wait keeps to its
#: deadline and says that it waits
LOCK_TRY_S = 1.0
#: after this long (seconds) waiting for the write lock a write says so, once: shorter waits are
#: writers queueing as they should (parallel cleaning, a pick during a build)
LOCK_WARN_S = 5.0

log = redacted_logger(__name__)

#: Numbered migrations. Append only; never edit a released one.
MIGRATIONS: list[str] = [
    # 1: items and assets
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        url TEXT,
        status TEXT NOT NULL DEFAULT 'discovered',
        reason TEXT,
        duplicate_of TEXT,
        product_id TEXT,
        partition TEXT,
        df2_class INTEGER,
        split TEXT,
        data TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (source, source_id)
    );
    CREATE TABLE assets (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL DEFAULT '',
        path TEXT,
        sha256 TEXT,
        size INTEGER,
        content_type TEXT,
        probe TEXT,
        crop TEXT,
        status TEXT NOT NULL DEFAULT 'discovered',
        reason TEXT,
        duplicate_of TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (source, source_id, kind, url),
        FOREIGN KEY (source, source_id) REFERENCES items (source, source_id)
    );
    CREATE INDEX assets_sha ON assets (sha256);
    CREATE INDEX items_status ON items (status);
    """,
    # 2: free-form event log (who changed what and why), for review and audits
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        stage TEXT NOT NULL,
        source TEXT,
        source_id TEXT,
        message TEXT NOT NULL
    );
    """,
    # 3: small key/value settings a stage must remember between runs (e.g. the split seed)
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 4: human review decisions on published videos (schemas.review reads and writes them)
    """
    CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        video TEXT NOT NULL,
        product_id TEXT NOT NULL,
        source TEXT,
        source_id TEXT,
        kind TEXT NOT NULL,
        reason TEXT,
        df2_class INTEGER,
        tracklet INTEGER,
        note TEXT,
        prev TEXT NOT NULL DEFAULT '{}',
        request_id TEXT UNIQUE,
        undone_at TEXT,
        undo_request_id TEXT UNIQUE
    );
    CREATE INDEX review_decisions_video ON review_decisions (video);
    CREATE INDEX review_decisions_product ON review_decisions (product_id);
    """,
    # 5: items looked up by product id or source id alone (the review page's titles, its queue)
    """
    CREATE INDEX items_product ON items (product_id);
    CREATE INDEX items_source_id ON items (source_id);
    """,
    # 6: a review decision choosing another carousel candidate as the product's shop image
    """
    ALTER TABLE review_decisions ADD COLUMN shop TEXT;
    """,
    # 7: runs since its last success in which an item failed for a reason that looks permanent
    # (collectors give it up after ``max_failed_runs``; a success sets it back to 0)
    """
    ALTER TABLE items ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    """,
]

ITEM_COLUMNS = (
    "status",
    "reason",
    "duplicate_of",
    "product_id",
    "partition",
    "df2_class",
    "split",
    "attempts",
)
ASSET_COLUMNS = (
    "path",
    "sha256",
    "size",
    "content_type",
    "probe",
    "crop",
    "status",
    "reason",
    "duplicate_of",
)


def put_meta(db: Any, key: str, value: Any, at: str | None = None) -> None:
    """Write ``value`` (JSON) under ``key`` in the meta table, inside the caller's transaction
    (the one home of that write: :meth:`Catalog.set_meta`, :meth:`Catalog.update_meta`, and a
    writer that needs it in a transaction of its own); ``at``: its ``updated_at`` (now when None)."""
    db.execute(
        "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
        "SET value = excluded.value, updated_at = excluded.updated_at",
        (key, json.dumps(value, sort_keys=True), at or _now()),
    )


def change_meta(db: Any, key: str, change: Callable[[Any], Any], where: str | None = None) -> Any:
    """Replace the meta value under ``key`` by ``change(value)`` inside the caller's transaction
    ``db`` (``value``: ``None`` when unset; a new value ``None`` removes the key); nothing is
    written when the value stays the same. Returns the new value (:meth:`Catalog.update_meta`
    in a transaction of its own)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    old = None if row is None else meta_value(row[0], key, where or db)
    new = change(old)
    if new is None and row is not None:
        db.execute("DELETE FROM meta WHERE key = ?", (key,))
    elif new != old:
        put_meta(db, key, new)
    return new


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ItemRow:
    """An item as stored: the source item plus its pipeline state."""

    item: SourceItem
    status: Status
    reason: str | None
    duplicate_of: str | None
    product_id: str | None
    partition: str | None
    df2_class: int | None
    split: str | None
    created_at: str
    updated_at: str
    #: runs since its last success in which the item failed for a reason that looks permanent
    #: (see :func:`collectors.core.failure_state`)
    attempts: int = 0


class _Cursor:
    """A cursor whose rows are read with SQLite's errors named (see :class:`_Connection`)."""

    def __init__(self, cur: sqlite3.Cursor, conn: _Connection) -> None:
        self._cur, self._conn = cur, conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def fetchone(self) -> Any:
        with self._conn.named():
            return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        with self._conn.named():
            return self._cur.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Connection:
    """The sqlite3 connection with its errors named: damage -> :class:`CatalogCorrupt` (and the
    catalog marked damaged: no later write), a full disk or I/O error -> ``LocalFault``, the
    rest -> :class:`CatalogError`."""

    def __init__(self, raw: sqlite3.Connection, path: Path) -> None:
        self.raw, self.path = raw, path
        self.damaged: str | None = None
        #: opened ``immutable=1`` (no lock): the catalog file read and its stamp at the open
        #: (:func:`_file_stamp`); every statement and fetch checks it is still the same
        self.unlocked: tuple[Path, tuple[int, ...] | None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def execute(self, sql: str, args: Any = ()) -> _Cursor:
        with self.named():
            return _Cursor(self.raw.execute(sql, args), self)

    def executemany(self, sql: str, rows: Iterable[Any]) -> _Cursor:
        with self.named():
            return _Cursor(self.raw.executemany(sql, rows), self)

    @contextlib.contextmanager
    def named(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            self._refuse_changed()  # a page a writer rewrote meanwhile is no damage
            raise self.translate(exc) from None
        self._refuse_changed()

    def _refuse_changed(self) -> None:
        """:class:`CatalogChanged` when this lock-free (``immutable=1``) reader's file changed
        since the open: SQLite read it as unchanging, so what it read may mix two versions."""
        if self.unlocked is not None and _file_stamp(self.unlocked[0]) != self.unlocked[1]:
            raise CatalogChanged(self.path)

    def translate(self, exc: sqlite3.Error) -> Exception:
        fault = sqlite_fault(exc, self.path)
        if fault is not None:
            return fault
        if _is_damage(exc):
            self.damaged = str(exc)
            return CatalogCorrupt(str(self.path), str(exc))
        return CatalogError(str(exc), where=str(self.path))


def _check_header(raw: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not SQLite at all (a wrong --catalog), before anything else reads it.

    Asked through SQLite (its header is read), never by opening the file beside it: closing any
    descriptor of a file drops every POSIX lock this process holds on it, so a second ``Catalog``
    in a process that had one open took the first one's locks away, and another process closing
    its connection then thought itself the last, checkpointed and deleted the WAL the first one
    still wrote to (the review server's decisions were lost that way)."""
    try:
        raw.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "not a database" not in str(exc).lower():
            return  # busy, I/O...: the checks after this one name it
        suffix = path.suffix.lower()
        hint = (
            "is it the catalog mf-collect wrote? If it was, its first page is damaged: restore it from a copy"
        )
        if suffix in _NOT_CATALOG_SUFFIXES:  # a split file, a config, a video: a wrong --catalog
            hint = (
                f"a {suffix} file is not a catalog: give the SQLite catalog mf-collect wrote "
                "(ROOT/catalog.sqlite by default)"
            )
        raise CatalogError("cannot open catalog: not a SQLite file", where=str(path), hint=hint) from None


#: Suffixes of the files a wrong ``--catalog`` most often names (named by suffix alone: the file
#: is never opened beside SQLite, see :func:`_check_header`).
_NOT_CATALOG_SUFFIXES = frozenset(
    {".json", ".jsonl", ".yaml", ".yml", ".csv", ".txt", ".md", ".mp4", ".jpg", ".png", ".zip", ".pt"}
)


def _file_stamp(path: Path) -> tuple[int, ...] | None:
    """(inode, size, mtime_ns, ctime_ns) of the file at ``path``: what tells that another process
    wrote it; None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class CatalogChanged(CatalogError):
    """A catalog read without a lock (``immutable=1``: its folder cannot be written by this
    process, so SQLite can make no ``-shm`` to lock through) was written by another process
    meanwhile; what was read may mix its old and new pages (SQLite would even call it damaged).
    Nothing was written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(
            "changed while it was read (another process wrote it; this process cannot write its folder, "
            "so it read the catalog without a lock): what was read may mix two versions, stopped",
            where=str(path),
            hint="rerun once the writer (mf-collect, mf clean, a review) is done, or run this as a user "
            "who may write the catalog's folder (then reads take SQLite's locks)",
        )


def _side_base(path: Path) -> Path:
    """Where SQLite keeps the catalog's side files (``-wal``, ``-shm``) and so where the
    ``-wal-owner`` record goes: beside the file a symlink (every link of the path) leads to, not
    beside the link; absolute."""
    return Path(os.path.realpath(path))


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``; None for SQLite's in-memory database (``:memory:``)
    or a path with no file."""
    if path.name == ":memory:":
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


#: beside the catalog: the device, inode and path of the file its ``-wal`` was written for, by
#: the processes writing it (removed with the ``-wal`` when the last one closes)
WAL_OWNER_SUFFIX = "-wal-owner"


def _owner_text(path: Path, identity: tuple[int, int]) -> str:
    """The ``-wal-owner`` record of the file ``path`` (absolute) of ``identity``."""
    return f"{identity[0]}:{identity[1]} {path}\n"


class WalOfAnotherFile(CatalogError):
    """The ``-wal`` beside the catalog was written for another file at this path (the catalog was
    replaced while a process wrote it): SQLite would replay that file's pages onto this one.
    Nothing was read or written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        name = Path(path).name
        super().__init__(
            f"written for another file than {name} (the catalog was replaced while a process wrote "
            "it); not applied to it, nothing was read or written",
            where=f"{path}-wal",
            hint=f"stop any process still writing {name}, then move {name}-wal, {name}-shm and "
            f"{name}{WAL_OWNER_SUFFIX} out of that folder (they belong to the replaced file) and "
            f"rerun; if you moved or copied {name} with its -wal on purpose, delete only "
            f"{name}{WAL_OWNER_SUFFIX}",
        )


def _refuse_wal_of_another_file(path: Path, identity: tuple[int, int] | None) -> None:
    """:class:`WalOfAnotherFile` when a non-empty ``-wal`` beside ``path`` (absolute) was written
    for another file at this very path than the one there now (its owner record names this path
    and another device or inode: the file was replaced). A catalog moved or copied elsewhere with
    its ``-wal`` (the record names the old path) passes, as does one with no record (written by
    an older toolkit) and an in-memory one."""
    if identity is None:
        return
    try:
        if Path(f"{path}-wal").stat().st_size == 0:
            return
        owner = Path(f"{path}{WAL_OWNER_SUFFIX}").read_text(encoding="utf-8", errors="replace")
    except OSError:  # no -wal, or no owner record
        return
    ident, _, where = owner.rstrip("\n").partition(" ")
    if where == str(path) and f"{ident} {where}\n" != _owner_text(path, identity):
        raise WalOfAnotherFile(path)


def _read_only_uri(path: Path) -> str:
    """SQLite's URI of a read-only open of the catalog at ``path``: ``mode=ro``, plus
    ``immutable=1`` when its folder cannot be written (a read-only mount: NFS, squashfs; or no
    write permission) and it has no ``-wal``. There SQLite could not make the ``-shm`` a WAL
    catalog's reader needs (the open failed; ``mode=ro`` alone says "attempt to write a readonly
    database"). ``immutable=1`` takes no lock: a process that may write the folder (its owner,
    while this user may not) can write the catalog meanwhile, so such a handle checks the file
    is unchanged after every statement and fetch (:class:`CatalogChanged`). With a ``-wal``
    (a writer at work) its transactions are read with SQLite's locks as always. The side files
    and the folder are those beside the file a symlink leads to (:func:`_side_base`)."""
    uri = f"{path.absolute().as_uri()}?mode=ro"
    base = _side_base(path)
    folder = base.parent
    if Path(f"{base}-wal").exists() or (os.access(folder, os.W_OK) and not read_only_mount(folder)):
        return uri
    return uri + "&immutable=1"


def _is_damage(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


class CatalogLocked(CatalogError):
    """Another process held the catalog's write lock past the wait allowed (``timeout_s``):
    nothing was written; rerun once it is done."""


class NotACatalog(CatalogError):
    """The file is SQLite but not a catalog this toolkit can use as it is (another application's
    database; or, opened read-only, a catalog that needs an upgrade first). Nothing was written."""


class Catalog:
    """A handle on the catalog database. Cheap to open; one per process or thread.

    Opening checks the file (``PRAGMA quick_check``, before any write): a damaged catalog raises
    :class:`~schemas.errors.CatalogCorrupt` and is left as it is. ``check="none"`` skips that
    (only for a catalog just checked by the same process). ``read_only``: an existing catalog
    opened for reading only (no migration, no write; e.g. a reader beside the one process that
    writes it; one at an older schema is refused, naming what upgrades it; one in a folder that cannot be
    written, a read-only mount, is read too: :func:`_read_only_uri`). A SQLite file that
    no migration wrote but that holds tables (another application's database) is refused in
    every mode, unchanged (:class:`NotACatalog`). ``must_exist``: refuse a path with no catalog yet (commands that read or amend
    what ``mf-collect`` gathered, where a mistyped path must not start an empty catalog).
    ``timeout_s``: how long a write waits for another process's write lock (default
    :data:`LOCK_WAIT_S`; see :meth:`transaction`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout_s: float | None = None,
        check: str = "quick",
        read_only: bool = False,
        must_exist: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only  #: opened read-only (a dry run's catalog): never written
        #: the schema version an existing catalog was upgraded from by this open (None: not upgraded)
        self.upgraded_from: int | None = None
        self.timeout_s = timeout_s = LOCK_WAIT_S if timeout_s is None else timeout_s
        if must_exist and not (self.path.is_file() and self.path.stat().st_size > 0):
            raise CatalogError(
                "catalog not found"
                if not self.path.exists()
                else "catalog is empty (not one mf-collect wrote)",
                where=str(self.path),
                hint="give the catalog mf-collect wrote (--catalog); a typo would start a new, empty one",
            )
        if not read_only:
            with path_faults(self.path.parent):
                self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.is_file() and self.path.stat().st_size > 0
        #: where the side files are (beside a symlink's target: SQLite follows the link)
        self._side = _side_base(self.path)
        _refuse_wal_of_another_file(self._side, _file_identity(self._side))
        # the WAL side files a read-only open would leave behind (it cannot remove them on close)
        side = [Path(f"{self._side}{x}") for x in ("-wal", "-shm")] if read_only else []
        absent = [f for f in side if not f.exists()]
        stamp = _file_stamp(self._side)
        try:
            target = _read_only_uri(self.path) if read_only else self.path
            raw = sqlite3.connect(
                target, timeout=timeout_s, isolation_level=None, check_same_thread=False, uri=read_only
            )
        except sqlite3.Error as exc:
            raise sqlite_fault(exc, self.path) or CatalogError(
                f"cannot open catalog: {exc}", where=str(self.path)
            ) from None
        raw.row_factory = sqlite3.Row
        self._raw = raw
        self._db = _Connection(raw, self.path)
        if read_only and str(target).endswith("&immutable=1"):
            self._db.unlocked = (self._side, stamp)
        #: the file this handle opened (device, inode), by its absolute path (a later chdir does not
        #: move it); None in memory (see :meth:`_check_same_file`)
        self._abs_path = self.path.absolute()
        self._opened = _file_identity(self._abs_path)
        self._owner_written = False
        try:
            if not read_only:
                self._record_wal_owner()
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            if existed:
                _check_header(raw, self.path)
            if existed and check != "none":
                problems = self._check_pages(full=check == "full", limit=3)
                if problems:
                    raise CatalogCorrupt(str(self.path), "; ".join(problems))
            self._refuse_foreign()  # before anything is written: another application's file stays as it is
            if read_only:
                self._check_version()
                self._refuse_older()
            else:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._migrate()
        except (CatalogCorrupt, NotACatalog):
            self._close_quietly()
            # every command refuses a damaged catalog or a file that is none, so no other process
            # has it open as a catalog: the side files this read-only open made go, and the folder
            # is left as it was
            for f in absent:
                if f.exists() and (f.name.endswith("-shm") or f.stat().st_size == 0):
                    f.unlink(missing_ok=True)
            raise
        except BaseException:
            self._close_quietly()
            raise

    # -- plumbing -----------------------------------------------------------------
    def close(self) -> None:
        self._raw.close()
        self._drop_wal_owner()

    def _close_quietly(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._raw.close()
        self._drop_wal_owner()

    def _record_wal_owner(self) -> None:
        """Record the file this handle writes in ``<catalog>-wal-owner`` (before its first write
        to the ``-wal``), so that an open after the file was replaced refuses that ``-wal``
        (:func:`_refuse_wal_of_another_file`). Best effort: without the record nothing is checked."""
        if self._opened is None:
            return
        owner = Path(f"{self._side}{WAL_OWNER_SUFFIX}")
        text = _owner_text(self._side, self._opened)
        with contextlib.suppress(OSError, LocalFault, ConfigError):
            if not owner.is_file() or owner.read_text(encoding="utf-8", errors="replace") != text:
                # no fsync: a record lost to a power cut only skips the check (+10 ms an open)
                atomic_write_bytes(owner, text.encode("utf-8"), durable=False)
            self._owner_written = True

    def _drop_wal_owner(self) -> None:
        """Remove the owner record once SQLite removed the ``-wal`` it was about (the last writer
        closed); kept while a ``-wal`` stays (another writer, or a file replaced meanwhile)."""
        if not self._owner_written:
            return
        self._owner_written = False
        owner = Path(f"{self._side}{WAL_OWNER_SUFFIX}")
        with contextlib.suppress(OSError):
            if not Path(f"{self._side}-wal").exists() and owner.read_text(encoding="utf-8") == _owner_text(
                self._side, self._opened or (0, 0)
            ):
                owner.unlink()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_pages(self, *, full: bool, limit: int | None = None) -> list[str]:
        """SQLite's page checks: [] when the file is sound, else what they found."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            rows = self._db.execute(f"PRAGMA {pragma}" + (f"({int(limit)})" if limit else "")).fetchall()
        except CatalogCorrupt as exc:
            return [exc.detail]
        found = [str(r[0]) for r in rows]
        return [] if found == ["ok"] else found

    def check(self, *, full: bool = True) -> list[str]:
        """The problems SQLite's ``integrity_check`` (``quick_check`` if not ``full``) finds; [] = sound."""
        return self._check_pages(full=full)

    def row_problems(self, limit: int = 20) -> list[str]:
        """Item and asset rows the toolkit cannot read (edited by hand, or written by a newer
        toolkit: see :func:`_item_row`, :func:`_asset`), meta rows that are no JSON and review
        decisions the review module cannot read (:func:`schemas.review_rows.decision_prev`), at
        most ``limit`` of them; [] = every row reads."""
        out: list[str] = []
        for table, read in (("items", _item_row), ("assets", _asset)):
            for r in self._db.execute(f"SELECT * FROM {table} ORDER BY source, source_id"):
                try:
                    read(r, self.path)
                except CatalogError as exc:
                    out.append(exc.message)
                    if len(out) >= limit:
                        return out
        for key, raw in self._db.execute("SELECT key, value FROM meta ORDER BY key"):
            try:
                meta_value(raw, key, str(self.path))
            except CatalogError as exc:
                out.append(exc.message)
                if len(out) >= limit:
                    return out
        decisions = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'review_decisions'"
        if self._db.execute(decisions).fetchone():
            for r in self._db.execute("SELECT * FROM review_decisions ORDER BY id"):
                try:
                    decision_prev(r, str(self.path))
                except CatalogError as exc:
                    out.append(exc.message)
                    if len(out) >= limit:
                        return out
        return out

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Connection]:
        """An immediate (write-locking) transaction, retried while the database is busy.

        Refused on a catalog found damaged; SQLite errors are named (see :class:`_Connection`),
        and a failed commit is rolled back."""
        if self._db.damaged:
            raise CatalogCorrupt(str(self.path), self._db.damaged)
        self._begin()
        try:
            self._check_same_file()
            yield self._db
        except BaseException:
            self._rollback()
            raise
        try:
            self._raw.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._db.translate(exc) from None

    def _check_same_file(self) -> None:
        """:class:`~schemas.errors.LocalFault` ``catalog_gone`` when the catalog file was removed
        or replaced since this handle opened it (its folder deleted mid-run, another file moved
        over it): what SQLite writes through the open handle would land in a file nobody can open
        again, and a run would report work done that no catalog holds. Checked inside each write
        transaction, before anything is written: a run stops early, as on a full disk."""
        if self._opened is None or _file_identity(self._abs_path) == self._opened:
            return
        raise LocalFault(
            "catalog_gone",
            str(self.path),
            "the catalog file was removed or replaced while this process wrote to it; nothing more "
            "is written to it",
            hint=HINTS["catalog_gone"],
        )

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``, waiting up to ``timeout_s`` for another process's write lock in
        short tries (:data:`LOCK_TRY_S` each); says once that it waits (after
        :data:`LOCK_WARN_S`), then gives up with a
        :class:`CatalogLocked` naming the file."""
        start = time.monotonic()
        deadline = start + self.timeout_s
        waited = False
        try:
            while True:
                left = max(deadline - time.monotonic(), 0.0)
                self._raw.execute(f"PRAGMA busy_timeout = {int(min(LOCK_TRY_S, left) * 1000)}")
                try:
                    self._raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise self._db.translate(exc) from None
                if time.monotonic() >= deadline:
                    raise CatalogLocked(
                        f"database stayed locked for {self.timeout_s:g} s",
                        where=str(self.path),
                        hint="another process holds its write lock: a stuck writer, or an sqlite3 "
                        "shell inside a transaction; end it, then rerun the same command",
                    )
                if not waited and time.monotonic() - start >= min(LOCK_WARN_S, self.timeout_s / 2):
                    log.warning(
                        "waiting for the write lock on %s (another process holds it; up to %g s)",
                        self.path,
                        self.timeout_s,
                    )
                    waited = True
                time.sleep(min(0.05, max(deadline - time.monotonic(), 0.0)))
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._raw.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._raw.in_transaction:
                self._raw.execute("ROLLBACK")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        if self.schema_version > len(MIGRATIONS):
            raise CatalogError(
                f"catalog schema version {self.schema_version} is newer than this toolkit "
                f"({len(MIGRATIONS)})",
                where=str(self.path),
                hint="upgrade the toolkit",
            )

    def _tables(self) -> list[str]:
        """The file's own tables (SQLite's internal ``sqlite_*`` ones left out), sorted."""
        rows = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def _refuse_foreign(self) -> None:
        """Refuse a SQLite file no migration wrote (schema 0) that holds tables: another
        application's database, named by its tables, is left as it is (a mistyped ``--catalog``)."""
        if self.schema_version != 0:
            return
        tables = self._tables()
        if tables:
            shown = ", ".join(tables[:8]) + (f", ... ({len(tables)} tables)" if len(tables) > 8 else "")
            raise NotACatalog(
                f"not a catalog mf-collect wrote (tables: {shown})",
                where=str(self.path),
                hint="check --catalog: it names another application's SQLite database, left unchanged",
            )

    def _refuse_older(self) -> None:
        """A read-only open cannot migrate: refuse a catalog at an older schema, saying what upgrades it."""
        version = self.schema_version
        if version == 0:
            raise NotACatalog(
                "not a catalog mf-collect wrote (no tables)",
                where=str(self.path),
                hint="check --catalog: give the catalog mf-collect wrote",
            )
        if version < len(MIGRATIONS):
            raise NotACatalog(
                f"catalog schema version {version} is older than this toolkit ({len(MIGRATIONS)}); "
                "this command reads it only and does not upgrade it",
                where=str(self.path),
                hint=f"upgrade it in place with `mf catalog upgrade --catalog {self.path}` (any command that "
                "writes the catalog does too; an older toolkit cannot open it afterwards), then rerun this one",
            )

    def _migrate(self) -> None:
        """Bring the catalog to this toolkit's schema; one warning when an existing catalog was
        upgraded (the step is one-way: an older toolkit refuses the file afterwards)."""
        self._check_version()
        with self.transaction() as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            self.upgraded_from = version if 0 < version < len(MIGRATIONS) else None
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, sql.split(";")):
                    try:
                        db.execute(statement)
                    except CatalogCorrupt:
                        raise
                    except CatalogError as exc:  # e.g. a table of that name made by something else
                        raise CatalogError(
                            f"cannot upgrade the catalog to schema version {number}: {exc.message}",
                            where=str(self.path),
                            hint="it holds tables this toolkit did not write: check --catalog, or "
                            "restore the catalog from a copy",
                        ) from None
                db.execute(f"PRAGMA user_version = {number}")
        if self.upgraded_from is not None:
            log.warning(
                "%s: catalog upgraded from schema version %d to %d (an older toolkit can no longer open it)",
                self.path,
                self.upgraded_from,
                len(MIGRATIONS),
            )

    # -- items --------------------------------------------------------------------
    def upsert_item(self, item: SourceItem, **state: Any) -> None:
        """Insert or update an item; ``state`` sets columns among :data:`ITEM_COLUMNS`."""
        self.upsert_items([item], **state)

    def upsert_items(self, items: Iterable[SourceItem], **state: Any) -> int:
        """Insert or update many items in one transaction; returns how many were written. An
        item written ``accepted`` is held by the tracklet builder's flags recorded for it
        (:func:`schemas.holds.hold_by_flags`), as every write that accepts an item is."""
        bad = set(state) - set(ITEM_COLUMNS)
        if bad:
            raise CatalogError(f"unknown item columns {sorted(bad)}")
        rows = list(items)
        now = _now()
        cols = ["source", "source_id", "url", "data", "created_at", "updated_at", *state]
        updates = ", ".join(f"{c} = excluded.{c}" for c in ["url", "data", "updated_at", *state])
        sql = (
            f"INSERT INTO items ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT (source, source_id) DO UPDATE SET {updates}"
        )
        vals = [_sql_value(v) for v in state.values()]
        with self.transaction() as db:
            db.executemany(
                sql,
                [
                    (str(it.source), it.source_id, it.url, it.model_dump_json(), now, now, *vals)
                    for it in rows
                ],
            )
            if state.get("status") == Status.ACCEPTED:
                for it in rows:
                    hold_by_flags(db, str(it.source), it.source_id)
        return len(rows)

    def set_item_state(self, source: str, source_id: str, **state: Any) -> None:
        """Update pipeline state columns of one item (status, reason, duplicate_of, ...).

        ``updated_at`` moves only when a value changes, so a rerun that decides the same again
        (``mf clean`` on unchanged input) leaves the item, and the dataset date derived from
        it, as they were. An item written ``accepted`` is held, in the same transaction, by the
        tracklet builder's flags recorded for it unless review accepts made under them lift them
        (:func:`schemas.holds.hold_by_flags`): no writer can let ``mf publish`` have an item
        with flagged videos unreviewed."""
        sql, args = _state_update(state, {})
        with self.transaction() as db:
            cur = db.execute(sql, args(_now(), source, source_id))
            if cur.rowcount == 0:
                raise CatalogError(f"no item {source}/{source_id}", where=str(self.path))
            if state.get("status") == Status.ACCEPTED:
                hold_by_flags(db, str(source), source_id)

    def set_item_states_if(
        self,
        updates: Iterable[tuple[str, str, Mapping[str, Any], Mapping[str, Any]]],
        *,
        then: Callable[[sqlite3.Connection, list[tuple[str, str]]], object] | None = None,
    ) -> list[tuple[str, str]]:
        """Compare-and-set many items in one transaction: each ``(source, source_id, expect,
        state)`` sets ``state`` (as :meth:`set_item_state` does) only while the row's columns
        still hold the values of ``expect``; a writer that decided from a row it read earlier so
        never overwrites what another process wrote meanwhile.

        Returns the ``(source, source_id)`` whose row differed from ``expect`` (or is missing):
        nothing was written for those; read them again and decide anew. An ``updated_at`` in
        ``state`` is written as given, not now (an undo putting a row back as it was).

        Each item written ``accepted`` is held, in the same transaction, by the tracklet builder's
        flags recorded for it (:func:`schemas.holds.hold_by_flags`, as :meth:`set_item_state`
        does): flags recorded while another stage held the item or cleaning excluded it hold it
        once ``mf clean`` accepts it or ``mf publish`` releases its merge hold, and it never goes
        through with flagged videos unreviewed.

        ``then(db, written)`` runs last in the same transaction, with the ``(source, source_id)``
        written: what goes with those rows (``mf publish``'s record of each merge hold it wrote)
        is written with them or not at all, never for a row another process changed meanwhile."""
        now = _now()
        statements = [
            (_state_update(state, expect), source, source_id, state.get("status") == Status.ACCEPTED)
            for source, source_id, expect, state in updates
        ]
        missed, written = [], []
        with self.transaction() as db:
            for (sql, args), source, source_id, accepts in statements:
                if db.execute(sql, args(now, source, source_id)).rowcount == 0:
                    missed.append((str(source), source_id))
                    continue
                written.append((str(source), source_id))
                if accepts:
                    hold_by_flags(db, str(source), source_id)
            if then is not None:
                then(db, written)
        return missed

    def get_item(self, source: str, source_id: str) -> ItemRow | None:
        row = self._db.execute(
            "SELECT * FROM items WHERE source = ? AND source_id = ?", (str(source), source_id)
        ).fetchone()
        return _item_row(row, self.path) if row else None

    def items(self, *, source: str | None = None, status: str | Iterable[str] | None = None) -> list[ItemRow]:
        sql, args = "SELECT * FROM items WHERE 1=1", []
        if source is not None:
            sql += " AND source = ?"
            args.append(str(source))
        if status is not None:
            statuses = [str(status)] if isinstance(status, str) else [str(s) for s in status]
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args.extend(statuses)
        return [_item_row(r, self.path) for r in self._db.execute(sql + " ORDER BY source, source_id", args)]

    def count_items(self, **where: Any) -> int:
        sql = "SELECT COUNT(*) FROM items"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
        return int(self._db.execute(sql, [str(v) for v in where.values()]).fetchone()[0])

    # -- assets -------------------------------------------------------------------
    def upsert_asset(self, asset: MediaAsset) -> None:
        self.upsert_assets([asset])

    def upsert_assets(self, assets: Iterable[MediaAsset]) -> int:
        """Insert or update asset rows by key (source, source id, kind, URL), in one transaction.
        ``updated_at`` moves only when a value changes, as for items (:meth:`set_item_state`):
        a rerun of ``mf clean`` that records the same assets again leaves them as they were."""
        rows = list(assets)
        now = _now()
        cols = ["source", "source_id", "kind", "url", *ASSET_COLUMNS, "created_at", "updated_at"]
        differs = " OR ".join(f"{c} IS NOT excluded.{c}" for c in ASSET_COLUMNS)
        # the CASE sees the row as it was before this UPDATE
        updates = ", ".join(f"{c} = excluded.{c}" for c in ASSET_COLUMNS)
        updates += f", updated_at = CASE WHEN {differs} THEN excluded.updated_at ELSE updated_at END"
        sql = (
            f"INSERT INTO assets ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT (source, source_id, kind, url) DO UPDATE SET {updates}"
        )
        with self.transaction() as db:
            db.executemany(sql, [_asset_values(a, now) for a in rows])
        return len(rows)

    def delete_assets(self, assets: Iterable[MediaAsset]) -> int:
        """Delete the rows of ``assets``, each found by its key (source, source id, kind, URL),
        in one transaction (all or none); their files are the caller's. Returns how many rows
        went (a row already gone is no error)."""
        keys = [(str(a.source), a.source_id, str(a.kind), a.url or "") for a in assets]
        sql = "DELETE FROM assets WHERE source = ? AND source_id = ? AND kind = ? AND url = ?"
        gone = 0
        with self.transaction() as db:
            for key in keys:
                gone += db.execute(sql, key).rowcount
        return gone

    def set_asset_state(
        self, source: str, source_id: str, kind: str, url: str | None = None, **state: Any
    ) -> None:
        """Update state columns of the asset(s) of an item of one kind (and URL, if given);
        ``updated_at`` moves only when a value changes."""
        bad = set(state) - set(ASSET_COLUMNS)
        if bad:
            raise CatalogError(f"unknown asset columns {sorted(bad)}")
        sets = ", ".join(f"{c} = ?" for c in state)
        differs = " OR ".join(f"{c} IS NOT ?" for c in state)  # updated_at moves on a change only
        values = [_sql_value(v) for v in state.values()]
        sql = (
            f"UPDATE assets SET {sets}, updated_at = CASE WHEN {differs} THEN ? ELSE updated_at END "
            "WHERE source = ? AND source_id = ? AND kind = ?"
        )
        args = [*values, *values, _now(), str(source), source_id, str(kind)]
        if url is not None:
            sql += " AND url = ?"
            args.append(url)
        with self.transaction() as db:
            db.execute(sql, args)

    def assets(
        self,
        *,
        source: str | None = None,
        source_id: str | None = None,
        kind: str | AssetKind | None = None,
        status: str | None = None,
    ) -> list[MediaAsset]:
        sql, args = "SELECT * FROM assets WHERE 1=1", []
        for col, val in (("source", source), ("source_id", source_id), ("kind", kind), ("status", status)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(str(val))
        return [
            _asset(r, self.path)
            for r in self._db.execute(sql + " ORDER BY source, source_id, kind, url", args)
        ]

    # -- events -------------------------------------------------------------------
    def log_event(
        self, stage: str, message: str, source: str | None = None, source_id: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (at, stage, source, source_id, message) VALUES (?, ?, ?, ?, ?)",
                (_now(), stage, None if source is None else str(source), source_id, message),
            )

    def events(self, stage: str | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM events", []
        if stage:
            sql, args = sql + " WHERE stage = ?", [stage]
        return [dict(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    # -- settings -----------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        """A JSON value remembered under ``key`` (``None`` when unset)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else meta_value(row[0], key, str(self.path))

    def set_meta(self, key: str, value: Any) -> None:
        """Remember a JSON-serialisable ``value`` under ``key``."""
        with self.transaction() as db:
            put_meta(db, key, value)

    def update_meta(self, key: str, change: Callable[[Any], Any]) -> Any:
        """Replace the value under ``key`` by ``change(value)`` (``value``: ``None`` when unset;
        a new value ``None`` removes the key), read and written under one write transaction, so
        another writer's update meanwhile is never lost; nothing is written when the value stays
        the same. Returns the new value."""
        with self.transaction() as db:
            return change_meta(db, key, change, str(self.path))

    def read(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only query (for modules of ``schemas`` that own a table of their own)."""
        return list(self._db.execute(sql, list(args)))

    def integrity_ok(self) -> bool:
        return not self.check(full=True)

    def status_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status")}

    def given_up_counts(self) -> dict[str, int]:
        """Items a collector gave up (``rejected gave_up:<reason>``) per source, sources without any left out."""
        rows = self._db.execute(
            "SELECT source, COUNT(*) FROM items WHERE status = ? AND substr(reason, 1, ?) = ?"
            " GROUP BY source ORDER BY source",
            (str(Status.REJECTED), len(GAVE_UP_PREFIX), GAVE_UP_PREFIX),
        )
        return {r[0]: r[1] for r in rows}


def _state_update(
    state: Mapping[str, Any], expect: Mapping[str, Any]
) -> tuple[str, Callable[[str, str, str], list[Any]]]:
    """The ``UPDATE`` of an item's state columns (``updated_at`` only when a value changes) on
    the row whose ``expect`` columns hold those values, and its arguments given the time and
    the item's key. An ``updated_at`` in ``state`` is written as given (an undo putting a row
    back as it was, its time too)."""
    state = dict(state)
    at = state.pop("updated_at", None)
    bad = (set(state) | set(expect)) - set(ITEM_COLUMNS)
    if bad or not state:
        raise CatalogError(f"unknown item columns {sorted(bad)}" if bad else "no item column to set")
    sets = ", ".join(f"{c} = ?" for c in state)
    differs = " OR ".join(f"{c} IS NOT ?" for c in state)
    same = "".join(f" AND {c} IS ?" for c in expect)
    values = [_sql_value(v) for v in state.values()]
    expected = [_sql_value(v) for v in expect.values()]
    # the CASE sees the row as it was before this UPDATE
    when = f"CASE WHEN {differs} THEN ? ELSE updated_at END" if at is None else "?"
    sql = f"UPDATE items SET {sets}, updated_at = {when} WHERE source = ? AND source_id = ?{same}"

    def args(now: str, source: str, source_id: str) -> list[Any]:
        time = [*values, now] if at is None else [str(at)]
        return [*values, *time, str(source), source_id, *expected]

    return sql, args


def _sql_value(v: Any) -> Any:
    if v is None or isinstance(v, int | float | str):
        return str(v) if isinstance(v, Status | SourceName) else v
    if hasattr(v, "model_dump_json"):
        return v.model_dump_json()
    return json.dumps(v)


def _asset_values(a: MediaAsset, now: str) -> tuple[Any, ...]:
    return (
        str(a.source),
        a.source_id,
        str(a.kind),
        a.url or "",
        a.path,
        a.sha256,
        a.size,
        a.content_type,
        a.probe.model_dump_json() if a.probe else None,
        a.crop.model_dump_json() if a.crop else None,
        str(a.status),
        a.reason,
        a.duplicate_of,
        now,
        now,
    )


def _item_row(r: sqlite3.Row, path: Path) -> ItemRow:
    """A catalog row as an :class:`ItemRow`; a row edited into something the toolkit never writes
    (item JSON that does not validate, an unknown status, a class that is not a number) raises a
    :class:`CatalogError` naming the item, instead of a traceback in whichever command read it."""
    try:
        if r["df2_class"] is not None and not isinstance(r["df2_class"], int):
            raise ValueError(f"df2_class {r['df2_class']!r} is not a class number")
        if not isinstance(r["attempts"], int):
            raise ValueError(f"attempts {r['attempts']!r} is not a count")
        return ItemRow(
            item=SourceItem.model_validate_json(r["data"]),
            status=Status(r["status"]),
            reason=r["reason"],
            duplicate_of=r["duplicate_of"],
            product_id=r["product_id"],
            partition=r["partition"],
            df2_class=r["df2_class"],
            split=r["split"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            attempts=r["attempts"],
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise CatalogError(
            f"item {r['source']}/{r['source_id']} is not a valid catalog row ({_what(exc, 'data')})",
            where=str(path),
            hint="restore the catalog from a copy, or delete that item and collect it again",
        ) from None


def _what(exc: Exception, column: str) -> str:
    """The first field a row failed on and why (``column``: the field when the error names none)."""
    first = exc.errors()[0] if isinstance(exc, ValidationError) else None
    return f"{'.'.join(str(x) for x in first['loc']) or column}: {first['msg']}" if first else str(exc)


def _json_cell(r: sqlite3.Row, column: str) -> Any:
    """The JSON a column holds (None when empty); malformed JSON raises ValueError naming the column."""
    try:
        return json.loads(r[column]) if r[column] else None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{column}: malformed JSON ({exc})") from None


def _asset(r: sqlite3.Row, path: Path) -> MediaAsset:
    """A catalog row as a :class:`MediaAsset`; a row the toolkit cannot read (probe or crop JSON
    that is malformed or does not validate, an unknown kind or status) raises a
    :class:`CatalogError` naming the asset, as :func:`_item_row` does for items."""
    try:
        return MediaAsset(
            source=r["source"],
            source_id=r["source_id"],
            kind=r["kind"],
            url=r["url"] or None,
            path=r["path"],
            sha256=r["sha256"],
            size=r["size"],
            content_type=r["content_type"],
            probe=_json_cell(r, "probe"),
            crop=_json_cell(r, "crop"),
            status=r["status"],
            reason=r["reason"],
            duplicate_of=r["duplicate_of"],
            updated_at=datetime.fromisoformat(r["updated_at"]),
        )
    except (ValidationError, ValueError, TypeError) as exc:
        raise CatalogError(
            f"asset {r['source']}/{r['source_id']} {r['kind']} {r['url'] or '(no url)'} is not a valid "
            f"catalog row ({_what(exc, 'row')})",
            where=str(path),
            hint="restore the catalog from a copy, or delete that asset and download it again",
        ) from None


#: items a compare-and-set writer puts in one transaction (other writers get the lock in between)
CAS_BATCH = 500
#: tries of a compare-and-set writer on items others keep changing before it gives up
CAS_TRIES = 5

_T = TypeVar("_T")


def write_until_settled(
    catalog: Catalog,
    todo: list[_T],
    attempt: Callable[[list[_T]], list[_T]],
    *,
    name: Callable[[_T], str],
    doing: str,
) -> None:
    """Drive a compare-and-set writer (:meth:`Catalog.set_item_states_if`): ``attempt(todo)``
    writes what it can and returns what is left to decide again (rows changed meanwhile, read
    anew); after :data:`CAS_TRIES` tries with items left, a :class:`CatalogError` names the first
    (``name``) and what the writer was ``doing``."""
    for _ in range(CAS_TRIES):
        todo = attempt(todo)
        if not todo:
            return
    raise CatalogError(
        f"item {name(todo[0])} kept changing while {doing}",
        where=str(catalog.path),
        hint="another process writes it over and over; stop it, then rerun mf clean",
    )
