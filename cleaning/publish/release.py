"""Closing a publish: the description the folder is published with (:func:`dataset_info`), the
files its manifest must hash again, the closing verify and zip (:func:`_verify_and_pack`), a
stale zip beside it, and the note when the split files changed under one version."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cleaning.publish.layout import DATASET_WRITERS
from cleaning.publish.publisher import _Publisher
from movingfashion.archive.at_rest import DATASET_LOCK
from movingfashion.archive.describe import read_manifest, recorded_info
from movingfashion.archive.tables import BOXES_DIR, PAIRS_DIR
from movingfashion.archive.verify import MANIFEST, VerifyReport, verify_dataset
from schemas.atomic import file_lock, sha256_file
from schemas.dataset import DatasetInfo
from schemas.redact import redacted_logger

log = redacted_logger("cleaning.publish")  # the package's one logger: what users' logs name


#: the files whose change makes another release of the dataset (its pairs and splits)
RELEASE_FILES = ("train.json", "test.json")


def same_version(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> str | None:
    """A note when this publish changed the split files of a folder published before but its
    description kept the version (and date) recorded then: two different datasets would carry
    one version in ``croissant.json`` (``mf publish`` prints it as ``release: ...``); None when
    nothing is to say."""
    if not before or not after or not isinstance(before.get("dataset"), dict):
        return None
    old, new = before["dataset"], after.get("dataset") or {}
    files_before, files_after = before.get("files") or {}, after.get("files") or {}
    if all(files_before.get(f) == files_after.get(f) for f in RELEASE_FILES):
        return None
    if old.get("version") != new.get("version"):
        return None
    note = (
        f"the split files changed but the dataset keeps version {new.get('version')!r}"
        + (f" ({new['date_published']})" if new.get("date_published") else "")
        + ": give dataset.version (and date_published) in mf publish --config for a new release"
    )
    return note


#: the folders of files that describe the dataset (not media) besides its top-level files
DESCRIPTION_DIRS = ("plots", PAIRS_DIR, BOXES_DIR)


def _description_stamps(out: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, size, mtime) of every file describing the dataset: the top-level files, plots and
    tables (media and tracklet files are counted apart). Unchanged content is never rewritten
    (:func:`schemas.atomic.write_if_changed`), and a rewrite replaces the file (a new inode)."""
    stamps: dict[str, tuple[int, int, int]] = {}
    for folder in (out, *(out / d for d in DESCRIPTION_DIRS)):
        with contextlib.suppress(OSError):
            for f in folder.iterdir():
                if f.is_file() and not f.name.startswith("."):
                    st = f.stat()
                    stamps[f.relative_to(out).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return stamps


def _written_since(out: Path, before: Mapping[str, tuple[int, int, int]]) -> list[str]:
    """The files describing the dataset that this run wrote (new or rewritten), by relative path:
    what ``written`` (media only) does not count, e.g. ``entries.jsonl`` in a newer format."""
    now = _description_stamps(out)
    return sorted(k for k, v in now.items() if before.get(k) != v)


def dataset_info(out: Path, info: DatasetInfo | None) -> DatasetInfo | None:
    """The description to publish ``out`` with: the one its manifest recorded with the fields
    ``info`` sets (a config's ``dataset:`` section naming only ``version`` changes only that),
    else ``info``, else the recorded one (None: the defaults). A recorded field changed is said
    once on stderr, naming the fields (a ``date_published`` left empty is not a change: it is
    derived again)."""
    recorded = recorded_info(out)
    if info is None or recorded is None:
        return info or recorded
    given = {k: getattr(info, k) for k in info.model_fields_set}
    info = recorded.model_copy(update=given)
    new, old = info.model_dump(mode="json"), recorded.model_dump(mode="json")
    changed = [k for k in new if new[k] != old.get(k) and not (k == "date_published" and new[k] is None)]
    if changed:
        log.warning(
            "%s: the config's dataset: section changes the recorded description (%s)",
            out / MANIFEST,
            ", ".join(changed),
        )
    return info


def _verify_and_pack(
    out: Path, *, workers: int | None, archive: bool
) -> tuple[VerifyReport, tuple[Path, str, bool] | None]:
    """The closing :func:`verify_dataset` of ``out`` and, with ``archive`` when it verifies, its
    zip (path, SHA-256, whether it was written: the zip already there is kept when it holds the
    state verified, :func:`~movingfashion.archive.pack.packed_already`). Outside the dataset's
    lock first; when the verify breaks, or the zip would mix two states of the folder or not be
    the one verified (:class:`~movingfashion.archive.pack.MixedArchive`: a writer changed it
    meanwhile), once more under the lock, where no writer runs."""
    from movingfashion.archive.pack import MixedArchive, pack_dataset, packed_already

    def attempt() -> tuple[VerifyReport, tuple[Path, str, bool] | None]:
        verified = sha256_file(out / MANIFEST) if archive else None  # the zip holds the state verified
        report = verify_dataset(out, workers=workers, trust_manifest=True, reuse_decoded=True)
        if not (archive and report.ok and verified):
            return report, None
        if kept := packed_already(out, verified):
            return report, (*kept, False)
        return report, (*pack_dataset(out, check_manifest=True, manifest_sha256=verified), True)

    with contextlib.suppress(MixedArchive):
        report, packed = attempt()
        if report.ok:
            return report, packed
    with file_lock(out / DATASET_LOCK, who=DATASET_WRITERS):
        return attempt()


#: what to do with a zip beside the dataset that no longer holds it
STALE_ARCHIVE_FIX = "`mf publish --archive` writes it again; or remove it and its .sha256"


def _stale_archive(out: Path) -> Path | None:
    """The zip of an earlier ``mf publish --archive`` beside ``out`` when it no longer holds the
    folder just published (:func:`~movingfashion.archive.pack.stale_archive`), with one warning
    naming it: a publish without ``--archive`` leaves it as it is, so nobody ships it unawares."""
    from movingfashion.archive.pack import stale_archive

    stale = stale_archive(out)
    if stale is not None:
        log.warning(
            "%s beside the dataset is from an earlier publish and does not hold this folder: %s",
            stale,
            STALE_ARCHIVE_FIX,
        )
    return stale


def _changed(out: Path, pub: _Publisher) -> set[str]:
    """The files of ``out`` whose manifest hash :func:`describe` must not take from the last
    manifest (besides those newer than it, the top-level files and the tables it hashes anyway):
    the media this run wrote (dated back to its start), those a killed run journaled, and those
    whose record disagrees with the manifest (the plots drawn by this run are added by the caller)."""
    listed = (read_manifest(out) or {}).get("files")
    listed = listed if isinstance(listed, dict) else {}
    differ = {rel for rel, rec in pub.new_state.items() if listed.get(rel) != rec.get("out")}
    journaled = pub.recorded - set(pub.state)
    return pub.written | journaled | differ
