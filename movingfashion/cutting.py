"""How a clip's frames are cut: the window ``crop="tracklet"`` cuts around a box, the crops
resized to ``crop_size``, whole frames at ``frame_size`` with their boxes scaled, and the boxes
in their crops' pixels. The functions taking ``dataset`` read its ``crop_size``, ``frame_size``
and ``context``; :class:`~movingfashion.dataset.MovingFashionDataset` holds them as its methods
(``_crops``, ``_whole``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from movingfashion.planes import _Resizer

if TYPE_CHECKING:
    from movingfashion.dataset import MovingFashionDataset


def crop_window(
    box: Sequence[float], size: tuple[int, int], context: float = 0.0
) -> tuple[int, int, int, int]:
    """The pixels ``(x1, y1, x2, y2)`` that ``crop="tracklet"`` cuts for ``box`` in a frame of
    ``size`` (H, W): the box grown by ``context`` of its width and height, rounded outwards and
    clipped to the frame, at least one pixel. A box wholly outside the frame still cuts its nearest
    edge pixel: a video whose frame size was not known yet is checked right after the cut, which
    drops (or, with ``on_bad="raise"``, refuses) that box and samples again."""
    h, w = size
    x1, y1, x2, y2 = map(float, box)
    if context:
        dx, dy = (x2 - x1) * context / 2, (y2 - y1) * context / 2
        x1, y1, x2, y2 = x1 - dx, y1 - dy, x2 + dx, y2 + dy
    xa, ya = min(w - 1, max(0, math.floor(x1))), min(h - 1, max(0, math.floor(y1)))
    xb, yb = min(w, max(xa + 1, math.ceil(x2))), min(h, max(ya + 1, math.ceil(y2)))
    return xa, ya, xb, yb


def crops(
    dataset: MovingFashionDataset, arr: Sequence[np.ndarray], boxes: np.ndarray, *, planar: bool = False
) -> np.ndarray:
    """The crops of ``boxes`` resized to ``crop_size``: ``[T, h, w, 3]``, or ``[T, 3, h, w]``
    when ``planar``."""
    ch, cw = dataset.crop_size or (224, 224)
    into = _Resizer((ch, cw), len(arr), planar)
    for i, (img, b) in enumerate(zip(arr, boxes, strict=True)):
        xa, ya, xb, yb = crop_window(b, img.shape[:2], dataset.context)
        into(i, img[ya:yb, xa:xb])
    return into.out


def boxes_in_crops(
    dataset: MovingFashionDataset,
    boxes: np.ndarray,
    orig_size: tuple[int, int],
    windows: Sequence[tuple[int, int, int, int]] | None = None,
) -> np.ndarray:
    """``boxes`` (source pixels) in the pixels of their crops (:func:`crops`, the windows of
    :func:`crop_window`), clipped to the crop; NaN rows stay NaN. Plain floats: this runs
    for every item (tens of microseconds for T = 10). ``windows``: each box's
    :func:`crop_window` in a frame of ``orig_size``, when the caller has them already (the live
    cut computed them as it decoded: ~15 us less an item)."""
    ch, cw = dataset.crop_size or (224, 224)
    out = []
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4).tolist()):
        if math.isnan(x1 + y1 + x2 + y2):
            out.append([math.nan] * 4)
            continue
        if windows is not None:
            xa, ya, xb, yb = windows[k]
        else:
            xa, ya, xb, yb = crop_window((x1, y1, x2, y2), orig_size, dataset.context)
        sx, sy = cw / (xb - xa), ch / (yb - ya)
        out.append(
            [
                min(cw, max(0.0, (x1 - xa) * sx)),
                min(ch, max(0.0, (y1 - ya) * sy)),
                min(cw, max(0.0, (x2 - xa) * sx)),
                min(ch, max(0.0, (y2 - ya) * sy)),
            ]
        )
    return np.array(out, np.float32).reshape(-1, 4)


def whole_frames(
    dataset: MovingFashionDataset, arr: Sequence[np.ndarray], boxes: np.ndarray, *, planar: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Whole frames at ``frame_size`` (as decoded when None) and their boxes scaled alike:
    ``[T, H, W, 3]``, or ``[T, 3, H, W]`` when ``planar``."""
    h, w = arr[0].shape[:2]
    if dataset.frame_size is None:
        if not planar:
            return (arr if isinstance(arr, np.ndarray) else np.stack(arr)), boxes
        into = _Resizer((h, w), len(arr), planar)
    else:
        into = _Resizer(dataset.frame_size, len(arr), planar)
    for i, img in enumerate(arr):
        into(i, img)
    if dataset.frame_size is None:
        return into.out, boxes
    fh, fw = into.size
    return into.out, boxes * np.array([fw / w, fh / h, fw / w, fh / h], dtype=np.float32)
