"""Describe a dataset folder: its tables, datasheet, Croissant metadata, card and manifest.

:func:`describe` writes, from the split files (and ``entries.jsonl`` when present), in this
order: ``pairs/`` and ``boxes/`` (:mod:`movingfashion.archive.tables`), ``datasheet.md`` and the
card ``README.md`` (:mod:`movingfashion.archive.card`), ``croissant.json``
(:mod:`movingfashion.archive.croissant`), and last ``manifest.json``: the SHA-256 of every file
(:func:`movingfashion.archive.verify.dataset_files`), plus what the dataset says about itself
(``dataset``: the :class:`~schemas.dataset.DatasetInfo` and its date) and any extra keys. Files
under a symlinked folder (``videos/`` on another disk) are listed; a file that a symlink takes
out of the folder is not (``mf verify`` reports it, ``mf publish --archive`` refuses it).

Files are rewritten only when their bytes change, everything is sorted, so the same folder gives
the same bytes. :func:`refresh` redoes it for a published folder whose split files changed since
(``mf-tracklets`` merging tracklets), with the dataset description its manifest recorded.

The publication date is ``info.date_published`` when set, else ``SOURCE_DATE_EPOCH`` (the
reproducible-builds convention) when set, else the caller's date of the data, else today (UTC).
A ``SOURCE_DATE_EPOCH`` that is not a whole number of seconds from 1970 to 9999 is refused
(:func:`source_date_epoch`, a :class:`~schemas.errors.ConfigError`), never ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from movingfashion.archive.card import dataset_card, datasheet
from movingfashion.archive.croissant import croissant_metadata
from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR, write_tables
from movingfashion.archive.verify import MANIFEST, dataset_files
from schemas.atomic import sha256_file, write_if_changed
from schemas.dataset import DatasetInfo
from schemas.errors import ConfigError, DataFormatError, validation_text
from schemas.official import SPLIT_FILES
from schemas.text_input import read_json_record

CROISSANT = "croissant.json"
CARD = "README.md"
DATASHEET = "datasheet.md"


SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def source_date_epoch() -> str | None:
    """The ``YYYY-MM-DD`` (UTC) of ``$SOURCE_DATE_EPOCH``, or None when it is unset or empty.

    Anything but a whole number of seconds since 1970-01-01 that gives a date up to year 9999
    (``abc``, ``1e9``, ``-5``, ``99999999999999999``) is a :class:`ConfigError` naming the
    variable: callers check it before they write anything.
    """
    raw = os.environ.get(SOURCE_DATE_EPOCH, "").strip()
    if not raw:
        return None
    problem = None if raw.isascii() and raw.isdigit() else "is not a whole number of seconds"
    if problem is None:
        try:
            return datetime.fromtimestamp(int(raw), UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            problem = "is out of range (a date after year 9999)"
    raise ConfigError(
        f"{raw[:40]!r} {problem}",
        where=SOURCE_DATE_EPOCH,
        hint="set it to the seconds since 1970-01-01 UTC (e.g. $(date +%s)), or unset it",
    )


def resolve_date(explicit: str | None, data_date: str | None = None) -> str:
    """``YYYY-MM-DD``: ``explicit``, else ``SOURCE_DATE_EPOCH``, else ``data_date``, else today (UTC).

    A malformed ``SOURCE_DATE_EPOCH`` is refused (:func:`source_date_epoch`) even when unused.
    """
    epoch = source_date_epoch()
    if explicit:
        return explicit
    if epoch:
        return epoch
    if data_date:
        return data_date[:10]
    return datetime.now(UTC).date().isoformat()


def _reusable(
    base: Path, rel: str, old: Mapping[str, str], again: Collection[str], until: int | None
) -> bool:
    """Whether the hash ``old`` records of file ``rel`` holds still (:func:`write_manifest`'s
    ``reuse``): listed, not among the files changed (``again``), modified before ``until``."""
    if rel not in old or rel in again or until is None:
        return False
    try:
        return (base / rel).stat().st_mtime_ns < until  # one of its own tick: hashed again
    except OSError:
        return False


def write_manifest(
    root: str | os.PathLike[str],
    extra: dict[str, Any] | None = None,
    *,
    reuse: Mapping[str, str] | None = None,
    rehash: Iterable[str] = (),
    reuse_until: int | None = None,
    hashed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``manifest.json``: relative path -> SHA-256 of every file (``files``), plus ``extra`` keys.

    ``reuse``: hashes of the folder's previous manifest, taken for every file it lists that is
    not in ``rehash`` (the files the caller changed) and was not modified after ``reuse_until``
    (the previous manifest's mtime: a file another process changed since, or one written by a
    run killed before its refresh, is hashed again; so is one dated in the manifest's own
    timestamp step, which on a filesystem of 1 s or 2 s steps may have been written after it)
    instead of reading the file again: a review
    pick on a 15K-video folder then hashes a few small files, not every video. ``hashed``: hashes
    the caller computed of files it wrote before, taken as they are (the Croissant metadata's,
    computed moments before: each large file is read once, not twice).
    """
    base = Path(root)
    again = set(rehash)
    old = reuse or {}
    known = hashed or {}
    files = {
        rel: known[rel]
        if rel in known
        else old[rel]
        if _reusable(base, rel, old, again, reuse_until)
        else sha256_file(base / rel)
        for rel in dataset_files(base)
    }
    doc = {**(extra or {}), "files": files}
    write_if_changed(base / MANIFEST, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())
    return files


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a folder as a dict, or None when it has none (or an unreadable one)."""
    # not UTF-8 or JSON, a 5000-digit number, nested too deeply: None
    doc = read_json_record(Path(root) / MANIFEST, utf8_only=True)
    return doc if isinstance(doc, dict) else None


def described(root: str | os.PathLike[str]) -> bool:
    """Whether this toolkit described the folder (``mf publish``, ``mf world export-gt``): its
    ``manifest.json`` records a ``dataset`` description. The split files of such a folder take
    their tracklets from its tracklet files; those of another folder (the official archive as
    downloaded, a folder made by hand) are the only home of theirs."""
    doc = read_manifest(root)
    return doc is not None and isinstance(doc.get("dataset"), dict)


def describe(
    root: str | os.PathLike[str],
    info: DatasetInfo | None = None,
    *,
    data_date: str | None = None,
    manifest_extra: dict[str, Any] | None = None,
    changed: Iterable[str] | None = None,
    videos: Collection[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Write the tables, datasheet, card, Croissant metadata and manifest of a dataset folder.

    ``info`` defaults to :class:`DatasetInfo` defaults; ``data_date`` is the date of the data
    (used when neither ``info.date_published`` nor ``SOURCE_DATE_EPOCH`` says otherwise).
    ``changed``: the files (relative paths) changed since the last manifest, when the caller
    knows them; the manifest then hashes only those, the files at the top of the folder (split
    files, ``entries.jsonl``, the card...) and the tables, and keeps the recorded hash of every
    other file (None: hash every file). ``videos``: the (product id, video path) pairs whose
    split-file boxes alone changed since the folder was described, when the caller checked before
    its write that the tables were current (:func:`tables_current`): only their rows of the box
    tables are rewritten (:func:`~movingfashion.archive.tables.write_tables`). Returns
    ``{"date_published", "files"}`` (the manifest's file count).
    """
    base = Path(root)
    info = info or DatasetInfo()
    date = resolve_date(info.date_published, data_date)
    tables, table_files = write_tables(base, videos)
    sheet = datasheet(tables)
    write_if_changed(base / DATASHEET, sheet.encode())
    write_if_changed(base / CARD, dataset_card(info, tables, date, sheet).encode())
    reuse = rehash = until = None
    if changed is not None:
        previous = read_manifest(base)
        reuse = previous.get("files") if previous is not None else None
        top = [p.name for p in base.iterdir() if p.is_file()]
        rehash = {*changed, *table_files, *top, CROISSANT}
        until = (base / MANIFEST).stat().st_mtime_ns if previous is not None else None
    if not isinstance(reuse, dict):
        reuse = None
    # the SHA-256 of the files the Croissant metadata lists, computed once for it and the manifest;
    # a table left as it was keeps the one the manifest recorded
    hashed = {
        rel: reuse[rel]
        for rel in reuse or ()
        if rel.split("/", 1)[0] in (PAIRS_DIR, BOXES_DIR) and _reusable(base, rel, reuse, rehash or (), until)
    }
    doc = croissant_metadata(base, info, tables, date, hashes=hashed)
    write_if_changed(base / CROISSANT, (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode())
    extra = {**(manifest_extra or {}), "dataset": {**info.model_dump(mode="json"), "date_published": date}}
    files = write_manifest(base, extra, reuse=reuse, rehash=rehash or (), reuse_until=until, hashed=hashed)
    return {"date_published": date, "files": len(files)}


def refresh(
    root: str | os.PathLike[str],
    changed: Iterable[str] | None = None,
    videos: Collection[tuple[str, str]] | None = None,
) -> bool:
    """Describe a published folder again (after its split files changed), keeping its description.

    Only a folder whose ``manifest.json`` records a ``dataset`` description (written by
    :func:`describe`) is touched; returns whether it was. ``changed``: the files the caller
    changed (relative paths; see :func:`describe`), None: every file is hashed again;
    ``videos``: as for :func:`describe` (the box rows of those videos alone rewritten).
    """
    doc = read_manifest(root)
    if doc is None or not isinstance(doc.get("files"), dict):
        return False
    info = recorded_info(root, doc)
    if info is None:
        return False
    extra = {k: v for k, v in doc.items() if k not in ("files", "dataset")}
    describe(root, info, manifest_extra=extra, changed=changed, videos=videos)
    return True


def tables_current(root: str | os.PathLike[str]) -> bool:
    """Whether a published folder's box tables are surely those of its split files as they are
    now: its manifest records a dataset description and lists every split file present and its
    ``boxes/<split>.jsonl``, and none of them was modified since the manifest was written (before
    it, by the clock of the manifest's own reuse of a hash: :func:`write_manifest`). A caller
    that changes only some videos' boxes asks it before its first write, and when it holds gives
    :func:`refresh` those ``videos``: then only their rows are rewritten."""
    base = Path(root)
    doc = read_manifest(base)
    if doc is None or not isinstance(doc.get("files"), dict) or not isinstance(doc.get("dataset"), dict):
        return False
    names = [n for n in SPLIT_FILES if (base / n).is_file()]
    rels = [*names, *(f"{BOXES_DIR}/{Path(n).stem}.jsonl" for n in names)]
    try:
        until = (base / MANIFEST).stat().st_mtime_ns
        return bool(names) and all(
            rel in doc["files"] and (base / rel).stat().st_mtime_ns < until for rel in rels
        )
    except OSError:
        return False


def recorded_info(root: str | os.PathLike[str], doc: Mapping[str, Any] | None = None) -> DatasetInfo | None:
    """The dataset description a folder's ``manifest.json`` records (``doc``: the manifest, when
    read already), or None when it records none; a malformed one is a :class:`DataFormatError`."""
    doc = read_manifest(root) if doc is None else doc
    if doc is None or not isinstance(doc.get("dataset"), dict):
        return None
    try:
        return DatasetInfo.model_validate(doc["dataset"])
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in ("dataset", *err["loc"]))
        raise DataFormatError(
            f"field {field!r}: {validation_text(err)}",
            where=str(Path(root) / MANIFEST),
            hint="fix the config's dataset: section and rerun mf publish --config",
        ) from None
