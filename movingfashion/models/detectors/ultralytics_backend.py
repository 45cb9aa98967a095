"""The default backend: any ultralytics YOLO weights (``.pt``) or model config (``.yaml``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from movingfashion.models.detectors.base import Detector, DetectorConfig, FrameDetections
from schemas.atomic import sha256_file
from schemas.errors import ModelError
from schemas.taxonomy import DF2_CLASSES, DF2_IDS


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

    Classes the model has beyond the 13 DF2 ones are dropped. No RoI features
    (``has_features = False``): the matcher embeds crops instead.
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
            raise ModelError(
                f"cannot load YOLO weights/config: {type(exc).__name__}: {str(exc)[:200]}",
                where=str(path),
                hint="pass a YOLO .pt file or a model .yaml",
            ) from None
        self.classes = class_map(self.model.names)
        ckpt = getattr(self.model, "ckpt", None) or {}
        trained = (ckpt.get("train_args") or {}).get("imgsz") if isinstance(ckpt, dict) else None
        self.imgsz = int(self.config.imgsz or (trained if isinstance(trained, int) else 320))
        self.version = f"ultralytics:{path.name}" + ("" if is_cfg else f":{sha256_file(path)[:12]}")

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
