"""The review queue of a dataset: flagged videos first, then a QA sample of accepted ones.

Flagged: the tracklet builder marked the video ``needs_review`` (or found no ground-truth
tracklet, or no tracklet file exists). Accepted: every other video; a share ``sample_rate``
of them is drawn for a quality check. The draw is a hash of ``(seed, video)``, so the same seed
gives the same sample on every start and a sample grows (never reshuffles) with the rate.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.tracklet_files import load_splits, read_video_tracklets, shared_videos, tracklet_file
from schemas.dataset import VideoTracklets, read_entry_rows
from schemas.taxonomy import DF2_CLASSES, partition_from_source_code


@dataclass
class QueueItem:
    """One video to look at."""

    video: str  #: dataset-relative path, the key of its decisions
    product_id: str
    split: str
    shop: str
    partition: str
    df2_class: int | None
    flagged: bool
    reason: str | None
    title: str | None = None
    caption: str | None = None
    designer: str | None = None
    frames: int = 0
    width: int = 0
    height: int = 0
    tracklets: int = 0
    ground_truth: int | None = None
    has_file: bool = False
    draw: float = 0.0  #: the QA sample's hash draw in [0, 1)
    #: several products list the video: this item is this product's (its own tracklet file)
    shared: bool = False

    @property
    def stem(self) -> str:
        """The stem of the item's tracklet file: ``<video stem>``, or ``<video stem>@<product>``
        for a video several products list (one item per product)."""
        return f"{Path(self.video).stem}@{self.product_id}" if self.shared else Path(self.video).stem

    def tracklet_file(self, dataset: str | os.PathLike[str]) -> Path:
        """This item's tracklet file (:func:`annotations.tracklet_files.tracklet_file`)."""
        return tracklet_file(dataset, self.video, self.product_id, shared=self.shared)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["stem"] = self.stem
        d["class_name"] = DF2_CLASSES.get(self.df2_class or 0)
        return d


@dataclass
class Queue:
    items: list[QueueItem]
    sample_rate: float
    seed: int
    flagged: int
    accepted: int  #: videos the builder accepted (the population of the QA sample)
    sampled: int
    by_stem: dict[str, QueueItem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_stem = {it.stem: it for it in self.items}


def sample_draw(seed: int, video: str) -> float:
    """A stable uniform draw in [0, 1) for ``video`` under ``seed``."""
    h = hashlib.sha256(f"{seed}:{video}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def _flag(vt: VideoTracklets | None) -> tuple[bool, str | None]:
    if vt is None:
        return True, "no tracklet file (run mf-tracklets build)"
    if vt.needs_review:
        return True, vt.review_reason or "needs review"
    if vt.ground_truth is None:
        return True, "no ground-truth tracklet"
    return False, None


def build_queue(dataset: str | os.PathLike[str], sample_rate: float = 0.1, seed: int = 0) -> Queue:
    """Every video of the dataset's split files, flagged or sampled, in review order."""
    root = Path(dataset)
    splits = load_splits(root)
    rows = read_entry_rows(root / "entries.jsonl") if (root / "entries.jsonl").is_file() else {}
    flagged, sampled, accepted = [], [], 0
    shared = shared_videos(splits)
    for split_file, split in splits.items():
        for pid, entry in split.items():
            row = rows.get(pid, {})
            meta = row.get("metadata") or {}
            for vp in entry.video_paths:
                p = tracklet_file(root, vp, pid, shared=vp in shared)  # this product's file of it
                vt = read_video_tracklets(p) if p.is_file() else None
                is_flagged, reason = _flag(vt)
                item = QueueItem(
                    video=vp,
                    product_id=pid,
                    split=split_file.removesuffix(".json"),
                    shop=entry.img_path,
                    partition=str(row.get("partition") or partition_from_source_code(entry.source)),
                    df2_class=row.get("df2_class"),
                    flagged=is_flagged,
                    reason=reason,
                    title=meta.get("title"),
                    caption=meta.get("caption"),
                    designer=meta.get("designer"),
                    frames=vt.frames if vt else 0,
                    width=vt.width if vt else 0,
                    height=vt.height if vt else 0,
                    tracklets=len(vt.tracklets) if vt else 0,
                    ground_truth=vt.ground_truth if vt else None,
                    has_file=vt is not None,
                    draw=sample_draw(seed, vp),
                    shared=vp in shared,
                )
                if is_flagged:
                    flagged.append(item)
                else:
                    accepted += 1
                    if item.draw < sample_rate:
                        sampled.append(item)
    flagged.sort(key=lambda it: it.video)
    sampled.sort(key=lambda it: it.draw)
    return Queue(
        items=flagged + sampled,
        sample_rate=sample_rate,
        seed=seed,
        flagged=len(flagged),
        accepted=accepted,
        sampled=len(sampled),
    )
