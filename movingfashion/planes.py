"""Pictures into the clip's pixel layout: resized into one uint8 buffer (:class:`_Resizer`), planar
``[N, 3, H, W]`` in one vectorised pass (:func:`_planar`, :func:`_into_planes`), and the item's
tensor of its dtype (:func:`clip_tensor`). Shared by the clip datasets."""

from __future__ import annotations

import numpy as np
import torch

from movingfashion.records import Size
from movingfashion.unit_float import unit_float


class _Resizer:
    """Writes pictures resized to ``size`` = ``(h, w)`` (INTER_AREA; a picture already that size
    is copied) into row ``i`` of one new uint8 clip ``out``: ``[n, h, w, 3]``, or ``[n, 3, h, w]``
    when ``planar``, through one small scratch picture that stays in the CPU's cache.

    Planar straight into the item's buffer because a second clip-sized buffer is what costs: each
    fresh one is paged in by the kernel (one fault per 4 KiB, ~4 us each on the machines measured;
    368 for ten 224 px crops), and glibc hands the freed pair back to the kernel, so every item
    paid ~1.5 ms, more than the resizing itself (docs/performance.md, per-clip overhead)."""

    def __init__(self, size: Size, n: int, planar: bool) -> None:
        self.size = (int(size[0]), int(size[1]))
        h, w = self.size
        self.planar = planar
        self.out = np.empty((n, 3, h, w) if planar else (n, h, w, 3), np.uint8)
        self._scratch = np.empty((h, w, 3), np.uint8) if planar else None

    def __call__(self, i: int, img: np.ndarray) -> None:
        import cv2

        h, w = self.size
        if not self.planar:
            if img.shape[:2] == (h, w):
                self.out[i] = img
            else:
                cv2.resize(img, (w, h), dst=self.out[i], interpolation=cv2.INTER_AREA)
            return
        if img.shape[:2] == (h, w):
            src = img
        else:
            src = cv2.resize(img, (w, h), dst=self._scratch, interpolation=cv2.INTER_AREA)
        _into_planes(src, self.out[i])


def clip_tensor(arr: np.ndarray, dtype: torch.dtype = torch.float32, *, planar: bool = False) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> ``[N, 3, H, W]``: float in [0, 1], or uint8 as is (``torch.uint8``).
    ``planar``: ``arr`` is already ``[N, 3, H, W]`` (C-contiguous) and is taken as is."""
    t = torch.from_numpy(np.asarray(arr) if planar else _planar(np.asarray(arr)))
    if dtype == torch.uint8:
        return t
    if dtype == torch.float32:  # one pass (uint8 -> float32 / 255), bit-identical to two
        return unit_float(t)
    return t.to(dtype).div_(255.0)


def _planar(arr: np.ndarray) -> np.ndarray:
    """``[N, H, W, C]`` -> a C-contiguous ``[N, C, H, W]`` copy. For uint8 pictures OpenCV's
    split writes each plane in one vectorised pass, 3x faster than numpy's strided transpose
    (itself ~3x faster than torch's ``permute().contiguous()``): 0.15 against 0.45 ms for 10
    crops of 224 px, about 1.5% of ``dataset[i]`` on a 176x144 clip. Same bytes either way."""
    if arr.dtype != np.uint8 or arr.ndim != 4 or not 2 <= arr.shape[3] <= 4 or 0 in arr.shape:
        return arr.transpose(0, 3, 1, 2).copy(order="C")  # a fresh array: no negative stride left
    out = np.empty((arr.shape[0], arr.shape[3], *arr.shape[1:3]), np.uint8)
    for img, planes in zip(arr, out, strict=True):
        _into_planes(img, planes)
    return out


def _into_planes(img: np.ndarray, planes: np.ndarray) -> None:
    """Write uint8 ``img`` ``[H, W, C]`` into the C-contiguous ``planes`` ``[C, H, W]`` (one
    vectorised pass, as :func:`_planar`)."""
    import cv2

    cv2.split(img, list(planes))
