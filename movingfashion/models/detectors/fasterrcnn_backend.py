"""Two-stage backend following Match-RCNN: torchvision Faster R-CNN R50-FPN (built without any
download) whose kept boxes also get 256x6x6 RoIAlign features from the FPN, ready for the
matcher's :meth:`~movingfashion.models.SingleFrameMatcher.embed_features`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.models.detection import fasterrcnn_resnet50_fpn
from torchvision.ops import MultiScaleRoIAlign

from movingfashion.models.checkpoints import one_line
from movingfashion.models.detectors.base import (
    Detector,
    DetectorConfig,
    FrameDetections,
    refuse_nonfinite_weights,
    refuse_other_checkpoint,
)
from movingfashion.models.detectors.capture import FeatureCapture
from schemas.atomic import sha256_file
from schemas.errors import ModelError

NUM_CLASSES = 14  # background + 13 DeepFashion2 classes


#: what ``--weights`` takes for this backend (no weights ship with the toolkit)
TAKES = (
    "a torchvision Faster R-CNN R50-FPN state dict with 14 classes, or a checkpoint holding one as"
    " 'state_dict' or 'model' (torchvision's detection references)"
)


#: what to do with Faster R-CNN weights that are not finite
NONFINITE_HINT = f"train the detector again (with a lower learning rate, if it diverged), or pass {TAKES}"


def _read_state(path: Path) -> Any:
    """The state dict a weights file holds: the file itself, or its ``state_dict`` or ``model``
    entry (torchvision's detection references save ``{"model": ..., "args": Namespace, ...}``),
    with a ``module.`` prefix (a DistributedDataParallel save) taken off. Only tensors and plain
    containers are unpickled (``weights_only``); a file that is no PyTorch file, or that holds a
    whole pickled model, is a :class:`ModelError` saying so."""
    import argparse
    import zipfile

    if not path.is_file():
        raise ModelError("detector weights not found", where=str(path), hint=f"pass {TAKES}")
    with path.open("rb") as fh:
        head = fh.read(2)
    if not zipfile.is_zipfile(path) and head[:1] != b"\x80":  # neither torch's zip nor a pickle
        raise ModelError("not a PyTorch weights file", where=str(path), hint=f"pass {TAKES}")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every way a file fails to load is named below
        refuse_other_checkpoint(path, TAKES)  # a matcher, SEAM: says which flag takes it
        from movingfashion.models.checkpoints import is_yolo_weights

        if is_yolo_weights(path):  # the ultralytics backend's weights (audit_gpu G5)
            raise ModelError(
                "this is YOLO detector weights (ultralytics), not Faster R-CNN's",
                where=str(path),
                hint="pass --detector ultralytics with these --weights",
            ) from None
        if "Weights only load failed" in str(exc):
            raise ModelError(
                "the file holds Python objects besides tensors (a whole pickled model?), which are"
                " not loaded: they could run code",
                where=str(path),
                hint="save the network's model.state_dict() and pass that file",
            ) from None
        raise ModelError(
            f"cannot read the weights: {one_line(exc)}", where=str(path), hint=f"pass {TAKES}"
        ) from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
        if state and all(isinstance(k, str) and k.startswith("module.") for k in state):
            state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


class FasterRCNNDetector(Detector):
    """Faster R-CNN R50-FPN, ``num_classes=14`` (label k = DF2 id k), from ``weights`` (a state
    dict, or a dict with ``state_dict``). No weights ship, so ``weights=None`` is refused
    (:class:`ModelError`): a random-init detector builds junk tracklets; ``allow_random=True``
    builds one anyway (tests, or to save a starting state dict)."""

    name = "fasterrcnn"
    has_features = True
    ships_weights = False

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        config: DetectorConfig | None = None,
        *,
        allow_random: bool = False,
    ) -> None:
        if weights is None and not allow_random:
            raise ModelError(
                "no Faster R-CNN weights ship with the toolkit: a randomly initialised detector would"
                " build junk tracklets",
                where="fasterrcnn",
                hint=f"pass --weights FILE: {TAKES}",
            )
        super().__init__(config)
        cfg = self.config
        size = cfg.imgsz or 320
        self.model = fasterrcnn_resnet50_fpn(
            weights=None,
            weights_backbone=None,
            num_classes=NUM_CLASSES,
            min_size=size,
            max_size=max(size, int(size * 5 / 3)),
            box_score_thresh=cfg.conf,
            box_nms_thresh=cfg.iou,
            box_detections_per_img=cfg.max_det,
        )
        self.version = "fasterrcnn_r50_fpn:random-init"
        if weights is not None:
            p = Path(weights)
            state = _read_state(p)
            try:
                self.model.load_state_dict(state)
            except Exception as exc:
                refuse_other_checkpoint(p, TAKES)
                raise ModelError(
                    f"not Faster R-CNN R50-FPN weights with 14 classes: {one_line(exc)}",
                    where=str(p),
                    hint=f"pass {TAKES}",
                ) from None
            # a diverged training, or float16 values that overflowed: junk detections
            refuse_nonfinite_weights(self.model.state_dict(), p, hint=NONFINITE_HINT)
            self.version = f"fasterrcnn_r50_fpn:{sha256_file(p)[:12]}"
        self.model.eval().to(self.device)
        self.roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], output_size=6, sampling_ratio=2)

    def feature_capture(self) -> FeatureCapture:
        """Hooks on the transform (resized sizes), the backbone's input (the normalised image)
        and its FPN outputs ``0``-``3`` (strides 4-32, 256 channels)."""
        from movingfashion.models.detectors.capture import ResizeCapture

        names = ["0", "1", "2", "3"]
        return ResizeCapture(self.model.transform, self.model.backbone, names, [4, 8, 16, 32], 256)

    def _images(self, frames: np.ndarray | list[np.ndarray]) -> list[torch.Tensor]:
        return [
            torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1).float().div(255).to(self.device)
            for f in frames
        ]

    @torch.no_grad()
    def feature_pass(self, frames: np.ndarray | list[np.ndarray]) -> None:
        """Transform + backbone/FPN only: the RPN and box head (most of the CPU time on 1000
        proposals per image) are not needed to fill a feature capture."""
        for i in range(0, len(frames), self.config.batch):
            batch, _ = self.model.transform(self._images(frames[i : i + self.config.batch]))
            self.model.backbone(batch.tensors)

    @torch.no_grad()
    def _detect_batch(self, frames: np.ndarray) -> list[FrameDetections]:
        m = self.model
        images = self._images(frames)
        sizes = [tuple(im.shape[-2:]) for im in images]
        batch, _ = m.transform(images)
        feats = m.backbone(batch.tensors)
        proposals, _ = m.rpn(batch, feats)
        dets, _ = m.roi_heads(feats, proposals, batch.image_sizes)
        boxes_t = [d["boxes"] for d in dets]
        roi_feats = self.roi_pool(feats, boxes_t, batch.image_sizes)
        dets = m.transform.postprocess(dets, batch.image_sizes, sizes)
        out, start = [], 0
        for d in dets:
            n = len(d["boxes"])
            out.append(
                FrameDetections(
                    d["boxes"].cpu().numpy().astype(np.float32),
                    d["scores"].cpu().numpy().astype(np.float32),
                    d["labels"].cpu().numpy().astype(np.int64),
                    roi_feats[start : start + n].cpu(),
                )
            )
            start += n
        return out
