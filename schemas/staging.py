"""A set of files swapped into a folder together: written first into a staging folder inside it,
moved in only once every file is whole.

A command that writes several files meant to be read together (``mf report``: tables, plots and
``report.md`` linking them) and is killed half-way would otherwise leave some new files beside an
older set's. :func:`staged_set` writes into ``<out>/.<name>.<host>-<pid>.<random>.part/``; at the
end the set's ``last`` file (the one that presents the set) is removed from ``out``, every other
file is moved in (one rename each: the staging folder is in ``out``, so on its file system), and
``last`` is moved in last. A kill before the swap leaves ``out`` as it was; a kill during it
leaves ``out`` without ``last`` (no mixed set is presented). A file of ``out`` the set does not
hold is never touched. A staging folder an exception leaves is removed; one a killed process of
this host left is removed by the next :func:`staged_set` on ``out`` (:func:`sweep_stages`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from schemas.atomic import _fsync_dir, left_by_dead_writer
from schemas.partials import partial_prefix


def sweep_stages(out: str | os.PathLike[str], name: str) -> int:
    """Remove the staging folders of ``name`` that killed processes of this host left in ``out``
    (those of live processes and of other hosts stay); returns how many went."""
    removed = 0
    folder = Path(out)
    if not folder.is_dir():
        return 0
    for p in folder.glob(f".{name}.*.part"):
        m = left_by_dead_writer(p)
        if m is None or m["name"] != name:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
    return removed


def swap_in(stage: Path, out: Path, last: str) -> list[str]:
    """Move every file of ``stage`` into ``out``, ``last`` removed from ``out`` first and moved in
    last; returns the names moved. ``stage`` is removed once empty."""
    names = sorted(p.name for p in stage.iterdir() if p.is_file())
    (out / last).unlink(missing_ok=True)
    _fsync_dir(out)
    for n in names:
        if n != last:
            os.replace(stage / n, out / n)
    _fsync_dir(out)
    if last in names:
        os.replace(stage / last, out / last)
        _fsync_dir(out)
    stage.rmdir()
    return names


@contextlib.contextmanager
def staged_set(out: str | os.PathLike[str], last: str, name: str = "stage") -> Iterator[Path]:
    """Yield a staging folder in ``out`` (made if missing) to write a set of files into; when the
    block ends without an exception they are swapped into ``out`` (:func:`swap_in`), else the
    staging folder is removed and ``out`` stays as it was (without ``last`` when the swap itself
    failed)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stages(folder, name)
    stage = Path(tempfile.mkdtemp(prefix=partial_prefix(name), suffix=".part", dir=folder))
    try:
        yield stage
        swap_in(stage, folder, last)
    finally:  # an exception, in the block or the swap: nothing of the set stays half-way
        shutil.rmtree(stage, ignore_errors=True)
