"""The flat tables of a dataset folder, derived from its split files (and ``entries.jsonl``).

The official ``train.json`` / ``test.json`` nest videos and tracklets inside products keyed by id,
which neither Croissant's JSONPath reader nor a dataset hub's viewer can walk. Two flat JSON Lines
tables, one file per split, say the same thing row by row:

* ``pairs/<split>.jsonl`` - one row per (product, video) pair: ``product_id``, ``split``,
  ``video_index``, ``video_path``, ``img_path``, ``source``, ``partition``, ``df2_class`` and
  ``class_name`` (both null when the folder has no ``entries.jsonl``);
* ``boxes/<split>.jsonl`` - one row per ground-truth box: ``product_id``, ``split``,
  ``video_path``, ``frame``, ``box`` (``[x1, y1, x2, y2]`` in pixels).

Rows are sorted (product id, video index, frame) and written with fixed formatting.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.atomic import atomic_open, write_chunks_if_changed
from schemas.dataset import read_entry_rows
from schemas.errors import DataFormatError
from schemas.official import (
    OfficialEntry,
    OfficialHead,
    read_official,
    read_official_entry,
    read_official_heads,
    split_identity,
)
from schemas.paths import plain_folder
from schemas.taxonomy import DF2_CLASSES, Partition, partition_from_source_code

SPLITS = ("train", "test")
PAIRS_DIR = "pairs"
BOXES_DIR = "boxes"


@dataclass(frozen=True)
class PairRow:
    """One (product, video) pair of a split."""

    product_id: str
    split: str
    video_index: int
    video_path: str
    img_path: str
    source: int
    partition: str
    df2_class: int | None
    class_name: str | None


@dataclass
class Tables:
    """Pairs and box counts of every split file present, by split (the box rows themselves are
    only ever streamed to ``boxes/<split>.jsonl``: ~6M of them in the full dataset)."""

    pairs: dict[str, list[PairRow]]
    box_counts: dict[str, int] = field(default_factory=dict)
    #: per split, the pairs whose video has at least one ground-truth box (a tracklet built)
    boxed_pairs: dict[str, int] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        return list(self.pairs)

    def all_pairs(self) -> list[PairRow]:
        return [r for rows in self.pairs.values() for r in rows]


def box_lines(product_id: str, split: str, video_path: str, boxes: dict[int, list[float]]) -> str:
    """The ``boxes/<split>.jsonl`` rows of one video's ground-truth boxes, sorted by frame: the
    bytes ``json.dumps`` gives each row as a dict (key order product_id, split, video_path, frame,
    box), made without one dict per box. The split file's schema admits only finite
    coordinates, which ``repr`` writes as ``json.dumps`` does."""
    head = (
        f'{{"product_id": {json.dumps(product_id, ensure_ascii=False)}, "split": '
        f'{json.dumps(split, ensure_ascii=False)}, "video_path": '
        f'{json.dumps(video_path, ensure_ascii=False)}, "frame": '
    )
    return "".join(
        f'{head}{int(t)}, "box": [{float(b[0])!r}, {float(b[1])!r}, {float(b[2])!r}, {float(b[3])!r}]}}\n'
        for t, b in sorted(boxes.items())
    )


def _pair_rows(split: str, pid: str, e: OfficialEntry | OfficialHead, row: dict) -> list[PairRow]:
    """The pairs of product ``pid`` (its entry or its head) of a split; ``row``: its
    ``entries.jsonl`` row ({} when none)."""
    part = row.get("partition")
    partition = Partition(part) if part in set(Partition) else partition_from_source_code(e.source)
    cls = row.get("df2_class")
    cls = cls if cls in DF2_CLASSES else None
    return [
        PairRow(
            pid, split, i, vp, e.img_path, e.source, partition.value, cls,
            DF2_CLASSES.get(cls) if cls else None,
        )
        for i, vp in enumerate(e.video_paths)
    ]  # fmt: skip


def _split_rows(
    base: Path, split: str, rows: dict[str, dict]
) -> tuple[list[PairRow], list[tuple[str, str, dict[int, list[float]]]]]:
    """The pairs of one split file and, per pair, its (product id, video path, boxes)."""
    official = read_official(base / f"{split}.json")
    pairs: list[PairRow] = []
    videos: list[tuple[str, str, dict[int, list[float]]]] = []
    for pid in sorted(official):
        e = official[pid]
        pairs += _pair_rows(split, pid, e, rows.get(pid, {}))
        videos += [(pid, vp, e.tracklet_boxes(i)) for i, vp in enumerate(e.video_paths)]
    return pairs, videos


def _pair_text(pairs: list[PairRow]) -> Iterator[bytes]:
    """The rows of ``pairs/<split>.jsonl`` (a row's fields, plain values, in their order: what
    ``dataclasses.asdict`` gives, without its deep copy)."""
    return ((json.dumps(vars(r), ensure_ascii=False) + "\n").encode() for r in pairs)


class _Stale(Exception):
    """A box table that does not read as the rows of its split file's heads: written whole."""


def _row_key(line: bytes, split: str, heads: Mapping[str, OfficialHead]) -> tuple[str, int]:
    """Where a ``boxes/<split>.jsonl`` row sorts: (product id, its video's index)."""
    try:
        row = json.loads(line)
        pid, vp = row["product_id"], row["video_path"]
        videos = heads[pid].video_paths
    except (ValueError, KeyError, TypeError):
        raise _Stale from None
    if row.get("split") != split or videos.count(vp) != 1:
        raise _Stale
    return pid, videos.index(vp)


def _first_row(
    data: Any, key: tuple[str, int], split: str, heads: Mapping[str, OfficialHead], *, past: bool
) -> int:
    """The offset of the first row of the sorted table ``data`` (bytes or an mmap) whose key is
    at or after ``key`` (``past``: after it), found by bisection over the rows' bytes."""
    lo, hi = 0, len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", 0, mid) + 1
        end = data.find(b"\n", start) + 1
        if end == 0:
            raise _Stale  # a last row without its newline
        at = _row_key(data[start:end], split, heads)
        if at < key or (past and at == key):
            lo = end
        else:
            hi = start
    return lo


def _copy_rows(data: Any, start: int, end: int, out: Any) -> int:
    """Write ``data[start:end]`` to ``out`` a block at a time; the rows (newlines) copied."""
    rows = 0
    for at in range(start, end, _COPY_BLOCK):
        block = data[at : min(at + _COPY_BLOCK, end)]
        out.write(block)
        rows += block.count(b"\n")
    return rows


#: bytes copied at a time from a box table into its spliced copy
_COPY_BLOCK = 1 << 22


def _splice_box_table(
    path: Path, split: str, heads: Mapping[str, OfficialHead], blocks: Mapping[tuple[str, int], bytes]
) -> tuple[int, bool]:
    """Put each of ``blocks`` ((product id, video index) -> that video's rows) in place of that
    video's rows in the box table ``path`` (sorted: a video's rows are found by bisection, where
    a video without rows would be), every other row's bytes copied as they are, atomically;
    nothing written when they are the rows already there. Returns (the table's rows, whether it
    was written); :class:`_Stale` when the table does not read as ``heads``' rows."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            if size and data[size - 1 : size] != b"\n":
                raise _Stale
            spans = []
            for key in sorted(blocks):
                lo = _first_row(data, key, split, heads, past=False)
                spans.append((lo, _first_row(data, key, split, heads, past=True), blocks[key]))
            if all(data[lo:hi] == new for lo, hi, new in spans):
                return _copy_rows(data, 0, size, _Discard()), False
            rows = at = 0
            with atomic_open(path) as out:
                for lo, hi, new in spans:
                    rows += _copy_rows(data, at, lo, out) + new.count(b"\n")
                    out.write(new)
                    at = hi
                rows += _copy_rows(data, at, size, out)
            return rows, True
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


class _Discard:
    """A file that drops what is written to it (rows counted, not copied)."""

    def write(self, data: bytes) -> int:
        return len(data)


def _spliced_tables(
    base: Path, rows: dict[str, dict], videos: Collection[tuple[str, str]]
) -> tuple[Tables, list[str]] | None:
    """:func:`write_tables` of a folder whose box tables were current before only ``videos``'
    boxes changed: the pairs from the split files' heads, the box rows of ``videos`` alone from
    their entries (:func:`schemas.official.read_official_entry`) spliced into their tables. None
    when that cannot be done (a table missing or another one there, a video listed twice by its
    product, a table that does not read as expected, a split file the heads read refuses): the
    caller writes the tables whole, which says what is wrong."""
    splits = [s for s in SPLITS if (base / f"{s}.json").is_file()]
    for folder in (PAIRS_DIR, BOXES_DIR):
        have = {f.name for f in (base / folder).glob("*.jsonl")} if (base / folder).is_dir() else set()
        if have != {f"{s}.jsonl" for s in splits}:
            return None
    tables = Tables({})
    written: list[str] = []
    try:
        for split in splits:
            p = base / f"{split}.json"
            heads = read_official_heads(p)
            identity = split_identity(p)
            blocks: dict[tuple[str, int], bytes] = {}
            for pid, vp in videos:
                head = heads.get(pid)
                if head is None or vp not in head.video_paths:
                    continue
                entry = read_official_entry(p, pid, vp, identity=identity)
                if head.video_paths.count(vp) != 1 or entry is None:
                    return None
                i = head.video_paths.index(vp)
                blocks[(pid, i)] = box_lines(pid, split, vp, entry.tracklet_boxes(i)).encode()
            pairs = [
                r for pid in sorted(heads) for r in _pair_rows(split, pid, heads[pid], rows.get(pid, {}))
            ]
            rel = f"{PAIRS_DIR}/{split}.jsonl"
            if write_chunks_if_changed(base / rel, _pair_text(pairs)):
                written.append(rel)
            rel = f"{BOXES_DIR}/{split}.jsonl"
            count, changed = _splice_box_table(base / rel, split, heads, blocks)
            if changed:
                written.append(rel)
            tables.pairs[split] = pairs
            tables.box_counts[split] = count
            tables.boxed_pairs[split] = sum(
                i < len(h.with_boxes) and h.with_boxes[i]
                for h in heads.values()
                for i in range(len(h.video_paths))
            )
    except (_Stale, DataFormatError, OSError, ValueError):
        return None
    return tables, written


def write_tables(
    root: str | os.PathLike[str], videos: Collection[tuple[str, str]] | None = None
) -> tuple[Tables, list[str]]:
    """Write ``pairs/<split>.jsonl`` and ``boxes/<split>.jsonl`` (each only when its bytes change;
    the box rows are streamed, one video at a time); returns the tables (strictly read: run on a
    folder that verifies) and the written files' relative paths.

    ``videos``: the (product id, video path) pairs whose split-file boxes alone changed since the
    tables were last written from the split files (the caller checked that they were:
    :func:`movingfashion.archive.describe.tables_current`). Then only those videos' rows are
    rewritten, spliced into their box tables (every other row's bytes kept; the same bytes as a
    whole write), the pairs come from the split files' heads, and only the files that changed
    are returned; a folder where that cannot be done is written whole."""
    base = Path(root)
    for folder in (PAIRS_DIR, BOXES_DIR):  # written and pruned: never through a link out of the folder
        plain_folder(base, folder, what="table folder")
    rows = read_entry_rows(base / "entries.jsonl") if (base / "entries.jsonl").is_file() else {}
    if videos is not None:
        spliced = _spliced_tables(base, rows, videos)
        if spliced is not None:
            return spliced
    tables = Tables({})
    written: list[str] = []
    for split in SPLITS:
        if not (base / f"{split}.json").is_file():
            continue
        pairs, boxed = _split_rows(base, split, rows)
        tables.pairs[split] = pairs
        tables.box_counts[split] = sum(len(b) for _, _, b in boxed)
        tables.boxed_pairs[split] = sum(bool(b) for _, _, b in boxed)
        box_text = (box_lines(pid, split, vp, b).encode() for pid, vp, b in boxed)
        for folder, chunks in ((PAIRS_DIR, _pair_text(pairs)), (BOXES_DIR, box_text)):
            rel = f"{folder}/{split}.jsonl"
            write_chunks_if_changed(base / rel, chunks)
            written.append(rel)
    for folder in (PAIRS_DIR, BOXES_DIR):  # a split file that went away takes its tables along
        for stale in sorted((base / folder).glob("*.jsonl")) if (base / folder).is_dir() else []:
            if f"{folder}/{stale.name}" not in written:
                stale.unlink()
    return tables, written
