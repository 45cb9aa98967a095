"""Cut fixed-size RGB crops out of frames, vectorised with RoIAlign, converting to float only
the pixels the boxes can read."""

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
        for x0, y0, x1, y1, rows in _regions(arr, w, h):
            out.append(_crops_in_region(img, arr[rows], (x0, y0, x1, y1), size))
    if not out:
        return torch.zeros((0, 3, size, size))
    return torch.cat(out)


def _region(arr: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """The pixels RoIAlign (aligned, bilinear) can read for these boxes: their extent plus
    :data:`_MARGIN`, inside the frame; the whole frame when the boxes lie wholly outside it
    (RoIAlign of the frame gives zeros there)."""
    x0 = int(max(0, np.floor(arr[:, 0].min()) - _MARGIN))
    y0 = int(max(0, np.floor(arr[:, 1].min()) - _MARGIN))
    x1 = int(min(w, np.ceil(arr[:, 2].max()) + _MARGIN))
    y1 = int(min(h, np.ceil(arr[:, 3].max()) + _MARGIN))
    if x1 <= x0 or y1 <= y0:
        return 0, 0, w, h
    return x0, y0, x1, y1


def _area(r: tuple[int, int, int, int]) -> int:
    return (r[2] - r[0]) * (r[3] - r[1])


def _regions(arr: np.ndarray, w: int, h: int) -> list[tuple[int, int, int, int, np.ndarray]]:
    """Regions to convert to float for a frame's boxes, each with the rows of ``arr`` it serves:
    one around all of them, or one per box when that converts less than half as many pixels
    (boxes far apart, e.g. two people at both edges of a wide frame)."""
    whole = _region(arr, w, h)
    if len(arr) > 1:
        each = [_region(arr[i : i + 1], w, h) for i in range(len(arr))]
        if 2 * sum(_area(r) for r in each) < _area(whole):
            return [(*r, np.array([i])) for i, r in enumerate(each)]
    return [(*whole, np.arange(len(arr)))]


def _crops_in_region(
    img: np.ndarray, arr: np.ndarray, region: tuple[int, int, int, int], size: int
) -> torch.Tensor:
    """RoIAlign crops of boxes ``arr`` (frame pixels) from ``img``, reading only ``region``.

    At a cut edge that is not the frame's edge no sample reaches the edge (the margin), and
    shifting float32 coordinates by an integer is exact: the crops of RoIAlign on the whole frame
    in [0, 1], up to float rounding. The region goes channels-first while still ``uint8`` and is
    converted once; RoIAlign is linear, so its output is divided by 255 instead of its input.
    """
    x0, y0, x1, y1 = region
    pix = torch.from_numpy(np.ascontiguousarray(img[y0:y1, x0:x1])).permute(2, 0, 1).contiguous()
    rois = np.concatenate([np.zeros((len(arr), 1), np.float32), arr - [x0, y0, x0, y0]], axis=1)
    r = torch.from_numpy(rois.astype(np.float32))
    crops = roi_align(
        pix.float()[None], r, output_size=(size, size), spatial_scale=1.0, sampling_ratio=2, aligned=True
    )
    return crops.div_(255.0).clamp_(0, 1)


#: Pixels kept around the boxes when only their region is converted (bilinear reads one beyond).
_MARGIN = 2
