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
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from schemas.atomic import atomic_write_bytes
from schemas.dataset import read_entry_rows
from schemas.official import read_official
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


@dataclass(frozen=True)
class BoxRow:
    """One ground-truth box of a video's tracklet."""

    product_id: str
    split: str
    video_path: str
    frame: int
    box: list[float]


@dataclass
class Tables:
    """Pairs and boxes of every split file present, by split."""

    pairs: dict[str, list[PairRow]]
    boxes: dict[str, list[BoxRow]]

    @property
    def splits(self) -> list[str]:
        return list(self.pairs)

    def all_pairs(self) -> list[PairRow]:
        return [r for rows in self.pairs.values() for r in rows]


def read_tables(root: str | os.PathLike[str]) -> Tables:
    """The pairs and boxes of a dataset folder (strictly read: run on a folder that verifies)."""
    base = Path(root)
    rows = read_entry_rows(base / "entries.jsonl") if (base / "entries.jsonl").is_file() else {}
    pairs: dict[str, list[PairRow]] = {}
    boxes: dict[str, list[BoxRow]] = {}
    for split in SPLITS:
        path = base / f"{split}.json"
        if not path.is_file():
            continue
        official = read_official(path)
        pairs[split], boxes[split] = [], []
        for pid in sorted(official):
            e = official[pid]
            row = rows.get(pid, {})
            part = row.get("partition")
            partition = Partition(part) if part in set(Partition) else partition_from_source_code(e.source)
            cls = row.get("df2_class")
            cls = cls if cls in DF2_CLASSES else None
            for i, vp in enumerate(e.video_paths):
                pairs[split].append(
                    PairRow(
                        pid,
                        split,
                        i,
                        vp,
                        e.img_path,
                        e.source,
                        partition.value,
                        cls,
                        DF2_CLASSES.get(cls) if cls else None,
                    )
                )
                for t, b in sorted(e.tracklet_boxes(i).items()):
                    boxes[split].append(BoxRow(pid, split, vp, t, [float(v) for v in b]))
    return Tables(pairs, boxes)


def _jsonl(rows: list) -> bytes:
    return "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows).encode()


def write_tables(root: str | os.PathLike[str], tables: Tables) -> list[str]:
    """Write ``pairs/<split>.jsonl`` and ``boxes/<split>.jsonl``; returns their relative paths."""
    base = Path(root)
    written = []
    for split in tables.splits:
        for folder, rows in ((PAIRS_DIR, tables.pairs[split]), (BOXES_DIR, tables.boxes[split])):
            rel = f"{folder}/{split}.jsonl"
            data = _jsonl(rows)
            path = base / rel
            if not path.is_file() or path.read_bytes() != data:
                atomic_write_bytes(path, data)
            written.append(rel)
    for folder in (PAIRS_DIR, BOXES_DIR):  # a split file that went away takes its tables along
        for stale in sorted((base / folder).glob("*.jsonl")) if (base / folder).is_dir() else []:
            if f"{folder}/{stale.name}" not in written:
                stale.unlink()
    return written
