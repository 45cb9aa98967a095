"""A deterministic zip of a dataset folder and its SHA-256 (``mf publish --archive``).

Entries are the folder's files (:func:`movingfashion.archive.verify.dataset_files` plus
``manifest.json``; hidden publish state left out) sorted by path under one top folder named like
the dataset folder, each stamped 1980-01-01 00:00:00 (the zip epoch) with mode 0644 and a Unix
creator. Media (already compressed) are stored, text and JSON deflated. The same folder gives the
same bytes. Beside the zip, ``<name>.zip.sha256`` holds ``<sha256>  <name>.zip`` (the ``sha256sum``
format, so ``sha256sum -c`` checks it).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from movingfashion.archive.verify import MANIFEST, dataset_files
from schemas.atomic import atomic_open, atomic_write_text, sha256_file

EPOCH = (1980, 1, 1, 0, 0, 0)
#: Suffixes stored as they are (compressed formats); everything else is deflated.
STORED = frozenset({".mp4", ".jpg", ".jpeg", ".png", ".zip", ".npy"})


def pack_dataset(root: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Zip ``root`` into ``out`` (default ``<root>.zip`` beside it) and write ``<out>.sha256``.

    Returns the zip's path and SHA-256.
    """
    base = Path(root)
    target = Path(out) if out is not None else base.with_name(base.name + ".zip")
    top = base.resolve().name
    files = sorted(set(dataset_files(base)) | ({MANIFEST} if (base / MANIFEST).is_file() else set()))
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
