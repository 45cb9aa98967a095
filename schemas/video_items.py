"""Which catalog item each video of a published product came from: ``metadata.video_items`` of
``entries.jsonl``, the one home of that mapping.

``mf publish`` (:mod:`cleaning.publish.entries`) writes, per video of a product, the source id of
the item it came from: a product published from several items (an item that joined a product
with its shop image) lists their videos, so video ``i`` of product ``P`` may be another item's.
The tracklet builder records a flag on the item that owns the flagged video
(:func:`annotations.settle.settle_flags`), and ``mf-tracklets qa`` and the world scorer line
videos up with a reference by it (:func:`annotations.qa.reference_boxes`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from schemas.dataset import read_entry_rows

#: key of ``metadata`` in ``entries.jsonl``: per video of the product, the source id of its item
VIDEO_ITEMS = "video_items"


def video_items(dataset: str | os.PathLike[str]) -> dict[str, list[str]]:
    """Product id -> per video the source item (its source id) it came from, from
    ``metadata.video_items`` of ``entries.jsonl`` (a product published from several items lists
    their videos); empty when the dataset has none."""
    path = Path(dataset) / "entries.jsonl"
    if not path.is_file():
        return {}
    out = {}
    for pid, row in read_entry_rows(path).items():
        items = (row.get("metadata") or {}).get(VIDEO_ITEMS)
        if isinstance(items, list) and all(isinstance(x, str) for x in items):
            out[pid] = items
    return out


#: what tells one ``entries.jsonl`` from another without reading it: (size, mtime_ns, inode)
Stamp = tuple[int, int, int]


class VideoItemsCache:
    """:func:`video_items` of one dataset, read again only when ``entries.jsonl`` changed: its
    stamp (size, mtime_ns, inode; a publish replaces the file atomically, a new inode) differs
    from the one read. The review page asks it per decision; a large dataset's file is read once
    per publish, not per decision. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Path, Stamp | None] | None = None
        self._items: dict[str, list[str]] = {}

    def get(self, dataset: str | os.PathLike[str]) -> dict[str, list[str]]:
        """:func:`video_items` of ``dataset`` (the cached mapping when the file is unchanged: do
        not modify it)."""
        path = Path(dataset) / "entries.jsonl"
        try:
            st = path.stat()
            stamp: Stamp | None = (st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if self._key != (path, stamp):
                self._items = video_items(dataset) if stamp is not None else {}
                self._key = (path, stamp)
            return self._items


def item_video(items: Sequence[str] | None, pid: str, i: int) -> tuple[str, int]:
    """(item, index among its videos) of video ``i`` of product ``pid``: the k-th video of item
    ``items[i]`` (k: how many videos of that item come before), else video ``i`` of ``pid``."""
    if items is not None and i < len(items):
        return items[i], list(items[:i]).count(items[i])
    return pid, i
