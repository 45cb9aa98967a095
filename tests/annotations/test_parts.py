"""Detectors, DF2->YOLO conversion, QA helpers and CLI plumbing (no world needed)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from annotations.cli import pretrain_matcher, tracklets, train_detector
from annotations.df2_yolo import df2_to_yolo, yolo_line
from annotations.qa import average_iou, check_tracklet, select_query
from movingfashion.media.video_source import VideoSource
from movingfashion.models.detectors import DetectorConfig, build_detector
from movingfashion.models.detectors.ultralytics_backend import class_map
from schemas.dataset import Tracklet
from schemas.errors import ConfigError, DataFormatError, MediaError, ModelError


def _df2(root, n=3):
    for split in ("train", "validation"):
        (root / split / "image").mkdir(parents=True)
        (root / split / "annos").mkdir(parents=True)
        for i in range(1, n + 1):
            name = f"{i:06d}"
            cv2.imwrite(str(root / split / "image" / f"{name}.jpg"), np.zeros((100, 200, 3), np.uint8))
            anno = {
                "source": "shop" if i == 1 else "user",
                "pair_id": 1,
                "item1": {"category_id": 8, "style": 1, "bounding_box": [20, 10, 120, 90]},
                "item2": {"category_id": 1, "style": 0, "bounding_box": [0, 0, 50, 50]},
            }
            (root / split / "annos" / f"{name}.json").write_text(json.dumps(anno))


def test_df2_to_yolo(tmp_path):
    _df2(tmp_path / "df2")
    data = df2_to_yolo(tmp_path / "df2", tmp_path / "yolo")
    cfg = yaml.safe_load(data.read_text())
    assert cfg["names"][0] == "short_sleeved_shirt" and cfg["names"][12] == "sling_dress"
    assert cfg["val"] == "images/val"
    labels = (tmp_path / "yolo" / "labels" / "train" / "000001.txt").read_text().split("\n")
    cls, cx, cy, w, h = labels[0].split()
    assert cls == "7" and float(cx) == pytest.approx(70 / 200) and float(cy) == pytest.approx(0.5)
    assert float(w) == pytest.approx(0.5) and float(h) == pytest.approx(0.8)
    assert (tmp_path / "yolo" / "images" / "val" / "000002.jpg").is_file()
    assert yolo_line(3, [5, 5, 5.5, 9], 10, 10) is None  # degenerate box dropped


def test_df2_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no DeepFashion2 split"):
        df2_to_yolo(tmp_path, tmp_path / "o")
    _df2(tmp_path / "df2", 1)
    (tmp_path / "df2" / "train" / "annos" / "000001.json").write_text('{"item1": {"category_id": 99}}')
    with pytest.raises(DataFormatError, match=r"000001\.json.*category_id"):
        df2_to_yolo(tmp_path / "df2", tmp_path / "o")


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


def test_query_selection_and_check():
    gt = {0: [0, 0, 10, 10], 1: [0, 0, 10, 10], 2: [0, 0, 10, 10]}
    a = {0: [0, 0, 10, 10]}  # exact but short
    b = {0: [1, 1, 10, 10], 1: [1, 1, 10, 10], 2: [1, 1, 10, 10]}  # IoU 0.81 everywhere
    c = {5: [0, 0, 10, 10]}
    assert select_query([a, b, c], gt) == 1
    assert select_query([], gt) is None
    assert average_iou(a, gt) == pytest.approx(1 / 3)
    trk = Tracklet(
        video="v",
        boxes={0: [0, 0, 10, 10], 1: [50, 50, 60, 60], 2: [0, 0, 10, 10], 3: [0, 0, 1, 1]},
        scores={0: 0.9, 1: 0.9, 2: 0.9},
    )  # frame 3 interpolated, not a detection
    chk = check_tracklet("v", trk, gt)
    assert chk.detections == 3 and chk.contain_fraction == pytest.approx(2 / 3) and chk.passed
    assert chk.mean_iou == pytest.approx(2 / 3)
    assert not check_tracklet("v", None, gt).passed


def test_unreadable_video_is_media_error(tmp_path):
    p = tmp_path / "bad.mp4"
    p.write_bytes(b"\x00" * 1000)
    with pytest.raises(MediaError, match="unreadable"):
        VideoSource(p)


@pytest.mark.parametrize(
    "cmd,args",
    [
        (tracklets, ["--help"]),
        (tracklets, ["build", "--help"]),
        (tracklets, ["qa", "--help"]),
        (tracklets, ["review", "--help"]),
        (tracklets, ["sheets", "--help"]),
        (train_detector, ["--help"]),
        (pretrain_matcher, ["--help"]),
    ],
)
def test_help_has_example(cmd, args):
    res = CliRunner().invoke(cmd, args)
    assert res.exit_code == 0 and "Example" in res.output


def test_train_detector_smoke(tmp_path):
    """One epoch on a handful of images: the command wires conversion and ultralytics together."""
    _df2(tmp_path / "df2", 2)
    res = CliRunner().invoke(
        train_detector,
        [
            "--df2",
            str(tmp_path / "df2"),
            "--out",
            str(tmp_path / "det"),
            "--epochs",
            "1",
            "--imgsz",
            "64",
            "--batch",
            "2",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    weights = json.loads(res.stdout)["weights"]
    det = build_detector("ultralytics", weights, DetectorConfig(device="cpu"))
    assert det.model.names[7] == "trousers"
