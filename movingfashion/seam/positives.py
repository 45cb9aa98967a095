"""Phase-2 positives as the authors train them: per frame, the detection that matches the shop best.

The training tracking procedure (paper section 4.4) starts from the detection that matches the
shop image best; the authors' training code goes further and takes, in every sampled frame, the
detection with the highest single-frame match score against the shop image (when it reaches
``threshold``) as that frame's positive box. So training tracklets carry the boxes the matcher
believes in, wrong ones included, instead of ground-truth boxes: what the attention has to learn
to down-weight. Candidates are every box of the video's richer tracklet file at that frame (the
builder's tracklets: the item's and every other garment's) plus the dataset's own box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from movingfashion.models.crops import crops_from_frames
from movingfashion.models.matchrcnn import EmbeddingHead, MatchHead
from schemas.dataset import VideoTracklets
from schemas.geometry import box_iou

#: The authors' threshold on the single-frame match score of a frame's best detection.
DEFAULT_THRESHOLD = 0.1
#: Noise code of a positive box that is not the dataset's own box of that frame.
OTHER_DETECTION = "other_detection"


@dataclass(frozen=True)
class ShopMatcher:
    """The frozen crop encoder and the single-frame heads f, m that score a crop against a shop."""

    encoder: nn.Module
    f: EmbeddingHead
    m: MatchHead
    crop_size: int

    @torch.no_grad()
    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        device = next(self.encoder.parameters()).device
        was = self.f.training
        self.f.eval()
        out = torch.cat(
            [
                self.f(self.encoder(crops[i : i + 64].to(device)).float()).cpu()
                for i in range(0, len(crops), 64)
            ]
        )
        self.f.train(was)
        return out

    @torch.no_grad()
    def scores(self, crops: torch.Tensor, shop: torch.Tensor) -> torch.Tensor:
        """Match scores [N] in [0, 1] of crops [N, 3, S, S] with one shop image [3, S, S]."""
        device = next(self.m.parameters()).device
        s = self.embed(shop[None]).to(device)
        return self.m.score_matrix(self.embed(crops).to(device), s)[:, 0].cpu()


def candidates(frame: int, own: dict[int, list[float]], rich: VideoTracklets | None) -> list[list[float]]:
    """Boxes that compete at ``frame``: the dataset's own box first, then every richer tracklet's."""
    out = [list(own[frame])] if frame in own else []
    for trk in rich.tracklets if rich is not None else []:
        box = trk.boxes.get(frame)
        if box is not None and all(list(box) != b for b in out):
            out.append(list(box))
    return out


def pick_best(scores: Sequence[float], threshold: float) -> int:
    """Index of the best-scoring candidate, or 0 (the dataset's own box) when none reaches
    ``threshold``."""
    best = int(np.argmax(scores))
    return best if scores[best] >= threshold else 0


def best_match_boxes(
    video: str | Path,
    frames: Sequence[int],
    own: dict[int, list[float]],
    rich: VideoTracklets | None,
    shop: torch.Tensor,
    matcher: ShopMatcher,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[dict[int, list[float]], set[int]]:
    """The positive box of each of ``frames`` (indices into ``own``, the dataset's tracklet of the
    video file ``video``) and the frames whose positive is not the dataset's box.

    Frames with a single candidate keep it without decoding; a video whose richer file offers no
    other box is not read at all."""
    todo = [f for f in frames if len(candidates(f, own, rich)) > 1]
    boxes = {f: list(own[f]) for f in frames if f in own}
    if not todo:
        return boxes, set()
    from movingfashion.media.video_source import VideoSource

    src = VideoSource(Path(video))
    try:
        imgs = src.get_batch(todo)
    finally:
        src.close()
    cands = [candidates(f, own, rich) for f in todo]
    crops = crops_from_frames(imgs, [np.asarray(c, np.float32) for c in cands], matcher.crop_size)
    scores = matcher.scores(crops, shop).tolist()
    changed: set[int] = set()
    start = 0
    for f, c in zip(todo, cands, strict=True):
        k = pick_best(scores[start : start + len(c)], threshold)
        start += len(c)
        boxes[f] = c[k]
        if k != 0 and box_iou(c[k], c[0]) < 0.5:
            changed.add(f)
    return boxes, changed
