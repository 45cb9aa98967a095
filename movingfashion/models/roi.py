"""RoI matching: descriptors pooled from the detector's own feature maps (Match-RCNN's design).

The crop matcher (:mod:`movingfashion.models.matchrcnn`) cuts every detection out of the frame
and runs a second network on it; here the detector's forward pass is captured instead
(:meth:`~movingfashion.models.detectors.Detector.feature_capture`: for YOLO the neck's P3/P4/P5
and the letterboxed input image, for Faster R-CNN the FPN levels and its input), each box is
pooled with RoIAlign on every level (``pool x pool`` cells, :func:`pool_boxes`) and a small head
(:class:`RoIHead`: a 1x1 conv per level, two linear layers, about 0.2 M multiply-adds per box
against 119 M for a 64 px crop) gives the descriptor that ``m`` (the same
:class:`~movingfashion.models.matchrcnn.MatchHead`) scores.

- :class:`RoIMatcher`: head + ``m``; save/load (:func:`load_roi_matcher`, float32 only,
  refusing non-finite values); bound to the detector whose features it was trained on.
- :class:`RoIEmbedder`: a matcher attached to a detector: ``detect(frames)`` returns the
  detections and their descriptors from one forward pass; ``embed_images`` embeds whole images
  (the shop image) through the same backbone.
- Training: :func:`movingfashion.models.pretrain.train_roi_matcher` on pooled features of true
  boxes (:func:`pool_boxes`), the detector frozen.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import roi_align

from movingfashion.models.checkpoints import (
    content_tag,
    pick_device,
    read_tagged_checkpoint,
    same_weights,
    write_tagged_checkpoint,
)
from movingfashion.models.matchrcnn import MatchHead, nonfinite_tensors
from schemas.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from movingfashion.models.detectors import Detector, FrameDetections
    from movingfashion.models.detectors.capture import FeatureCapture

ROI_MATCHER_KIND = "mf-roi-matcher"
ROI_MATCHER_VERSION = 1


def default_roi_matcher_path() -> Path:
    """Where the embedded RoI matcher lives (``movingfashion/models/weights/roi_matcher.pt``)."""
    return Path(__file__).resolve().parent / "weights" / "roi_matcher.pt"


def pool_boxes(
    capture: FeatureCapture, boxes: Sequence[np.ndarray], frames_hw: Sequence[tuple[int, int]], pool: int
) -> torch.Tensor:
    """RoIAlign of every box on every captured level: ``[N, sum(channels), pool, pool]``.

    ``boxes[i]`` ``[K_i, 4]`` xyxy in the pixels of the i-th frame of the captured forward
    passes (``frames_hw[i]`` its height and width); rows come out in frame order, then box
    order. Sampling ratio 2, ``aligned=True``, each level at ``1 / stride``.
    """
    out: list[torch.Tensor] = []
    frame = 0
    for call in capture.calls:
        n = len(call[0])
        rows = []
        for j in range(n):
            b = np.asarray(boxes[frame + j], np.float32).reshape(-1, 4)
            if len(b):
                inp = capture.to_input(b, frame + j, frames_hw[frame + j])
                rows.append(np.concatenate([np.full((len(b), 1), j, np.float32), inp], axis=1))
        frame += n
        if not rows:
            continue
        rois = torch.from_numpy(np.concatenate(rows)).to(call[0].device)
        out.append(
            torch.cat(
                [
                    roi_align(
                        level.float(),
                        rois,
                        output_size=(pool, pool),
                        spatial_scale=1.0 / stride,
                        sampling_ratio=2,
                        aligned=True,
                    )
                    for level, stride in zip(call, capture.strides, strict=True)
                ],
                dim=1,
            )
        )
    if frame != len(boxes):
        raise ModelError(
            f"{len(boxes)} box lists but {frame} frames captured", where="pool_boxes", hint="one per frame"
        )
    if not out:
        dev = capture.calls[0][0].device
        return torch.zeros((0, sum(capture.channels), pool, pool), device=dev)
    return torch.cat(out)


class RoIHead(nn.Module):
    """Pooled multi-level features ``[N, sum(channels), p, p]`` -> descriptors ``[N, dim]``.

    Per level a 1x1 conv to ``reduce`` channels + BatchNorm + ReLU, then the concatenated
    ``levels x reduce x p x p`` cells through Linear -> BatchNorm1d -> ReLU -> Linear ->
    BatchNorm1d (the last like f's embedding BatchNorm).
    """

    def __init__(self, channels: Sequence[int], pool: int = 3, reduce: int = 16, dim: int = 128) -> None:
        super().__init__()
        self.channels, self.pool, self.reduce_to, self.dim = (
            tuple(int(c) for c in channels),
            pool,
            reduce,
            dim,
        )
        self.reduce = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, reduce, 1, bias=False), nn.BatchNorm2d(reduce), nn.ReLU(inplace=True))
            for c in self.channels
        )
        flat = len(self.channels) * reduce * pool * pool
        self.fc = nn.Sequential(
            nn.Linear(flat, dim),
            nn.BatchNorm1d(dim),
            nn.ReLU(inplace=True),
            nn.Linear(dim, dim),
            nn.BatchNorm1d(dim),
        )

    def macs(self) -> int:
        """Multiply-adds per box."""
        cells = self.pool * self.pool
        convs = sum(c * self.reduce_to * cells for c in self.channels)
        flat = len(self.channels) * self.reduce_to * cells
        return convs + flat * self.dim + self.dim * self.dim

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        parts = torch.split(pooled, list(self.channels), dim=1)
        x = torch.cat([f(p) for f, p in zip(self.reduce, parts, strict=True)], dim=1)
        return self.fc(x.flatten(1))


class RoIMatcher(nn.Module):
    """:class:`RoIHead` + ``m`` (:class:`~movingfashion.models.matchrcnn.MatchHead`) for one
    detector's feature pyramid (``channels``/``strides`` of its capture, level 0 = the image).

    ``detector`` names the detector weights the head was trained on (their ``version``): features
    of other weights mean something else, so :class:`RoIEmbedder` refuses them (weights with the
    same content hash under another file name are the same weights).
    """

    def __init__(
        self,
        channels: Sequence[int],
        strides: Sequence[float],
        pool: int = 3,
        reduce: int = 16,
        dim: int = 128,
        detector: str | None = None,
    ) -> None:
        super().__init__()
        if len(channels) != len(strides):
            raise ModelError(f"{len(channels)} channel counts but {len(strides)} strides", where="RoIMatcher")
        self.strides = tuple(float(s) for s in strides)
        self.head = RoIHead(channels, pool, reduce, dim)
        self.m = MatchHead(dim)
        self.detector = detector
        self.tag = f"{ROI_MATCHER_KIND}/v{ROI_MATCHER_VERSION}:untrained"

    @property
    def pool(self) -> int:
        return self.head.pool

    @property
    def dim(self) -> int:
        return self.head.dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored in checkpoints)."""
        h = self.head
        return {
            "channels": list(h.channels),
            "strides": list(self.strides),
            "pool": h.pool,
            "reduce": h.reduce_to,
            "dim": h.dim,
            "detector": self.detector,
        }

    def embed_pooled(self, pooled: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Pooled features ``[N, sum(channels), p, p]`` -> descriptors ``[N, dim]`` (current mode)."""
        if len(pooled) == 0:
            return torch.zeros((0, self.dim), device=self.device)
        return torch.cat(
            [self.head(pooled[i : i + batch_size].to(self.device)) for i in range(0, len(pooled), batch_size)]
        )

    def score_matrix(self, queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
        """All pairs -> match scores ``[Q,G]`` (``m``'s expanded form)."""
        return self.m.score_matrix(queries, gallery)

    def save(self, path: str | os.PathLike[str], *, meta: dict[str, Any] | None = None) -> str:
        """Write a tagged float32 checkpoint atomically; returns its tag. Refuses
        (:class:`ModelError`, nothing written) when a parameter or buffer is not finite."""
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        bad = nonfinite_tensors(state)
        if bad:
            raise ModelError(
                f"refusing to save an RoI matcher with non-finite values: {bad}", where=str(path)
            )
        tag = write_tagged_checkpoint(
            path,
            kind=ROI_MATCHER_KIND,
            version=ROI_MATCHER_VERSION,
            config=self.config(),
            state=state,
            meta=meta,
            salt=repr(sorted(self.config().items())).encode(),
        )
        self.tag = tag
        return tag


def load_roi_matcher(
    path: str | os.PathLike[str] | None = None, device: str | torch.device | None = None
) -> RoIMatcher:
    """Load an RoI matcher checkpoint (``None`` = the embedded one), in eval mode; raises
    :class:`ModelError` naming the file when it is missing, corrupt, of another kind, does not
    fit, or holds non-finite values."""
    p = Path(path) if path is not None else default_roi_matcher_path()
    hint = "train one with `python -m movingfashion.world.weights_build --world WORLD --roi-matcher-only --out DIR`"
    ckpt = read_tagged_checkpoint(
        p, kind=ROI_MATCHER_KIND, version=ROI_MATCHER_VERSION, what="RoI matcher", hint=hint
    )
    try:
        model = RoIMatcher(**ckpt["config"])
        state = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
        model.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, AttributeError, ModelError) as exc:
        raise ModelError(
            f"checkpoint does not fit the RoI matcher: {str(exc).splitlines()[0]}", where=str(p), hint=hint
        ) from None
    bad = nonfinite_tensors(state)
    if bad:
        raise ModelError(f"the checkpoint holds non-finite values {bad}", where=str(p), hint=hint)
    salt = repr(sorted(model.config().items())).encode()
    model.tag = content_tag(ROI_MATCHER_KIND, ROI_MATCHER_VERSION, state, salt)  # what it holds
    model.path = None if path is None else str(path)  # named in messages (None: the embedded one)
    return model.to(pick_device(device)).eval()


class RoIEmbedder:
    """An :class:`RoIMatcher` attached to a detector (hooks on its feature layers): detections and
    their descriptors from the detector's single forward pass per batch."""

    def __init__(self, matcher: RoIMatcher, detector: Detector, *, check_detector: bool = True) -> None:
        self.capture = detector.feature_capture()
        if (
            tuple(self.capture.channels) != matcher.head.channels
            or tuple(self.capture.strides) != matcher.strides
        ):
            self.capture.close()
            raise ConfigError(
                f"the RoI matcher expects levels {matcher.head.channels} at strides {matcher.strides}, detector"
                f" {detector.name!r} gives {self.capture.channels} at {self.capture.strides}",
                where="RoI matcher",
                hint="use an RoI matcher trained on this detector's features",
            )
        if (
            check_detector
            and matcher.detector is not None
            and not same_weights(matcher.detector, detector.version)
        ):
            self.capture.close()
            raise ConfigError(
                f"the RoI matcher was trained on detector {matcher.detector!r}, not {detector.version!r}",
                where=f"--matcher {getattr(matcher, 'path', None) or '(the embedded RoI matcher)'}",
                hint="train an RoI matcher on these detector weights (python -m movingfashion.world.weights_build "
                "--roi-matcher-only --detector-weights FILE), "
                "or embed crops instead: --embed crops",
            )
        self.matcher = matcher.eval().to(detector.device)
        self.detector = detector

    @torch.no_grad()
    def detect(self, frames: np.ndarray | list[np.ndarray]) -> tuple[list[FrameDetections], torch.Tensor]:
        """Detections of ``frames`` and the descriptors ``[N, dim]`` of all their boxes (frame
        order, then box order), from the detector's own forward passes."""
        self.capture.clear()
        dets = self.detector.detect(frames)
        return dets, self.embed_boxes(frames, [d.boxes for d in dets])

    @torch.no_grad()
    def embed_boxes(self, frames: np.ndarray | list[np.ndarray], boxes: Sequence[np.ndarray]) -> torch.Tensor:
        """Descriptors of ``boxes`` (one array per frame) pooled from the maps the last
        :meth:`detect` (or ``detector.detect`` after ``capture.clear()``) captured for ``frames``."""
        hw = [(int(f.shape[0]), int(f.shape[1])) for f in frames]
        return self.matcher.embed_pooled(pool_boxes(self.capture, boxes, hw, self.matcher.pool))

    @torch.no_grad()
    def embed_images(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """Whole images (e.g. shop images) -> ``[B, dim]``: each through the detector's backbone
        (one :meth:`~movingfashion.models.detectors.base.Detector.feature_pass` each: sizes
        differ; no detection head) and pooled over the whole image."""
        out = []
        for img in images:
            self.capture.clear()
            self.detector.feature_pass([img])
            h, w = img.shape[:2]
            out.append(self.embed_boxes([img], [np.array([[0, 0, w, h]], np.float32)]))
        return torch.cat(out) if out else torch.zeros((0, self.matcher.dim), device=self.matcher.device)

    def close(self) -> None:
        """Remove the hooks from the detector."""
        self.capture.close()
