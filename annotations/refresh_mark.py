"""The dataset's *refresh pending* mark, ``DATASET/.tracklets-refresh-pending`` (hidden: no
manifest, table or archive lists it).

A command that rewrites tracklet or split files of a published folder (``mf-tracklets build``,
``mf-tracklets import``, a review pick or its undo) sets the mark before its first write and
clears it after :func:`movingfashion.archive.describe.refresh` has described the folder again.
Killed in between, it leaves the mark: the rerun (or the review server's start-up reconcile)
finds its files already written, but the mark makes it refresh the whole folder (every file
hashed again), so it ends as an uninterrupted run would.

The mark's lines name who set it (:data:`BY_BUILD`, :data:`BY_IMPORT`, :data:`BY_PICK`); an
empty mark is the builder's. A refresh settles what an import or a pick left pending, not what a
build did (the builder also settles flags and merges the split files again on its rerun), so
:func:`refresh_if_pending` leaves the builder's line in place. The mark is changed under the
dataset's lock (:func:`annotations.tracklet_files.dataset_lock`, re-entrant).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from annotations.tracklet_files import dataset_lock
from movingfashion.archive.at_rest import REFRESH_MARK
from schemas.atomic import atomic_write_text
from schemas.faults import local_faults

#: the mark's file name, in the dataset folder (``mf verify`` reads it)
REFRESH_PENDING = REFRESH_MARK
#: who set a mark: ``mf-tracklets build`` (its rerun also settles flags and merges split files)
BY_BUILD = "build"
#: ... ``mf-tracklets import``
BY_IMPORT = "import"
#: ... a review pick, its undo, or the review server's reconcile
BY_PICK = "pick"


def mark_path(dataset: str | os.PathLike[str]) -> Path:
    """Where the dataset's refresh-pending mark lies."""
    return Path(dataset) / REFRESH_PENDING


def pending_by(dataset: str | os.PathLike[str]) -> set[str]:
    """Who left the mark unfinished (empty set: no mark; an empty mark is the builder's)."""
    path = mark_path(dataset)
    try:
        with local_faults(path):
            text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()} or {BY_BUILD}


def set_pending(dataset: str | os.PathLike[str], by: str) -> None:
    """Set the mark for ``by`` (before the first write of a refresh's worth of files)."""
    with dataset_lock(dataset):
        held = pending_by(dataset)
        if by not in held:
            _write(dataset, held | {by})


def clear_pending(dataset: str | os.PathLike[str], by: Iterable[str] | str | None = None) -> None:
    """Clear ``by``'s line (or lines; None: every line) of the mark, and the mark once empty
    (after the refresh)."""
    with dataset_lock(dataset):
        held = pending_by(dataset)
        left = set() if by is None else held - ({by} if isinstance(by, str) else set(by))
        if left != held:
            _write(dataset, left)


def refresh_if_pending(dataset: str | os.PathLike[str]) -> bool:
    """When a killed run left the mark, refresh the whole folder and clear what that settles
    (every line but the builder's); returns whether it refreshed."""
    held = pending_by(dataset)
    if not held:
        return False
    from movingfashion.archive.describe import refresh

    refresh(dataset)  # what changed is not known: every file is hashed again
    clear_pending(dataset, held - {BY_BUILD})
    return True


def _write(dataset: str | os.PathLike[str], by: set[str]) -> None:
    """The mark holding ``by`` (none: no mark)."""
    path = mark_path(dataset)
    with local_faults(path):
        if by:
            atomic_write_text(path, "".join(f"{b}\n" for b in sorted(by)))
        else:
            path.unlink(missing_ok=True)
