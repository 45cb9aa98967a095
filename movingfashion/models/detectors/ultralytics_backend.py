"""The default backend: any ultralytics YOLO weights (``.pt``) or model config (``.yaml``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from movingfashion.models.checkpoints import one_line
from movingfashion.models.detectors.base import (
    Detector,
    DetectorConfig,
    FrameDetections,
    refuse_other_checkpoint,
)
from schemas.atomic import sha256_file
from schemas.errors import ModelError
from schemas.taxonomy import DF2_CLASSES, DF2_IDS

if TYPE_CHECKING:
    from movingfashion.models.detectors.capture import FeatureCapture

#: ultralytics' own "ERROR ❌" opening of its messages (ours already say it is an error)
_ULTRALYTICS_PREFIX = re.compile(r"^(ERROR\s*)?[❌️\s]*")


def default_detector_path() -> Path:
    """The embedded default YOLO weights (``movingfashion/models/weights/detector.pt``)."""
    return Path(__file__).resolve().parent.parent / "weights" / "detector.pt"


def class_map(names: dict[int, str] | list[str]) -> dict[int, int]:
    """Model class index -> DF2 id: by DF2 name when the model uses them, else index + 1."""
    items = dict(enumerate(names)) if isinstance(names, list) else dict(names)
    out = {}
    for idx, name in items.items():
        if name in DF2_IDS:
            out[int(idx)] = DF2_IDS[name]
        elif int(idx) + 1 in DF2_CLASSES:
            out[int(idx)] = int(idx) + 1
    return out


class UltralyticsDetector(Detector):
    """YOLO via ultralytics: batched ``predict``, CUDA when present, classes mapped to DF2 1..13.

    Classes the model has beyond the 13 DF2 ones are dropped. No per-detection RoI features in
    :class:`FrameDetections` (``has_features = False``); :meth:`feature_capture` hooks the neck's
    P3/P4/P5 for the RoI matcher (:mod:`movingfashion.models.roi`).
    """

    name = "ultralytics"

    def __init__(
        self, weights: str | os.PathLike[str] | None = None, config: DetectorConfig | None = None
    ) -> None:
        super().__init__(config)
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_VERBOSE", "False")
        from ultralytics import YOLO

        path = Path(weights) if weights is not None else default_detector_path()
        is_cfg = path.suffix in (".yaml", ".yml")
        if not is_cfg and not path.is_file():
            raise ModelError(
                "detector weights not found",
                where=str(path),
                hint="pass --weights FILE (train one with `mf train-detector --df2 ROOT`)"
                " or rebuild the default with `make weights`",
            )
        try:
            # a bare config name such as "yolov8n.yaml" is resolved by ultralytics itself
            self.model = YOLO(str(path) if path.exists() else path.name)
        except Exception as exc:
            takes = "a YOLO .pt file or a model .yaml"
            if not is_cfg:
                refuse_other_checkpoint(path, takes)
            reason = _ULTRALYTICS_PREFIX.sub("", " ".join(str(exc).split()))
            raise ModelError(
                f"cannot load YOLO weights/config: {type(exc).__name__}: {one_line(reason)}",
                where=str(path),
                hint=f"pass {takes}",
            ) from None
        self.classes = class_map(self.model.names)
        ckpt = getattr(self.model, "ckpt", None) or {}
        trained = (ckpt.get("train_args") or {}).get("imgsz") if isinstance(ckpt, dict) else None
        self.imgsz = int(self.config.imgsz or (trained if isinstance(trained, int) else 320))
        self.version = f"ultralytics:{path.name}" + ("" if is_cfg else f":{sha256_file(path)[:12]}")

    def network(self) -> Any:
        """The ``DetectionModel`` that ``predict`` runs: ultralytics runs a fused copy made when its
        predictor is set up (done here on first use, with one tiny frame), not ``self.model.model``."""
        if getattr(self.model, "predictor", None) is None:
            self.detect(np.zeros((1, 32, 32, 3), np.uint8))
        return self.model.predictor.model.model

    def feature_capture(self) -> FeatureCapture:
        """Hooks on the layers feeding the Detect head (P3/P4/P5 of the neck) and on the first
        layer (its input: the letterboxed image), so RoI matching pools what detection computed."""
        from movingfashion.models.detectors.capture import LetterboxCapture

        net = self.network()
        head = net.model[-1]
        levels = [net.model[i] for i in head.f]
        channels = [int(c) for c in _detect_in_channels(head)]
        return LetterboxCapture(net.model[0], levels, [float(s) for s in head.stride], channels)

    def _detect_batch(self, frames: np.ndarray) -> list[FrameDetections]:
        bgr = [np.ascontiguousarray(f[..., ::-1]) for f in frames]
        cfg = self.config
        results = self.model.predict(
            bgr,
            imgsz=self.imgsz,
            conf=cfg.conf,
            iou=cfg.iou,
            max_det=cfg.max_det,
            agnostic_nms=cfg.agnostic_nms,
            device=str(self.device),
            verbose=False,
            half=False,
        )
        out = []
        for r in results:
            b = r.boxes
            boxes = b.xyxy.cpu().numpy().astype(np.float32)
            scores = b.conf.cpu().numpy().astype(np.float32)
            cls = b.cls.cpu().numpy().astype(np.int64)
            mapped = np.array([self.classes.get(int(c), 0) for c in cls], np.int64)
            keep = mapped > 0
            out.append(FrameDetections(boxes[keep].reshape(-1, 4), scores[keep], mapped[keep]))
        return out


def _detect_in_channels(head: object) -> list[int]:
    """Input channels of each level of an ultralytics Detect head (its first box-branch conv)."""
    return [int(branch[0].conv.in_channels) for branch in head.cv2]  # type: ignore[attr-defined]
