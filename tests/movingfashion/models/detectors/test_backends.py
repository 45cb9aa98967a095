"""Detector backends by name: ultralytics (YOLO) and fasterrcnn (RoI features)."""

from __future__ import annotations

import numpy as np
import pytest

from movingfashion.models.detectors import DETECTORS, DetectorConfig, build_detector
from movingfashion.models.detectors.ultralytics_backend import class_map
from schemas.errors import ConfigError, ModelError


def test_registry_names_every_backend_and_loads_only_the_one_asked_for():
    assert list(DETECTORS) == ["ultralytics", "fasterrcnn"]
    assert {name: DETECTORS[name]().__name__ for name in DETECTORS} == {
        "ultralytics": "UltralyticsDetector",
        "fasterrcnn": "FasterRCNNDetector",
    }


def test_fasterrcnn_backend_gives_roi_features():
    det = build_detector("fasterrcnn", config=DetectorConfig(conf=0.0, imgsz=128, max_det=5, device="cpu"))
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 100, 3), dtype=np.uint8)
    out = det.detect(frames)
    assert len(out) == 2
    for d in out:
        assert d.boxes.shape == (len(d), 4) and d.features.shape == (len(d), 256, 6, 6)
        assert np.all(d.boxes[:, 2] <= 100.01) and np.all(d.boxes[:, 3] <= 120.01)
        assert set(d.classes.tolist()) <= set(range(1, 14))


def test_ultralytics_from_config_and_class_map(tmp_path):
    det = build_detector("ultralytics", "yolov8n.yaml", DetectorConfig(conf=0.0, batch=2, device="cpu"))
    out = det.detect(np.zeros((3, 64, 64, 3), np.uint8))
    assert len(out) == 3 and all(d.boxes.shape[1] == 4 for d in out)
    assert all(set(d.classes.tolist()) <= set(range(1, 14)) for d in out)
    assert class_map({0: "trousers", 1: "x"}) == {0: 8, 1: 2}
    assert class_map({0: "a", 20: "b"}) == {0: 1}
    with pytest.raises(ModelError, match="not found"):
        build_detector("ultralytics", tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load"):
        build_detector("ultralytics", bad)
    with pytest.raises(ConfigError, match="unknown detector"):
        build_detector("nope")
