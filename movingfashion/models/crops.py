"""Cut fixed-size RGB crops out of frames, vectorised with RoIAlign."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchvision.ops import roi_align

from schemas.errors import DataFormatError


def image_to_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``uint8 [H,W,3]`` RGB (or ``[B,H,W,3]``) -> float ``[3,H,W]`` (``[B,3,H,W]``) in [0, 1]."""
    t = torch.as_tensor(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    if t.dtype == torch.uint8:
        t = t.float().div_(255.0)
    else:
        t = t.float()
    if t.ndim == 3:
        return t.permute(2, 0, 1).contiguous()
    if t.ndim == 4:
        return t.permute(0, 3, 1, 2).contiguous()
    raise DataFormatError(
        f"expected an RGB image [H,W,3] or a batch [B,H,W,3], got shape {tuple(t.shape)}",
        where="crops_from_frames",
    )


def _as_box_array(b: object) -> np.ndarray:
    arr = np.asarray(b, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), np.float32)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise DataFormatError(
            f"boxes must be [4] or [K,4] xyxy, got shape {arr.shape}", where="crops_from_frames"
        )
    return arr


def crops_from_frames(
    frames: Sequence[np.ndarray] | np.ndarray, boxes: Sequence[object], size: int
) -> torch.Tensor:
    """Crops of ``size x size`` pixels, float in [0, 1], ``[N,3,size,size]``.

    ``frames``: RGB ``uint8`` images ``[H,W,3]`` (a list, or an array ``[B,H,W,3]``);
    ``boxes[i]``: one box ``[4]`` or several ``[K,4]`` (absolute xyxy pixels) for ``frames[i]``;
    ``None`` means the whole frame. Crops come out in frame order, then box order. The crop is
    stretched to a square (the aspect ratio is not kept), bilinear, via RoIAlign.
    """
    if len(frames) != len(boxes):
        raise DataFormatError(
            f"{len(frames)} frames but {len(boxes)} box lists",
            where="crops_from_frames",
            hint="pass one box (or box array) per frame",
        )
    out: list[torch.Tensor] = []
    # group consecutive frames of equal shape so RoIAlign runs once per group
    i = 0
    n = len(frames)
    while i < n:
        shape = np.shape(frames[i])
        j = i
        while j < n and np.shape(frames[j]) == shape:
            j += 1
        h, w = shape[0], shape[1]
        rois = []
        for k in range(i, j):
            b = boxes[k]
            arr = np.array([[0, 0, w, h]], np.float32) if b is None else _as_box_array(b)
            if len(arr):
                rois.append(np.concatenate([np.full((len(arr), 1), k - i, np.float32), arr], axis=1))
        if rois:
            batch = image_to_tensor(np.stack([np.asarray(frames[k]) for k in range(i, j)]))
            r = torch.from_numpy(np.concatenate(rois))
            r[:, 3] = torch.maximum(r[:, 3], r[:, 1] + 1)
            r[:, 4] = torch.maximum(r[:, 4], r[:, 2] + 1)
            out.append(
                roi_align(
                    batch, r, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True
                ).clamp_(0, 1)
            )
        i = j
    if not out:
        return torch.zeros((0, 3, size, size))
    return torch.cat(out)
