"""Feature maps a detector computes anyway, captured during its own forward pass (forward hooks).

A :class:`FeatureCapture` holds hooks on the modules whose outputs are the detector's feature
pyramid (and on the module that receives the network's input image): every forward pass of a
``detect()`` call leaves its maps in :attr:`FeatureCapture.calls`, and
:meth:`FeatureCapture.to_input` maps a frame's boxes (original pixels) into the network's input
pixels, so RoIAlign can pool them. Nothing runs a second forward: the hooks only keep references
to tensors the detector's own forward made.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from schemas.errors import ModelError


class FeatureCapture(ABC):
    """Hooks on a detector's feature layers; see the module docstring.

    ``strides[k]`` is the number of input pixels per cell of level ``k`` (level 0 is the
    network's input image itself, stride 1); ``channels[k]`` its channel count.
    """

    strides: tuple[float, ...]
    channels: tuple[int, ...]

    def __init__(self) -> None:
        self._handles: list[Any] = []
        self._calls: list[list[torch.Tensor | None]] = []

    @property
    def forwards(self) -> int:
        """Forward passes of the detector's network seen since :meth:`clear`."""
        return len(self._calls)

    def _start(self, image: torch.Tensor) -> None:
        """A forward begins (pre-hook of the module receiving the input image)."""
        self._calls.append([image.detach(), *([None] * (len(self.strides) - 1))])

    def _levels_hook(self, module: nn.Module, first: int, pick: Callable[[Any], list[torch.Tensor]]) -> None:
        """Keep ``pick(output)`` of ``module`` as levels ``first, first + 1, ...`` of the current forward."""

        def keep(m: nn.Module, args: Any, out: Any) -> None:
            if self._calls:
                for k, t in enumerate(pick(out)):
                    self._calls[-1][first + k] = t.detach()

        self._handles.append(module.register_forward_hook(keep))

    def _image_hook(self, module: nn.Module) -> None:
        self._handles.append(module.register_forward_pre_hook(lambda m, args: self._start(args[0])))

    def clear(self) -> None:
        """Forget the maps of earlier calls (done before each ``detect()`` that is pooled)."""
        self._calls = []
        self._reset()

    def _reset(self) -> None:
        """Backend state to forget with the maps (none here)."""
        return None

    @property
    def calls(self) -> list[list[torch.Tensor]]:
        """Per forward pass since :meth:`clear`, its maps: one ``[B, C_k, h_k, w_k]`` per level."""
        if not self._calls:
            raise ModelError(
                "no feature maps captured: run the detector after attaching the capture",
                where="FeatureCapture.calls",
            )
        for call in self._calls:
            if any(t is None for t in call):
                raise ModelError("a forward pass left a feature level uncaptured", where="FeatureCapture")
        return self._calls  # type: ignore[return-value]

    @abstractmethod
    def to_input(self, boxes: np.ndarray, frame: int, frame_hw: tuple[int, int]) -> np.ndarray:
        """Boxes ``[K,4]`` xyxy in the pixels of frame ``frame`` (its index since :meth:`clear`;
        ``frame_hw`` = its height, width) -> the same boxes in the network's input pixels."""

    def close(self) -> None:
        """Remove the hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._calls = []


class LetterboxCapture(FeatureCapture):
    """Capture for a network fed letterboxed images (ultralytics YOLO): every frame of a batch
    resized to ``round(side * gain)`` per side and padded symmetrically to the input size (the
    inverse of ``ultralytics.utils.ops.scale_boxes``)."""

    def __init__(
        self, first: nn.Module, levels: list[nn.Module], strides: list[float], channels: list[int]
    ) -> None:
        super().__init__()
        self.strides = (1.0, *(float(s) for s in strides))
        self.channels = (3, *channels)
        self._image_hook(first)
        for k, mod in enumerate(levels):
            self._levels_hook(mod, 1 + k, lambda y: [y])

    def to_input(self, boxes: np.ndarray, frame: int, frame_hw: tuple[int, int]) -> np.ndarray:
        n = 0
        for call in self.calls:
            if frame < n + len(call[0]):
                h_in, w_in = int(call[0].shape[-2]), int(call[0].shape[-1])
                break
            n += len(call[0])
        else:
            raise ModelError(f"frame {frame} was not in the captured forward passes", where="to_input")
        h, w = frame_hw
        gain = min(h_in / h, w_in / w)
        new_h, new_w = max(round(h * gain), 1), max(round(w * gain), 1)  # the letterbox rounds each side
        pad_x = round((w_in - new_w) / 2 - 0.1)
        pad_y = round((h_in - new_h) / 2 - 0.1)
        scale = np.array([new_w / w, new_h / h, new_w / w, new_h / h], np.float32)
        return np.asarray(boxes, np.float32) * scale + np.array([pad_x, pad_y, pad_x, pad_y], np.float32)


class ResizeCapture(FeatureCapture):
    """Capture for torchvision's Faster R-CNN: each image resized by its own factor and placed
    top-left in a padded batch (``GeneralizedRCNNTransform``), FPN maps from the backbone."""

    def __init__(
        self, transform: nn.Module, backbone: nn.Module, names: list[str], strides: list[float], channels: int
    ) -> None:
        super().__init__()
        self.strides = (1.0, *(float(s) for s in strides))
        self.channels = (3, *([channels] * len(names)))
        self._sizes: list[tuple[int, int]] = []
        self._handles.append(transform.register_forward_hook(lambda m, a, out: self._keep_sizes(out)))
        self._image_hook(backbone)
        self._levels_hook(backbone, 1, lambda feats: [feats[n] for n in names])

    def _keep_sizes(self, out: Any) -> None:
        self._sizes.extend((int(s[0]), int(s[1])) for s in out[0].image_sizes)

    def _reset(self) -> None:
        self._sizes = []

    def to_input(self, boxes: np.ndarray, frame: int, frame_hw: tuple[int, int]) -> np.ndarray:
        if frame >= len(self._sizes):
            raise ModelError(f"frame {frame} was not in the captured forward passes", where="to_input")
        h_in, w_in = self._sizes[frame]
        h, w = frame_hw
        scale = np.array([w_in / w, h_in / h, w_in / w, h_in / h], np.float32)
        return np.asarray(boxes, np.float32) * scale
