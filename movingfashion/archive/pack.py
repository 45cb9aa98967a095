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
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from movingfashion.archive.verify import ESCAPE_FIX, MANIFEST, list_dataset
from schemas.atomic import atomic_open, atomic_write_text, sha256_file, sweep_partials
from schemas.errors import DataFormatError

EPOCH = (1980, 1, 1, 0, 0, 0)
#: Suffixes stored as they are (compressed formats); everything else is deflated.
STORED = frozenset({".mp4", ".jpg", ".jpeg", ".png", ".zip", ".npy"})


def pack_dataset(root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Zip ``root`` into ``out`` (default ``<root>.zip`` beside it, ``../<folder>.zip`` for ``.``)
    and write ``<out>.sha256``.

    Returns the zip's path and SHA-256. Raises :class:`DataFormatError` when a file of the folder
    is a symlink leaving it (see the module docstring).
    """
    base = Path(root)
    top = base.resolve().name  # ``.`` and ``..`` name the folder they stand for
    if out is None and not top:
        raise DataFormatError(
            "the file-system root has no name to give its zip",
            where=str(base),
            hint="pack a dataset folder, or name the zip",
        )
    near = base if base.name not in ("", "..") else base.resolve()
    target = Path(out) if out is not None else near.with_name(top + ".zip")
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
        for rel in files:
            src = base / rel
            info = zipfile.ZipInfo(f"{top}/{rel}", date_time=EPOCH)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED if src.suffix.lower() in STORED else zipfile.ZIP_DEFLATED
            info.file_size = src.stat().st_size
            with open(src, "rb") as fin, zf.open(info, "w") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
    digest = sha256_file(target)
    atomic_write_text(target.with_name(target.name + ".sha256"), f"{digest}  {target.name}\n")
    return target, digest
