"""How well a video shows the garment of a shop image, with the Match-RCNN detector and matcher.

Cleaning's wrong-association check and its carousel shop pick use :class:`VideoShopScorer`:
the embedded default weights unless ``mf clean --matcher FILE`` names others.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
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
    """``score(video_path, shop_path, crop=None, category=None) -> float in [0, 1]``: how well the
    shop image matches the video's best-matching detection (the pivot score of training tracking),
    over ``frames`` evenly spaced frames; ``crop`` (x1, y1, x2, y2) scores that region of the frames
    only (the moving half of a split-screen video); ``category`` (the item's DeepFashion2 class)
    scores only the detections of that class when the video has any (a shop image of a top is not
    shown by the trousers of the video: the matcher alone may score another garment as high as the
    item). Default embedded weights when none are given.
    0.0 when nothing is detected. Reuse one instance: models load once, and the detections of
    the last ``keep`` videos are kept, so one video scored against several images is read once.

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
        keep: int = 64,
    ) -> None:
        self._spec = (
            None if matcher is None else str(Path(matcher).absolute()),
            None if weights is None else str(Path(weights).absolute()),
            detector,
            None if config is None else config.model_dump_json(),
        )
        self.frames = frames
        self._models: tuple[Detector, SingleFrameMatcher] | None = _load_models(self._spec)
        self.keep = keep
        self._videos: dict[tuple[str, tuple[int, ...] | None], tuple[torch.Tensor, np.ndarray] | None] = {}
        self._shops: dict[tuple[str, int, int], torch.Tensor] = {}

    @property
    def tag(self) -> str:
        """Identifies the weights and settings behind the scores (a cache key): the detector by
        its weights' content, not their file name (a copy under another name re-scored every
        pair), the matcher by its weights (:func:`movingfashion.models.checkpoints.content_tag`)."""
        return f"{self.detector.weights_id}|{self.matcher.tag}|{self.frames}"

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
        return {"spec": self._spec, "frames": self.frames, "keep": self.keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._spec, self.frames, self._models = state["spec"], state["frames"], None
        self.keep, self._videos, self._shops = state["keep"], {}, {}

    @torch.no_grad()
    def _video_embeddings(self, video_path: str | os.PathLike[str], crop: Sequence[float] | None):
        key = (str(video_path), tuple(int(round(c)) for c in crop) if crop is not None else None)
        if key in self._videos:
            return self._videos[key]
        src = VideoSource(Path(video_path))
        try:
            idx = sorted(
                {int(i) for i in np.linspace(0, max(0, src.frames - 1), min(self.frames, src.frames))}
            )
            frames = src.get_batch(idx)
        finally:
            src.close()
        if key[1] is not None:
            x1, y1, x2, y2 = key[1]
            frames = np.ascontiguousarray(frames[:, max(0, y1) : y2, max(0, x1) : x2])
        dets = self.detector.detect(frames)
        crops = crops_from_frames(frames, [d.boxes for d in dets], self.matcher.crop_size)
        classes = (
            np.concatenate([np.asarray(d.classes, np.int64) for d in dets]) if dets else np.zeros(0, np.int64)
        )
        emb = (self.matcher.embed(crops).detach(), classes) if len(crops) else None
        if len(self._videos) >= self.keep:
            self._videos.pop(next(iter(self._videos)))
        self._videos[key] = emb
        return emb

    @torch.no_grad()
    def score(
        self,
        video_path: str | os.PathLike[str],
        shop_path: str | os.PathLike[str],
        crop: Sequence[float] | None = None,
        category: int | None = None,
    ) -> float:
        video = self._video_embeddings(video_path, crop)
        if video is None:
            return 0.0
        emb, classes = video
        on_class = classes == category if category is not None else None
        if on_class is not None and on_class.any():
            emb = emb[torch.from_numpy(on_class)]
        return float(self.matcher.score_matrix(self._shop_embedding(shop_path), emb).max())

    def _shop_embedding(self, shop_path: str | os.PathLike[str]) -> torch.Tensor:
        """The shop image's embedding, kept for the last ``keep`` images (a pair is scored on every
        detection and on the item's class, and a contested image against several videos)."""
        st = os.stat(shop_path)
        key = (str(shop_path), st.st_mtime_ns, st.st_size)
        if key not in self._shops:
            shop = read_image(shop_path)
            if len(self._shops) >= self.keep:
                self._shops.pop(next(iter(self._shops)))
            self._shops[key] = self.matcher.embed(crops_from_frames([shop], [None], self.matcher.crop_size))
        return self._shops[key]


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
