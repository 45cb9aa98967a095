"""How well a video shows the garment of a shop image, with the Match-RCNN detector and matcher.

Cleaning's wrong-association check and its carousel shop pick use :class:`VideoShopScorer`
(``mf clean --matcher FILE``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from movingfashion.media.images import read_image
from movingfashion.media.video_source import VideoSource
from movingfashion.models.crops import crops_from_frames
from movingfashion.models.detectors import Detector, DetectorConfig, build_detector
from movingfashion.models.matchrcnn import SingleFrameMatcher, load_matcher


class VideoShopScorer:
    """``score(video_path, shop_path) -> float in [0, 1]``: how well the shop image matches the
    video's best-matching detection (the pivot score of training tracking), over ``frames``
    evenly spaced frames. Default embedded weights when none are given. 0.0 when nothing is
    detected. Reuse one instance: models load once.

    Pickling sends only the weight paths and settings (so a cluster worker gets it cheaply); the
    copy loads the models on its first score, once per process.
    """

    def __init__(
        self,
        matcher: str | os.PathLike[str] | None = None,
        weights: str | os.PathLike[str] | None = None,
        detector: str = "ultralytics",
        frames: int = 12,
        config: DetectorConfig | None = None,
    ) -> None:
        self._spec = (
            None if matcher is None else str(Path(matcher).absolute()),
            None if weights is None else str(Path(weights).absolute()),
            detector,
            None if config is None else config.model_dump_json(),
        )
        self.frames = frames
        self._models: tuple[Detector, SingleFrameMatcher] | None = _load_models(self._spec)

    @property
    def detector(self) -> Detector:
        return self._loaded()[0]

    @property
    def matcher(self) -> SingleFrameMatcher:
        return self._loaded()[1]

    def _loaded(self) -> tuple[Detector, SingleFrameMatcher]:
        if self._models is None:
            self._models = _load_models(self._spec)
        return self._models

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self._spec, "frames": self.frames}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._spec, self.frames, self._models = state["spec"], state["frames"], None

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


@functools.lru_cache(maxsize=2)
def _load_models(
    spec: tuple[str | None, str | None, str, str | None],
) -> tuple[Detector, SingleFrameMatcher]:
    """Detector and matcher of a scorer's spec, loaded once per process."""
    matcher, weights, detector, config = spec
    det = build_detector(
        detector, weights, None if config is None else DetectorConfig.model_validate_json(config)
    )
    return det, load_matcher(matcher, device=det.device)
