"""Detector backends by name: adding one is one module and one line here."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from movingfashion.models.detectors.base import Detector, DetectorConfig
from schemas.errors import ConfigError

#: backend name -> ``module:class``
DETECTORS: dict[str, str] = {
    "ultralytics": "movingfashion.models.detectors.ultralytics_backend:UltralyticsDetector",
    "fasterrcnn": "movingfashion.models.detectors.fasterrcnn_backend:FasterRCNNDetector",
}


def default_detector_path() -> Path:
    """The embedded default YOLO weights (``movingfashion/models/weights/detector.pt``)."""
    return Path(__file__).resolve().parent.parent / "weights" / "detector.pt"


def build_detector(
    name: str = "ultralytics",
    weights: str | os.PathLike[str] | None = None,
    config: DetectorConfig | None = None,
) -> Detector:
    """Instantiate a backend by name; ``weights=None`` means the backend's default."""
    if name not in DETECTORS:
        raise ConfigError(
            f"unknown detector backend {name!r}",
            where="--detector",
            hint=f"choose one of {', '.join(DETECTORS)}",
        )
    module, cls = DETECTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)(weights=weights, config=config)
