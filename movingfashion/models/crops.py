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
    for frame, b in zip(frames, boxes, strict=True):
        img = np.asarray(frame)
        h, w = img.shape[0], img.shape[1]
        arr = np.array([[0, 0, w, h]], np.float32) if b is None else _as_box_array(b)
        if not len(arr):
            continue
        arr = arr.copy()
        arr[:, 2] = np.maximum(arr[:, 2], arr[:, 0] + 1)
        arr[:, 3] = np.maximum(arr[:, 3], arr[:, 1] + 1)
        # RoIAlign (aligned, bilinear) reads pixels within a pixel of the boxes: convert only the
        # region around them to float, not the whole frame (the same crops, a fraction of the work)
        x0 = int(max(0, np.floor(arr[:, 0].min()) - _MARGIN))
        y0 = int(max(0, np.floor(arr[:, 1].min()) - _MARGIN))
        x1 = int(min(w, np.ceil(arr[:, 2].max()) + _MARGIN))
        y1 = int(min(h, np.ceil(arr[:, 3].max()) + _MARGIN))
        if x1 <= x0 or y1 <= y0:  # boxes wholly outside the frame: RoIAlign of the frame gives zeros
            x0, y0, x1, y1 = 0, 0, w, h
        region = image_to_tensor(img[y0:y1, x0:x1])[None]
        rois = np.concatenate([np.zeros((len(arr), 1), np.float32), arr - [x0, y0, x0, y0]], axis=1)
        # at a cut edge that is not the frame's edge no sample reaches the edge (the margin), and
        # shifting float32 coordinates by an integer is exact: the same crops up to float rounding
        r = torch.from_numpy(rois.astype(np.float32))
        out.append(
            roi_align(
                region, r, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True
            ).clamp_(0, 1)
        )
    if not out:
        return torch.zeros((0, 3, size, size))
    return torch.cat(out)


#: Pixels kept around the boxes when only their region is converted (bilinear reads one beyond).
_MARGIN = 2
