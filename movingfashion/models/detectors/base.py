"""The detector interface: a batch of RGB frames in, boxes/scores/DF2 classes (+ features) out."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from movingfashion.models.checkpoints import checkpoint_kind, pick_device, weights_identity
from schemas.errors import ModelError

if TYPE_CHECKING:
    import torch

    from movingfashion.models.detectors.capture import FeatureCapture


class DetectorConfig(BaseModel):
    """Detector thresholds and batch settings (documented defaults, overridable by YAML)."""

    model_config = ConfigDict(extra="forbid")

    conf: float = Field(
        0.1,
        ge=0,
        le=1,
        description="minimum detection confidence kept (low: the tracker"
        " filters by matching, and 13 classes split the scores)",
    )
    iou: float = Field(0.6, ge=0, le=1, description="NMS IoU threshold")
    imgsz: int | None = Field(
        None,
        ge=32,
        description="inference size (long side) in pixels; None = the size"
        " the weights were trained at (YOLO), else 320",
    )
    max_det: int = Field(20, ge=1, description="at most this many detections per frame")
    agnostic_nms: bool = Field(
        True, description="NMS across classes: one box per garment even when two classes compete for it"
    )
    batch: int = Field(16, ge=1, description="frames per forward pass")
    device: str | None = Field(
        None,
        description="torch device: cpu, cuda, cuda:N or auto; None or auto = CUDA when present, else CPU",
    )

    @field_validator("device")
    @classmethod
    def _device_name(cls, device: str | None) -> str | None:
        from movingfashion.models.checkpoints import check_device_name

        return check_device_name(device)


@dataclass
class FrameDetections:
    """Detections of one frame: ``boxes`` float32 ``[N,4]`` xyxy pixels, ``scores`` ``[N]``,
    ``classes`` int64 ``[N]`` DeepFashion2 ids 1..13, optional ``features`` ``[N,256,h,w]``."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    features: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> FrameDetections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def refuse_nonfinite_weights(
    state: Mapping[str, Any], where: str | os.PathLike[str], *, hint: str, written: str = ""
) -> None:
    """Refuse (:class:`ModelError` naming ``where``, with ``hint``) detector weights (``state``: a
    state dict) holding a NaN or infinite value: a training that diverged, or float16 values that
    overflowed. Their detections would be junk, or none at all. Every backend checks its weights
    with this at load. ``written``: said after the reason (e.g. that a copy was not written)."""
    from movingfashion.models.matchrcnn import nonfinite_tensors

    bad = nonfinite_tensors({k: v for k, v in state.items() if hasattr(v, "is_floating_point")})
    if not bad:
        return
    name, count = next(iter(bad.items()))
    more = f", and {len(bad) - 1} more tensors" if len(bad) > 1 else ""
    raise ModelError(
        f"the detector's weights are not finite ({name}: {count} values are NaN or infinite{more}):"
        f" its detections would be junk{written}",
        where=str(where),
        hint=hint,
    )


def refuse_other_checkpoint(path: str | os.PathLike[str], takes: str) -> None:
    """Raise :class:`ModelError` when ``path`` is one of the toolkit's own tagged checkpoints (a
    matcher's, SEAM's) given as detector weights; ``takes`` says what ``--weights`` takes. Called
    once loading the file as weights failed, to name the mix-up instead of the loader's error."""
    kind = checkpoint_kind(path)
    if kind is None:
        return
    from movingfashion.models.matchrcnn import MATCHER_KIND
    from movingfashion.models.roi import ROI_MATCHER_KIND

    matchers = {MATCHER_KIND: "a single-frame (crop) matcher", ROI_MATCHER_KIND: "an RoI matcher"}
    if kind in matchers:
        raise ModelError(
            f"this is {matchers[kind]} checkpoint (kind {kind!r}), not detector weights",
            where=str(path),
            hint=f"pass it as --matcher FILE; --weights takes {takes}",
        )
    raise ModelError(
        f"this is a {kind!r} checkpoint of the toolkit, not detector weights",
        where=str(path),
        hint=f"--weights takes {takes}",
    )


class Detector(ABC):
    """A clothing detector. ``name`` is the backend, ``version`` identifies the weights (and names
    their file, for people: compare versions with :func:`same_weights`, which ignores the name)."""

    name: str = "detector"
    version: str = "unknown"
    has_features: bool = False
    #: ``weights=None`` loads weights shipped with the toolkit (else the backend takes
    #: ``allow_random``: random init only when asked, see :func:`build_detector`)
    ships_weights: bool = True

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.device = pick_device(self.config.device)

    @property
    def weights_id(self) -> str:
        """The weights' identity without their file name (:func:`weights_identity`)."""
        return weights_identity(self.version)

    @abstractmethod
    def _detect_batch(self, frames: np.ndarray) -> list[FrameDetections]:
        """One forward pass over at most ``config.batch`` frames."""

    def feature_capture(self) -> FeatureCapture:
        """Hooks keeping the feature maps of this detector's own forward passes (for RoI
        matching); a backend without a feature pyramid raises :class:`ModelError`."""
        raise ModelError(
            f"detector {self.name!r} exposes no feature maps",
            where="feature_capture",
            hint="use crop matching",
        )

    def feature_pass(self, frames: np.ndarray | list[np.ndarray]) -> None:
        """Run as much of the forward pass as fills a :meth:`feature_capture` (pooling features at
        known boxes, e.g. to train an RoI head); the default runs the whole detection."""
        self.detect(frames)

    def detect(self, frames: np.ndarray | list[np.ndarray]) -> list[FrameDetections]:
        """RGB ``uint8`` frames ``[B,H,W,3]`` -> one :class:`FrameDetections` per frame."""
        n = len(frames)
        out: list[FrameDetections] = []
        for i in range(0, n, self.config.batch):
            out.extend(self._detect_batch(frames[i : i + self.config.batch]))
        return out
