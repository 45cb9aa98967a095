"""A second opinion on the pivot of the RoI path: the crop matcher's score of its crop.

On the RoI path the pivot is the detection whose RoI descriptor matches the shop image best; when
that head is wrong (a look-alike garment, another person's clothes), every signal of the tracklet
can look sure. The crop matcher is another network on other inputs (the detection cut out of the
frame), so its score of the pivot against the shop image is an independent check
(``pivot_second`` in :data:`annotations.flags.SIGNALS`). A video matched on the crop fallback
(``roi_fallback``) has none: giving it the RoI head's score of its pivot (below the shop
threshold there by construction) flagged mostly passing videos on the fitting worlds (fit 18 of
21 failing flagged instead of 19, leave-one-world-out 12 instead of 15).

The pivot is only known once every frame is detected, and decoding a frame again can cost a
whole group of pictures on real footage, so :class:`PivotCandidates` keeps, while the frames stream
through the detector, the crops of the ``k`` detections that rank highest as a pivot (the same
ranking as :func:`annotations.tracking.training_tracking`: shop score plus class bonus (less the
``cover_penalty``), plus the
detector's confidence with ``pivot_det_weight``); the pivot is the first of them unless
``pivot_min_score`` passes it over (``pivot_second`` is left out when it is not kept).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np
import torch

from annotations.config import TrackerConfig
from annotations.tracking import VideoDetections, candidate_bonus, pivot_ranking, shop_scores
from movingfashion.models import crops_from_frames


class PivotCandidates:
    """The crops of the ``k`` detections of a video ranking highest as a pivot, kept as they stream."""

    def __init__(
        self,
        head: torch.nn.Module,
        shop_embedding: torch.Tensor,
        item_class: int | None,
        tracker: TrackerConfig,
        k: int,
        size: int,
    ) -> None:
        self.head, self.shop, self.item_class = head, shop_embedding.reshape(1, -1), item_class
        self.tracker, self.k, self.size = tracker, k, size
        self._heap: list[tuple[float, int, torch.Tensor]] = []  # (rank, detection index, crop)
        self.seen = 0  #: detections offered so far (the next one's index in the video)

    def offer(
        self,
        frames: Sequence[np.ndarray] | np.ndarray,
        boxes: Sequence[np.ndarray],
        classes: Sequence[np.ndarray],
        scores: Sequence[np.ndarray],
        embeddings: torch.Tensor,
    ) -> None:
        """One decoded batch: ``boxes[i]``/``classes[i]``/``scores[i]`` (detector confidences) are
        frame ``i``'s detections, in the order they are numbered in the video; ``embeddings``
        theirs, concatenated."""
        n = sum(len(b) for b in boxes)
        start, self.seen = self.seen, self.seen + n
        if n == 0:
            return
        s = shop_scores(embeddings, self.head, self.shop)
        cls = np.concatenate([np.asarray(c) for c in classes])
        conf = np.concatenate([np.asarray(c, np.float64) for c in scores])
        t = self.tracker
        owner = np.repeat(np.arange(len(boxes)), [len(b) for b in boxes])
        flat = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b in boxes])
        bonus = candidate_bonus(cls, self.item_class, t, owner, flat, conf)
        rank = pivot_ranking(s, bonus, t.shop_threshold, conf, t.pivot_det_weight)
        floor = self._heap[0][0] if len(self._heap) >= self.k else -np.inf
        take = [i for i in np.argsort(-rank)[: self.k] if np.isfinite(rank[i]) and rank[i] > floor]
        if not take:
            return
        crops = crops_from_frames([frames[owner[i]] for i in take], [flat[i] for i in take], self.size)
        for i, crop in zip(take, crops, strict=True):
            item = (float(rank[i]), start + int(i), crop)
            if len(self._heap) < self.k:
                heapq.heappush(self._heap, item)
            elif item[0] > self._heap[0][0]:
                heapq.heapreplace(self._heap, item)

    def crop(self, index: int) -> torch.Tensor | None:
        """The kept crop of detection ``index`` of the video, or None."""
        return next((c for _, i, c in self._heap if i == index), None)

    def indices(self) -> list[int]:
        """The detections kept, best first."""
        return [i for _, i, _ in sorted(self._heap, key=lambda t: (-t[0], t[1]))]


def offer_stored(
    keep: PivotCandidates, frames: Sequence[tuple[list[int], np.ndarray]], dets: VideoDetections
) -> None:
    """Offer detections made before (a cache of them) batch by batch, as :meth:`offer` would have
    seen them streaming: ``frames`` yields ``(frame indices, decoded frames)`` in video order."""
    for chunk, imgs in frames:
        sel = [np.flatnonzero(dets.frames == f) for f in chunk]
        rows = np.concatenate(sel) if sel else np.zeros(0, np.int64)
        keep.offer(
            imgs,
            [dets.boxes[i] for i in sel],
            [dets.classes[i] for i in sel],
            [dets.scores[i] for i in sel],
            dets.embeddings[rows],
        )
