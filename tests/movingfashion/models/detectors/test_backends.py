"""Detector backends by name: ultralytics (YOLO) and fasterrcnn (RoI features)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from movingfashion.models.checkpoints import one_line
from movingfashion.models.detectors import (
    DETECTORS,
    DetectorConfig,
    build_detector,
    same_weights,
    weights_identity,
)
from movingfashion.models.detectors.ultralytics_backend import bgr_frame, class_map
from movingfashion.models.matchrcnn import default_matcher_path
from movingfashion.models.roi import default_roi_matcher_path
from schemas.errors import ConfigError, ModelError


def test_registry_names_every_backend_and_loads_only_the_one_asked_for():
    assert list(DETECTORS) == ["ultralytics", "fasterrcnn"]
    assert {name: DETECTORS[name]().__name__ for name in DETECTORS} == {
        "ultralytics": "UltralyticsDetector",
        "fasterrcnn": "FasterRCNNDetector",
    }


def test_fasterrcnn_backend_gives_roi_features():
    det = build_detector(
        "fasterrcnn", config=DetectorConfig(conf=0.0, imgsz=128, max_det=5, device="cpu"), allow_random=True
    )
    frames = np.random.default_rng(0).integers(0, 255, (2, 120, 100, 3), dtype=np.uint8)
    out = det.detect(frames)
    assert len(out) == 2
    for d in out:
        assert d.boxes.shape == (len(d), 4) and d.features.shape == (len(d), 256, 6, 6)
        assert np.all(d.boxes[:, 2] <= 100.01) and np.all(d.boxes[:, 3] <= 120.01)
        assert set(d.classes.tolist()) <= set(range(1, 14))


def test_ultralytics_from_config_and_class_map(tmp_path):
    det = build_detector(
        "ultralytics", "yolov8n.yaml", DetectorConfig(conf=0.0, batch=2, device="cpu"), allow_random=True
    )
    out = det.detect(np.zeros((3, 64, 64, 3), np.uint8))
    assert len(out) == 3 and all(d.boxes.shape[1] == 4 for d in out)
    assert all(set(d.classes.tolist()) <= set(range(1, 14)) for d in out)
    # by DeepFashion2 name (other classes dropped), or 13 numbered classes by index
    assert class_map({0: "trousers", 1: "x"}) == {0: 8}
    assert class_map([str(i) for i in range(13)]) == {i: i + 1 for i in range(13)}
    assert class_map({i: f"class_{i}" for i in range(13)})[12] == 13
    # an untrained network's classes mean nothing yet: index + 1 up to 13
    assert class_map({0: "a", 20: "b"}, strict=False) == {0: 1}
    with pytest.raises(ModelError, match="not found"):
        build_detector("ultralytics", tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load"):
        build_detector("ultralytics", bad)
    with pytest.raises(ConfigError, match="unknown detector"):
        build_detector("nope")


def test_fasterrcnn_without_weights_is_refused_unless_random_init_is_asked_for():
    """No Faster R-CNN weights ship: a random-init detector would build junk ground truth."""
    from movingfashion.models.detectors.fasterrcnn_backend import FasterRCNNDetector

    for build in (lambda: build_detector("fasterrcnn"), lambda: FasterRCNNDetector(None)):
        with pytest.raises(ModelError, match="no Faster R-CNN weights ship") as err:
            build()
        assert "--weights" in str(err.value) and "\n" not in str(err.value)
    det = build_detector("fasterrcnn", config=DetectorConfig(imgsz=64, device="cpu"), allow_random=True)
    assert det.version == "fasterrcnn_r50_fpn:random-init"


def test_weights_are_identified_by_their_hash_not_their_file_name():
    old = "ultralytics:detector.pt:566fb295ba5e"  # as tracklet files and RoI matchers hold it
    assert weights_identity(old) == "ultralytics:566fb295ba5e"
    assert same_weights(old, "ultralytics:my_detector.pt:566fb295ba5e")
    assert same_weights(old, "ultralytics:a:b.pt:566fb295ba5e")  # a colon in the file name
    assert not same_weights(old, "ultralytics:detector.pt:000000000000")
    assert not same_weights(old, "fasterrcnn_r50_fpn:566fb295ba5e")
    assert not same_weights(None, old) and not same_weights(old, None)
    for kept in (
        "ultralytics:yolov8n.yaml",
        "fasterrcnn_r50_fpn:random-init",
        "fasterrcnn_r50_fpn:0123456789ab",
    ):
        assert weights_identity(kept) == kept


def test_one_line_collapses_and_cuts_at_a_word():
    assert one_line("a\n  b\tc") == "a b c"
    text = "Recommended fixes are to re-download or re-export the file, or to run a command " * 4
    short = one_line(text, 60)
    assert len(short) <= 60 and short.endswith("...") and "\n" not in short
    assert text.startswith(short[:-3]) and text[len(short) - 3] == " "  # the cut falls between words


@pytest.mark.parametrize("content", [b"", b"hi\n", b"garbage"])
def test_ultralytics_load_errors_are_one_line(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(ModelError, match="cannot load") as err:
        build_detector("ultralytics", bad)
    msg = err.value.message
    assert "\n" not in str(err.value) and "ERROR" not in msg and len(msg) < 260
    if msg.endswith("..."):
        assert re.search(r"[^\s.]\.\.\.$", msg)  # one ellipsis, right after the last word kept


@pytest.mark.parametrize("backend", ["ultralytics", "fasterrcnn"])
@pytest.mark.parametrize(
    "path,what", [(default_matcher_path, "crop\\) matcher"), (default_roi_matcher_path, "an RoI matcher")]
)
def test_a_matcher_checkpoint_as_weights_says_it_belongs_in_matcher(backend, path, what):
    with pytest.raises(ModelError, match=f"{what} checkpoint.*not detector weights") as err:
        build_detector(backend, path(), DetectorConfig(device="cpu"))
    assert "pass it as --matcher FILE" in str(err.value) and "Ultralytics" not in str(err.value)


def test_a_model_config_as_weights_is_refused_unless_random_init_is_asked_for():
    """A .yaml builds an untrained network: its tracklets would be junk, and its version names no
    weights (a later .yaml of the same name would count as the same detector)."""
    with pytest.raises(ModelError, match="model config.*untrained") as err:
        build_detector("ultralytics", "yolov8n.yaml", DetectorConfig(device="cpu"))
    assert err.value.where == "yolov8n.yaml" and "mf train-detector" in str(err.value)
    det = build_detector("ultralytics", "yolov8n.yaml", DetectorConfig(device="cpu"), allow_random=True)
    assert det.version == "ultralytics:yolov8n.yaml"


def test_class_map_reads_both_deepfashion2_spellings_and_names_the_classes_never_detected(caplog):
    """Weights named as DeepFashion2's annotation files spell them ("short sleeve top") once kept
    only the 5 one-word classes, silently (audit_gpu G1)."""
    from schemas.taxonomy import DF2_CLASSES, DF2_FILE_NAMES

    spaced = [DF2_FILE_NAMES[c].title() for c in sorted(DF2_FILE_NAMES)]
    with caplog.at_level("WARNING"):
        assert class_map(spaced) == {i: i + 1 for i in range(13)}
        assert class_map({i: DF2_CLASSES[i + 1].replace("_", "-") for i in range(13)})[0] == 1
    assert "never detected" not in caplog.text
    with caplog.at_level("WARNING"):
        assert class_map(["trousers", "Sling Dress"], where="two.pt") == {0: 8, 1: 13}
    assert "two.pt: the weights name 2 of DeepFashion2's 13 classes" in caplog.text
    assert "short_sleeved_shirt" in caplog.text and "trousers" not in caplog.text.split("never detected")[1]
    # a general detector naming a few garments among its classes is not DeepFashion2's (audit_new3 N10)
    open_images = ["Person", "Car", "Shorts", "Trousers", "Skirt"] + [f"Thing {i}" for i in range(596)]
    with pytest.raises(ModelError, match="only 3 of the weights' 601 classes are DeepFashion2's"):
        class_map(open_images, where="oiv7.pt")
    with pytest.raises(ModelError, match="two of the weights' classes name one DeepFashion2 class"):
        class_map(["trousers", "Trousers", "skirt"], where="w.pt")


COCO = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"] + [
    f"thing{i}" for i in range(9, 80)
]


@pytest.mark.parametrize(
    "names",
    [COCO, [str(i) for i in range(80)], [str(i) for i in range(12)], {0: "0", 1: "1", 14: "14"}],
    ids=["coco", "80-numbered", "12-numbered", "gaps"],
)
def test_class_names_that_are_not_deepfashion2s_are_refused(names):
    with pytest.raises(ModelError, match="classes are not DeepFashion2's") as err:
        class_map(names, where="w.pt")
    assert err.value.where == "w.pt" and "mf train-detector" in str(err.value)
    if names is COCO:
        assert "'person', 'bicycle'" in err.value.message and "80 classes" in err.value.message


def test_yolo_weights_with_coco_classes_are_refused(tmp_path):
    """COCO weights once loaded silently: person read as DF2 class 1, bicycle as 2, ..."""
    from ultralytics import YOLO

    model = YOLO("yolov8n.yaml")
    model.model.names = dict(enumerate(COCO))
    model.save(tmp_path / "coco.pt")
    with pytest.raises(ModelError, match="80 classes are not DeepFashion2's") as err:
        build_detector("ultralytics", tmp_path / "coco.pt", DetectorConfig(device="cpu"))
    assert err.value.where == str(tmp_path / "coco.pt")


def test_an_untrained_network_saved_as_pt_is_refused_and_a_trained_record_is_taken(tmp_path):
    """``YOLO(config).save()`` with DeepFashion2's names passed the class check: the build then
    found nothing and replaced good ground truth with empty tracklets."""
    import torch
    from ultralytics import YOLO

    from schemas.taxonomy import DF2_CLASSES

    model = YOLO("yolov8n.yaml")
    model.model.names = {i - 1: DF2_CLASSES[i] for i in sorted(DF2_CLASSES)}
    model.save(tmp_path / "untrained.pt")
    with pytest.raises(ModelError, match="no training record") as err:
        build_detector("ultralytics", tmp_path / "untrained.pt", DetectorConfig(device="cpu"))
    assert err.value.where == str(tmp_path / "untrained.pt") and "mf train-detector" in str(err.value)
    ckpt = torch.load(tmp_path / "untrained.pt", weights_only=False)
    ckpt["train_args"] = {"imgsz": 96, "epochs": 1}  # what an ultralytics training writes
    torch.save(ckpt, tmp_path / "trained.pt")
    det = build_detector("ultralytics", tmp_path / "trained.pt", DetectorConfig(device="cpu"))
    assert det.imgsz == 96 and sorted(det.classes.values()) == sorted(DF2_CLASSES)


def test_faster_rcnn_weights_in_the_formats_torchvision_writes(tmp_path):
    """The detection references' checkpoint (``{"model": ..., "args": Namespace}``) and a DDP
    save were refused as "not ... with 14 classes"; a whole pickled model and a text file got
    torch's own words ("Weights only load failed...", "101")."""
    import argparse

    import torch
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    net = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=14)
    sd = net.state_dict()
    cfg = DetectorConfig(imgsz=64, device="cpu")
    files = {
        "plain.pt": sd,
        "refs.pt": {"model": sd, "optimizer": {}, "args": argparse.Namespace(lr=0.02), "epoch": 3},
        "ddp.pt": {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
    }
    for name, obj in files.items():
        torch.save(obj, tmp_path / name)
        det = build_detector("fasterrcnn", tmp_path / name, cfg)
        assert torch.equal(
            det.model.roi_heads.box_predictor.cls_score.weight, sd["roi_heads.box_predictor.cls_score.weight"]
        )
    torch.save(net, tmp_path / "whole.pt")
    (tmp_path / "notes.pt").write_text("hello")
    for name, words in (("whole.pt", "whole pickled model"), ("notes.pt", "not a PyTorch weights file")):
        with pytest.raises(ModelError, match=words) as err:
            build_detector("fasterrcnn", tmp_path / name, cfg)
        assert err.value.where == str(tmp_path / name) and "Weights only load failed" not in str(err.value)


@pytest.mark.parametrize("where", ["cls_score.weight", "rpn.head.conv.0.0.bias"])
def test_faster_rcnn_weights_that_are_not_finite_are_refused_naming_the_file(tmp_path, where):
    """The finding: Faster R-CNN weights holding NaN or inf (a diverged training, float16 values
    that overflowed) loaded and gave junk detections; the YOLO backend already refused them. Now
    this backend refuses them too (the same check), naming the file, the tensor and what to do."""
    import torch
    from torchvision.models.detection import fasterrcnn_resnet50_fpn

    sd = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=14).state_dict()
    name = next(k for k in sd if k.endswith(where))
    sd[name].view(-1)[0] = float("nan") if "weight" in where else float("inf")
    torch.save({"model": sd}, tmp_path / "bad.pt")
    with pytest.raises(ModelError) as err:
        build_detector("fasterrcnn", tmp_path / "bad.pt", DetectorConfig(imgsz=64, device="cpu"))
    text = str(err.value)
    assert err.value.where == str(tmp_path / "bad.pt") and "not finite" in text and name in text
    assert "state dict" in text and "mf train-detector" not in text  # its advice, not YOLO's
    assert "train the detector again" in text and "\n" not in text
    sd[name].view(-1)[0] = 0.0
    torch.save(sd, tmp_path / "good.pt")
    assert build_detector("fasterrcnn", tmp_path / "good.pt", DetectorConfig(imgsz=64, device="cpu")).version


def test_a_bare_network_or_state_dict_as_yolo_weights_is_named_so(tmp_path):
    """``torch.save(model)`` was refused as "999 classes are not DeepFashion2's", a state dict
    with ultralytics' advice to download a model."""
    import torch
    from ultralytics import YOLO

    net = YOLO("yolov8n.yaml").model
    torch.save(net, tmp_path / "net.pt")
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    for name, what in (("net.pt", "whole pickled network"), ("sd.pt", "bare state dict")):
        with pytest.raises(ModelError, match=what) as err:
            build_detector("ultralytics", tmp_path / name, DetectorConfig(device="cpu"))
        assert err.value.where == str(tmp_path / name) and "999" not in str(err.value)


def test_yolo_weights_given_to_faster_rcnn_are_sent_to_the_ultralytics_backend():
    """They were called "a whole pickled model?" (audit_gpu G5)."""
    from movingfashion.models.detectors.fasterrcnn_backend import _read_state
    from movingfashion.models.matchrcnn import default_matcher_path

    yolo = default_matcher_path().with_name("detector.pt")
    with pytest.raises(ModelError, match="YOLO detector weights") as ei:
        _read_state(yolo)
    assert "--detector ultralytics" in (ei.value.hint or "")


@pytest.mark.parametrize(
    "frame",
    [
        np.random.default_rng(1).integers(0, 256, (72, 128, 3), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (90, 160, 3), dtype=np.uint8)[5:60, 7:99],  # a view
        np.random.default_rng(3).random((20, 30, 3)).astype(np.float32),
        np.random.default_rng(4).integers(0, 256, (20, 30, 4), dtype=np.uint8),
    ],
    ids=["uint8", "view", "float32", "4-channel"],
)
def test_the_bgr_frame_ultralytics_gets_is_the_rgb_frame_reversed(frame):
    """The channel swap before YOLO gives the bytes of reversing the last axis, contiguous."""
    out = bgr_frame(frame)
    assert out.flags.c_contiguous and out.dtype == frame.dtype
    assert np.array_equal(out, frame[..., ::-1])


@pytest.mark.parametrize("where", ["weight", "running_var"])
def test_yolo_weights_that_are_not_finite_are_refused_naming_the_file(tmp_path, where):
    """The finding: a detector.pt holding NaN (a training that diverged) or inf (a float16 value
    that overflowed, e.g. a batch-norm variance) loaded, and its detections were junk or none.
    Now loading refuses it, naming the file and what to do; the embedded weights still load."""
    import torch

    from movingfashion.models.detectors.ultralytics_backend import default_detector_path

    ckpt = torch.load(default_detector_path(), map_location="cpu", weights_only=False)
    net = ckpt.get("ema") or ckpt["model"]
    name, tensor = next((k, v) for k, v in net.state_dict().items() if k.endswith(where))
    with torch.no_grad():
        tensor.view(-1)[0] = float("nan") if where == "weight" else float("inf")
    bad = tmp_path / "detector.pt"
    torch.save(ckpt, bad)
    with pytest.raises(ModelError) as err:
        build_detector("ultralytics", bad, DetectorConfig(device="cpu"))
    text = str(err.value)
    assert err.value.where == str(bad) and "not finite" in text and name in text
    assert "mf train-detector" in text and "--weights" in text and "\n" not in text
    assert build_detector("ultralytics", None, DetectorConfig(device="cpu")).classes
