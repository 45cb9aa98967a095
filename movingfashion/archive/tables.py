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
from dataclasses import asdict, dataclass, field
from pathlib import Path

from schemas.atomic import write_chunks_if_changed
from schemas.dataset import read_entry_rows
from schemas.official import read_official
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


def _split_rows(
    base: Path, split: str, rows: dict[str, dict]
) -> tuple[list[PairRow], list[tuple[str, str, dict[int, list[float]]]]]:
    """The pairs of one split file and, per pair, its (product id, video path, boxes)."""
    official = read_official(base / f"{split}.json")
    pairs: list[PairRow] = []
    videos: list[tuple[str, str, dict[int, list[float]]]] = []
    for pid in sorted(official):
        e = official[pid]
        row = rows.get(pid, {})
        part = row.get("partition")
        partition = Partition(part) if part in set(Partition) else partition_from_source_code(e.source)
        cls = row.get("df2_class")
        cls = cls if cls in DF2_CLASSES else None
        for i, vp in enumerate(e.video_paths):
            pairs.append(
                PairRow(
                    pid, split, i, vp, e.img_path, e.source, partition.value, cls,
                    DF2_CLASSES.get(cls) if cls else None,
                )
            )  # fmt: skip
            videos.append((pid, vp, e.tracklet_boxes(i)))
    return pairs, videos


def write_tables(root: str | os.PathLike[str]) -> tuple[Tables, list[str]]:
    """Write ``pairs/<split>.jsonl`` and ``boxes/<split>.jsonl`` (each only when its bytes change;
    the box rows are streamed, one video at a time); returns the tables (strictly read: run on a
    folder that verifies) and the written files' relative paths."""
    base = Path(root)
    for folder in (PAIRS_DIR, BOXES_DIR):  # written and pruned: never through a link out of the folder
        plain_folder(base, folder, what="table folder")
    rows = read_entry_rows(base / "entries.jsonl") if (base / "entries.jsonl").is_file() else {}
    tables = Tables({})
    written: list[str] = []
    for split in SPLITS:
        if not (base / f"{split}.json").is_file():
            continue
        pairs, videos = _split_rows(base, split, rows)
        tables.pairs[split] = pairs
        tables.box_counts[split] = sum(len(b) for _, _, b in videos)
        tables.boxed_pairs[split] = sum(bool(b) for _, _, b in videos)
        pair_text = ((json.dumps(asdict(r), ensure_ascii=False) + "\n").encode() for r in pairs)
        box_text = (box_lines(pid, split, vp, b).encode() for pid, vp, b in videos)
        for folder, chunks in ((PAIRS_DIR, pair_text), (BOXES_DIR, box_text)):
            rel = f"{folder}/{split}.jsonl"
            write_chunks_if_changed(base / rel, chunks)
            written.append(rel)
    for folder in (PAIRS_DIR, BOXES_DIR):  # a split file that went away takes its tables along
        for stale in sorted((base / folder).glob("*.jsonl")) if (base / folder).is_dir() else []:
            if f"{folder}/{stale.name}" not in written:
                stale.unlink()
    return tables, written
