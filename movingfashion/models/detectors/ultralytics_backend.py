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


#: a class name that says nothing ("", "3", "class_3", "class3"): a model trained on a data yaml
#: with ``nc:`` only
_ANONYMOUS = re.compile(r"(class_?)?\d*")


def class_map(
    names: dict[int, str] | list[str], *, strict: bool = True, where: str = "--weights"
) -> dict[int, int]:
    """Model class index -> DF2 id: by DF2 name when the model uses them (its other classes are
    dropped), else index + 1 for a model with exactly 13 anonymous classes (``"0"``, ``"class_0"``).
    Any other model was not trained on DeepFashion2's classes (COCO's ``person``, ``bicycle``...):
    a :class:`ModelError` naming ``where``, unless not ``strict`` (an untrained network from a
    model config, whose classes mean nothing yet: index + 1 up to 13)."""
    items = {int(k): str(v) for k, v in (enumerate(names) if isinstance(names, list) else names.items())}
    by_name = {idx: DF2_IDS[name] for idx, name in items.items() if name in DF2_IDS}
    if by_name:
        return by_name
    anonymous = all(_ANONYMOUS.fullmatch(name.strip().lower()) for name in items.values())
    if not strict or (anonymous and sorted(items) == list(range(len(DF2_CLASSES)))):
        return {idx: idx + 1 for idx in items if idx + 1 in DF2_CLASSES}
    shown = ", ".join(repr(items[i]) for i in sorted(items)[:5]) + (", ..." if len(items) > 5 else "")
    raise ModelError(
        f"the weights' {len(items)} classes are not DeepFashion2's ({shown}): their detections would be"
        " read as clothing classes they are not",
        where=where,
        hint="pass YOLO weights trained on DeepFashion2's 13 classes (`mf train-detector --df2 ROOT`),"
        " named as DeepFashion2 names them or 13 numbered classes",
    )


class UltralyticsDetector(Detector):
    """YOLO via ultralytics: batched ``predict``, CUDA when present, classes mapped to DF2 1..13.

    Classes the model has beyond the 13 DF2 ones are dropped. No per-detection RoI features in
    :class:`FrameDetections` (``has_features = False``); :meth:`feature_capture` hooks the neck's
    P3/P4/P5 for the RoI matcher (:mod:`movingfashion.models.roi`).
    """

    name = "ultralytics"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        config: DetectorConfig | None = None,
        *,
        allow_random: bool = False,
    ) -> None:
        """``weights``: a YOLO ``.pt`` (None: the embedded one). A model config (``.yaml``) builds an
        untrained, randomly initialised network: refused (:class:`ModelError`) unless
        ``allow_random`` (tests; ``mf train-detector`` trains from a config its own way)."""
        super().__init__(config)
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_VERBOSE", "False")
        from ultralytics import YOLO

        path = Path(weights) if weights is not None else default_detector_path()
        is_cfg = path.suffix in (".yaml", ".yml")
        if is_cfg and not allow_random:
            raise ModelError(
                "this is a model config: it builds an untrained, randomly initialised detector, whose"
                " tracklets would be junk",
                where=str(path),
                hint="pass trained YOLO weights (.pt: train them from this config with"
                " `mf train-detector --model CONFIG`), or leave --weights out for the embedded ones",
            )
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
            takes = "a YOLO .pt file"
            if not is_cfg:
                refuse_other_checkpoint(path, takes)
            reason = _ULTRALYTICS_PREFIX.sub("", " ".join(str(exc).split()))
            raise ModelError(
                f"cannot load YOLO weights/config: {type(exc).__name__}: {one_line(reason)}",
                where=str(path),
                hint=f"pass {takes}",
            ) from None
        self.classes = class_map(self.model.names, strict=not is_cfg, where=str(path))
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
