"""Clothing detectors behind one interface, chosen by name (``ultralytics`` default, ``fasterrcnn``)."""

from movingfashion.models.checkpoints import same_weights, weights_identity
from movingfashion.models.detectors.base import Detector, DetectorConfig, FrameDetections
from movingfashion.models.detectors.registry import DETECTORS, build_detector
from movingfashion.models.detectors.ultralytics_backend import default_detector_path

__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorConfig",
    "FrameDetections",
    "build_detector",
    "default_detector_path",
    "same_weights",
    "weights_identity",
]
