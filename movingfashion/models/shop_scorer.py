"""How well a video shows the garment of a shop image, with the Match-RCNN detector and matcher.

Cleaning's wrong-association check and its carousel shop pick use :class:`VideoShopScorer`
(``mf clean --matcher FILE``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from movingfashion.media.images import read_image
from movingfashion.media.video_source import VideoSource
from movingfashion.models.crops import crops_from_frames
from movingfashion.models.detectors import DetectorConfig, build_detector
from movingfashion.models.matchrcnn import load_matcher


class VideoShopScorer:
    """``score(video_path, shop_path) -> float in [0, 1]``: how well the shop image matches the
    video's best-matching detection (the pivot score of training tracking), over ``frames``
    evenly spaced frames. Default embedded weights when none are given. 0.0 when nothing is
    detected. Reuse one instance: models load once."""

    def __init__(
        self,
        matcher: str | os.PathLike[str] | None = None,
        weights: str | os.PathLike[str] | None = None,
        detector: str = "ultralytics",
        frames: int = 12,
        config: DetectorConfig | None = None,
    ) -> None:
        self.detector = build_detector(detector, weights, config)
        self.matcher = load_matcher(matcher, device=self.detector.device)
        self.frames = frames

    @torch.no_grad()
    def score(self, video_path: str | os.PathLike[str], shop_path: str | os.PathLike[str]) -> float:
        shop = read_image(shop_path)
        src = VideoSource(Path(video_path))
        try:
            idx = sorted(
                {int(i) for i in np.linspace(0, max(0, src.frames - 1), min(self.frames, src.frames))}
            )
            frames = src.get_batch(idx)
        finally:
            src.close()
        dets = self.detector.detect(frames)
        size = self.matcher.crop_size
        crops = crops_from_frames(frames, [d.boxes for d in dets], size)
        if not len(crops):
            return 0.0
        emb = self.matcher.embed(crops)
        s = self.matcher.embed(crops_from_frames([shop], [None], size))
        return float(self.matcher.score_matrix(s, emb).max())
