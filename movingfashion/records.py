"""The records :class:`~movingfashion.dataset.MovingFashionDataset` keeps of its split: one
:class:`ProductRecord` per product that loads, one :class:`VideoRecord` per usable video of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movingfashion.frame_boxes import FrameBoxes, FrameScores
from movingfashion.training_copy import _source_boxes, boxes_fingerprint
from schemas.dataset import VideoTracklets
from schemas.taxonomy import Partition

#: a (height, width) size
Size = tuple[int, int]


@dataclass
class VideoRecord:
    """One usable video of a product (paths resolved, tracklet parsed)."""

    rel_path: str
    path: Path
    #: the tracklet's boxes, frame -> [x1, y1, x2, y2] (any mapping given is kept as a
    #: :class:`~movingfashion.frame_boxes.FrameBoxes`: ~40 B a box instead of ~350)
    boxes: FrameBoxes
    #: the tracklet file's per-frame confidences (kept as a :class:`FrameScores`)
    confidences: FrameScores = field(default_factory=FrameScores.empty)
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    #: the product listing it (a video two products list has a record, with its boxes, in each)
    product_id: str = ""
    #: fingerprint of ``boxes`` after the dataset's own checks pruned them -> before (what a
    #: crop-cache entry or training copy records: :func:`movingfashion.training_copy._source_boxes`)
    pruned: dict[str, str] = field(default_factory=dict, repr=False)
    #: the frame count its tracklet file recorded when it was built (``num_frames`` becomes the
    #: decoded count at first use): what tells a video cut short since from a tracklet off by a frame
    recorded_frames: int | None = field(default=None, repr=False)
    #: whether this record's boxes were checked against the decoded video (each product's record
    #: of a video several products list is checked on its own: the boxes are the product's)
    checked: bool = field(default=False, repr=False)
    #: (width, height) the salient sampler scores boxes against, fixed before any decode: the
    #: tracklet file's, else the probed video's ((0, 0): unknown); None until first asked for
    #: (:meth:`MovingFashionDataset.quality_size`), never the size a decode learns later
    known_size: tuple[int, int] | None = field(default=None, repr=False)
    #: its tracklet file in full (inference tracklets, the truth about their boxes), kept only by
    #: a dataset opened with ``full_tracklet_files`` (:func:`movingfashion.seam.features.build_bank`)
    tracklet_file: VideoTracklets | None = field(default=None, repr=False)
    #: its position in the product's ``video_paths`` in the split file (an item's ``video_index``),
    #: whatever videos before it were dropped (``on_bad="skip"``)
    video_index: int = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "boxes":
            value = FrameBoxes.of(value)
        elif name == "confidences":
            value = FrameScores.of(value)
        object.__setattr__(self, name, value)

    def set_boxes(self, boxes: Mapping[int, Sequence[float]]) -> None:
        """Replace the boxes by a pruned/clipped version of them (the source fingerprint stays)."""
        boxes = FrameBoxes.of(boxes)
        if boxes == self.boxes:
            return
        before = _source_boxes(self)
        self.boxes = boxes
        after = boxes_fingerprint(boxes)
        if after != before:
            self.pruned[after] = before


@dataclass
class ProductRecord:
    """One product that loads: its shop image, class, partition and usable videos."""

    product_id: str
    shop_path: Path
    df2_class: int | None
    partition: Partition
    videos: list[VideoRecord]
