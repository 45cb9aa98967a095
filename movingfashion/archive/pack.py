"""A deterministic zip of a dataset folder and its SHA-256 (``mf publish --archive``).

Entries are the folder's files (:func:`movingfashion.archive.verify.dataset_files` plus
``manifest.json``; hidden publish state left out) sorted by path under one top folder named like
the dataset folder, each stamped 1980-01-01 00:00:00 (the zip epoch) with mode 0644 and a Unix
creator. Media (already compressed) are stored, text and JSON deflated. The same folder gives the
same bytes. Beside the zip, ``<name>.zip.sha256`` holds ``<sha256>  <name>.zip`` (the ``sha256sum``
format, so ``sha256sum -c`` checks it).

Files under a symlinked folder (``videos/`` on another disk) are packed as the files they link
to; a file that a symlink takes out of the folder is refused (:class:`DataFormatError` naming it,
before anything is written): a private file linked in by mistake is never published.

The zip is written atomically (a hidden ``.part`` file renamed into place); the half-written zip
of a killed pack, beside the target, is removed by the next pack (:func:`schemas.atomic.sweep_partials`).

With ``check_manifest`` (``mf publish --archive``) the zip is kept only when every file in it holds
the SHA-256 its zipped ``manifest.json`` lists, and the manifest lists no other file: a writer that
changed the folder while it was zipped (a review pick rewrites a tracklet file, ``train.json`` and
the manifest) would leave a mix of two states of the folder that does not verify. With
``manifest_sha256`` too, the zipped manifest must be that one (the caller verified the folder it
describes). :class:`MixedArchive` then says which files differ, and nothing is written.

A rerun with nothing changed packs nothing: :func:`packed_already` finds the zip beside the folder
that its ``.sha256`` names, holding the very ``manifest.json`` just verified and exactly the files
it lists (the same folder gives the same bytes), and ``mf publish --archive`` keeps it as it is.
The ``.sha256`` file is written only when its text changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import IO

from movingfashion.archive.verify import ESCAPE_FIX, MANIFEST, list_dataset
from schemas.atomic import atomic_open, sha256_file, sweep_partials, write_if_changed
from schemas.errors import DataFormatError

EPOCH = (1980, 1, 1, 0, 0, 0)
#: Suffixes stored as they are (compressed formats); everything else is deflated.
STORED = frozenset({".mp4", ".jpg", ".jpeg", ".png", ".zip", ".npy"})


class MixedArchive(DataFormatError):
    """The files zipped are not all what the zipped ``manifest.json`` lists: the folder changed
    while it was zipped (see the module docstring); no zip was written."""


class _Hashing:
    """A writable stream passing every byte on to ``sink`` while hashing it (SHA-256); with
    ``keep`` it keeps them too."""

    def __init__(self, sink: IO[bytes], *, keep: bool = False) -> None:
        self.sink, self.sha = sink, hashlib.sha256()
        self.kept: bytearray | None = bytearray() if keep else None

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        if self.kept is not None:
            self.kept += data
        return self.sink.write(data)


def pack_dataset(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    check_manifest: bool = False,
    manifest_sha256: str | None = None,
) -> tuple[Path, str]:
    """Zip ``root`` into ``out`` (default ``<root>.zip`` beside it, ``../<folder>.zip`` for ``.``)
    and write ``<out>.sha256``.

    Returns the zip's path and SHA-256. Raises :class:`DataFormatError` when a file of the folder
    is a symlink leaving it, and with ``check_manifest`` :class:`MixedArchive` when the files
    zipped do not match the zipped manifest (see the module docstring); nothing is written then.
    """
    base = Path(root)
    top = base.resolve().name  # ``.`` and ``..`` name the folder they stand for
    target = Path(out) if out is not None else archive_path(base)
    sweep_partials(target.parent)  # a killed pack's half-written zip (up to the dataset's size)
    listing = list_dataset(base)
    if listing.escapes:
        rel, real = sorted(listing.escapes.items())[0]
        more = f" (and {len(listing.escapes) - 1} more)" if len(listing.escapes) > 1 else ""
        raise DataFormatError(
            f"'{rel}' is a link to '{real}', outside the dataset folder{more}: not packed",
            where=str(base),
            hint=ESCAPE_FIX,
        )
    files = sorted(set(listing.files) | ({MANIFEST} if (base / MANIFEST).is_file() else set()))
    with atomic_open(target, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
        zipped = {rel: _store_listed(zf, base, rel, top) for rel in files}
        if check_manifest:  # raised inside the block: the half-written zip is removed
            _check_manifest(base, zipped, manifest_sha256)
    digest = sha256_file(target)
    write_if_changed(_sums_path(target), f"{digest}  {target.name}\n".encode())
    return target, digest


def archive_path(root: str | os.PathLike[str]) -> Path:
    """Where :func:`pack_dataset` puts the zip of ``root`` by default: ``<root>.zip`` beside it
    (``../<folder>.zip`` for ``.``); :class:`DataFormatError` for the file-system root."""
    base = Path(root)
    top = base.resolve().name
    if not top:
        raise DataFormatError(
            "the file-system root has no name to give its zip",
            where=str(base),
            hint="pack a dataset folder, or name the zip",
        )
    near = base if base.name not in ("", "..") else base.resolve()
    return near.with_name(top + ".zip")


def _sums_path(target: Path) -> Path:
    """``<name>.zip.sha256`` beside the zip ``target``."""
    return target.with_name(target.name + ".sha256")


def packed_already(root: str | os.PathLike[str], manifest_sha256: str) -> tuple[Path, str] | None:
    """The zip of ``root`` already beside it (:func:`archive_path`), path and SHA-256, when it is
    the one :func:`pack_dataset` would write now: its ``.sha256`` names it with its SHA-256, its
    ``manifest.json`` is the folder's whose SHA-256 is ``manifest_sha256`` (the one the caller
    verified) and it holds exactly the files that manifest lists. None otherwise (pack it)."""
    target = archive_path(root)
    try:
        recorded = _sums_path(target).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(recorded) != 2 or recorded[1] != target.name or not target.is_file():
        return None
    top = Path(root).resolve().name
    try:
        with zipfile.ZipFile(target) as zf:
            names = zf.namelist()
            manifest = zf.read(f"{top}/{MANIFEST}")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if hashlib.sha256(manifest).hexdigest() != manifest_sha256:
        return None
    try:
        listed = json.loads(manifest).get("files")
    except (ValueError, AttributeError):
        return None
    if not isinstance(listed, dict) or sorted(names) != sorted(f"{top}/{rel}" for rel in [*listed, MANIFEST]):
        return None
    digest = sha256_file(target)  # read, never written: the zip is what its .sha256 names
    return (target, digest) if digest == recorded[0] else None


def stale_archive(root: str | os.PathLike[str]) -> Path | None:
    """The zip beside ``root`` (:func:`archive_path`) when it no longer holds the folder: its
    ``manifest.json`` is not the folder's, or its directory or that member cannot be read. Reads
    the zip's directory and that one member, never the whole zip, so damage elsewhere in a zip
    holding the folder's manifest is not seen here (``mf publish --archive`` checks the whole zip
    against its ``.sha256``). None when there is no zip there, or it holds the folder's manifest."""
    try:
        target = archive_path(root)
    except DataFormatError:
        return None
    if not target.is_file():
        return None
    here = Path(root) / MANIFEST
    top = Path(root).resolve().name
    try:
        with zipfile.ZipFile(target) as zf:
            zipped = zf.read(f"{top}/{MANIFEST}")
        return None if here.is_file() and zipped == here.read_bytes() else target
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return target


def _store_listed(zf: zipfile.ZipFile, base: Path, rel: str, top: str) -> _Hashing:
    """:func:`_store` of the listed file ``rel``; one removed since it was listed (a writer, a
    user deleting it) is :class:`MixedArchive` naming it, raised inside the zip's block so the
    half-written zip goes (was: a FileNotFoundError traceback)."""
    try:
        return _store(zf, base / rel, f"{top}/{rel}", keep=rel == MANIFEST)
    except FileNotFoundError:
        if (base / rel).exists():
            raise
        raise MixedArchive(
            f"'{rel}' was removed while the folder was zipped: not written",
            where=str(base),
            hint="run mf verify on the folder, then pack it again once nothing else writes it "
            "(mf publish --archive does so under the dataset's lock)",
        ) from None


def _store(zf: zipfile.ZipFile, src: Path, name: str, *, keep: bool) -> _Hashing:
    """Add ``src`` to ``zf`` as ``name``; returns what was stored, hashed (and kept with ``keep``)."""
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED if src.suffix.lower() in STORED else zipfile.ZIP_DEFLATED
    info.file_size = src.stat().st_size
    with open(src, "rb") as fin, zf.open(info, "w") as fout:
        stored = _Hashing(fout, keep=keep)
        shutil.copyfileobj(fin, stored, 1 << 20)
    return stored


def _check_manifest(base: Path, zipped: dict[str, _Hashing], expected: str | None) -> None:
    """Raise :class:`MixedArchive` unless the zipped files are exactly those the zipped
    manifest lists, each with the SHA-256 it lists, and the manifest's own is ``expected`` (when
    given); a folder without a manifest: nothing to check."""
    if MANIFEST not in zipped:
        return
    if expected is not None and zipped[MANIFEST].sha.hexdigest() != expected:
        raise MixedArchive(
            f"{MANIFEST} changed while the folder was zipped: not written",
            where=str(base),
            hint="pack it again once nothing else writes the folder",
        )
    try:
        listed = json.loads(bytes(zipped[MANIFEST].kept or b"")).get("files")
    except (ValueError, AttributeError):
        listed = None
    listed = listed if isinstance(listed, dict) else {}
    hashes = {rel: h.sha.hexdigest() for rel, h in zipped.items() if rel != MANIFEST}
    differ = sorted(rel for rel in set(hashes) | set(listed) if hashes.get(rel) != listed.get(rel))
    if differ:
        more = f" (and {len(differ) - 1} more)" if len(differ) > 1 else ""
        raise MixedArchive(
            f"'{differ[0]}'{more} is not what the zipped {MANIFEST} lists (it changed while the "
            "folder was zipped?): the zip would not verify; not written",
            where=str(base),
            hint="run mf verify on the folder, then pack it again once nothing else writes it "
            "(mf publish --archive does so under the dataset's lock)",
        )
