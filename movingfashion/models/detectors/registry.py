"""Detector backends by name: adding one is one module, one loader function and one line here.

Each loader imports its backend on first use (ultralytics and torchvision's detection models
are slow to import), so choosing a backend never loads the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from schemas.registry import lookup

if TYPE_CHECKING:
    from movingfashion.models.detectors.base import Detector, DetectorConfig


def _ultralytics() -> type[Detector]:
    from movingfashion.models.detectors.ultralytics_backend import UltralyticsDetector

    return UltralyticsDetector


def _fasterrcnn() -> type[Detector]:
    from movingfashion.models.detectors.fasterrcnn_backend import FasterRCNNDetector

    return FasterRCNNDetector


#: backend name -> a function returning the backend class
DETECTORS: dict[str, Callable[[], type[Detector]]] = {
    "ultralytics": _ultralytics,
    "fasterrcnn": _fasterrcnn,
}


def build_detector(
    name: str = "ultralytics",
    weights: str | os.PathLike[str] | None = None,
    config: DetectorConfig | None = None,
    *,
    allow_random: bool = False,
) -> Detector:
    """Instantiate a backend by name; ``weights=None`` means the backend's default: the shipped
    weights, and for a backend that ships none (``fasterrcnn``) a refusal, unless ``allow_random``
    (random init: for tests, never what a CLI asks for). A YOLO model config (``.yaml``) as
    ``weights`` is random init too: refused unless ``allow_random``."""
    cls = lookup(DETECTORS, name, what="detector backend", where="--detector")()
    extra = {"allow_random": True} if allow_random else {}
    return cls(weights=weights, config=config, **extra)
