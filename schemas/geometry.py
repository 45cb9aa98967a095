"""Boxes: absolute pixel ``[x1, y1, x2, y2]`` everywhere in the toolkit."""

from __future__ import annotations

import math
import numbers
from itertools import chain
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np

Number = int | float
_PLAIN_NUMBERS = (int, float)  # exact types: bool, a subclass of int, is not one of them
_PLAIN_TYPES = frozenset(_PLAIN_NUMBERS)


def _numbers_only(v: Any) -> Any:
    """Refuse a box value that is not a number: a JSON ``true`` or ``"2"`` would otherwise be
    read as 1 or 2 without a word (numpy numbers are numbers)."""
    if isinstance(v, list | tuple):
        for i, x in enumerate(v):
            if type(x) in _PLAIN_NUMBERS:  # fast path: what JSON gives (an ABC check costs ~2 us)
                continue
            if isinstance(x, bool) or not isinstance(x, numbers.Real):
                raise ValueError(f"box value {i} must be a number (int or float), got {x!r}")
    return v


def _finite(x: Number) -> bool:
    """Whether ``x`` is a finite float (an integer too large for one, like ``1e400`` written out in
    digits, is not: ``math.isfinite`` would raise OverflowError on it)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def finite_number(v: object) -> bool:
    """Whether ``v`` is a finite JSON number: an int or float (``true`` is not one), finite as a
    float (a 400-digit integer is not: no box or coordinate holds it)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and _finite(v)


def _all_finite(x1: Number, y1: Number, x2: Number, y2: Number) -> bool:
    """Whether all four are finite (:func:`_finite`, in one call: this runs for every box read)."""
    try:
        return math.isfinite(x1) and math.isfinite(y1) and math.isfinite(x2) and math.isfinite(y2)
    except OverflowError:
        return False


def _check_box(v: list[Number]) -> list[Number]:
    if len(v) != 4:
        raise ValueError(f"a box has 4 numbers [x1, y1, x2, y2], got {len(v)}")
    x1, y1, x2, y2 = v
    if not _all_finite(x1, y1, x2, y2):
        shown = str(v) if len(str(v)) <= 120 else str(v)[:117] + "..."
        raise ValueError(f"box numbers must be finite, got {shown}")
    if x2 < x1:
        raise ValueError(f"x2 ({x2}) < x1 ({x1}); boxes are [x1, y1, x2, y2] in pixels")
    if y2 < y1:
        raise ValueError(f"y2 ({y2}) < y1 ({y1}); boxes are [x1, y1, x2, y2] in pixels")
    return v


#: A validated box: 4 numbers (ints stay ints and floats stay floats so official files round-trip;
#: booleans and strings are refused).
Box = Annotated[list[Number], BeforeValidator(_numbers_only), AfterValidator(_check_box)]

#: Past this magnitude an int may not be exact as a float: :func:`plain_boxes_valid` leaves such
#: boxes to :data:`Box`, which compares them exactly.
EXACT_IN_FLOAT = 2.0**53


def plain_float_array(values: list[Any]) -> np.ndarray | None:
    """``values`` as a float64 array when each is a plain int or float (no bool, numpy number or
    string) below 2**53 in magnitude, so finite and exactly the same number as a float (a
    comparison gives what Python's gives); None otherwise: the caller's general path decides."""
    if not set(map(type, values)) <= _PLAIN_TYPES:
        return None
    import numpy as np

    try:
        out = np.array(values, dtype=np.float64)
    except OverflowError:  # an int too large for a float
        return None
    with np.errstate(invalid="ignore"):  # NaN compares False: refused here
        return out if bool((np.abs(out) < EXACT_IN_FLOAT).all()) else None


def plain_box_array(boxes: list[Any]) -> np.ndarray | None:
    """``boxes`` as an ``[N, 4]`` float64 array when each is a list of 4 values
    :func:`plain_float_array` takes; None otherwise, or when ``boxes`` is empty."""
    if set(map(type, boxes)) != {list} or set(map(len, boxes)) != {4}:
        return None
    xy = plain_float_array(list(chain.from_iterable(boxes)))
    return None if xy is None else xy.reshape(-1, 4)


def plain_boxes_valid(boxes: list[Any]) -> bool:
    """Whether every one of ``boxes`` surely passes :data:`Box` unchanged, checked in one numpy
    pass: each a list of 4 plain ints or floats (no bool, numpy number or string), finite, below
    2**53 in magnitude, with x1 <= x2 and y1 <= y2 (:func:`plain_box_array`).

    False decides nothing: validate the boxes one by one with :data:`Box`, which refuses the bad
    one with its own message (or accepts what this check leaves to it: a numpy number, 1e300).
    """
    return valid_box_array(boxes) is not None


def valid_box_array(boxes: list[Any]) -> np.ndarray | None:
    """``boxes`` as the ``[N, 4]`` float64 array :func:`plain_boxes_valid` checks (``[0, 4]`` when
    there is none) when every one surely passes :data:`Box` unchanged; None when that check
    cannot vouch for them."""
    if not boxes:
        import numpy as np

        return np.zeros((0, 4))
    xy = plain_box_array(boxes)
    ok = xy is not None and bool((xy[:, 0] <= xy[:, 2]).all() and (xy[:, 1] <= xy[:, 3]).all())
    return xy if ok else None


def box_iou(a: Sequence[Number], b: Sequence[Number]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes."""
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def tracklet_iou(
    candidate: Mapping[int, Sequence[Number]], reference: Mapping[int, Sequence[Number]]
) -> float:
    """A tracklet's average IoU with a reference tracklet (the paper's query selection): the mean
    over the frames either of them boxes, 0 where only one has a box, so a candidate that leaves
    the item or boxes frames the reference does not pays for it; 0 without a reference box.
    Frame keys are ints (:class:`schemas.dataset.Tracklet` boxes, or any frame -> box mapping)."""
    frames = set(candidate) | set(reference)
    if not reference or not frames:
        return 0.0
    total = sum(
        box_iou(candidate[f], reference[f]) if f in candidate and f in reference else 0.0 for f in frames
    )
    return float(total / len(frames))


def common_frame_iou(
    a: Mapping[int, Sequence[Number]], b: Mapping[int, Sequence[Number]]
) -> tuple[float | None, int]:
    """How well two tracklets of one video agree: the mean IoU of their boxes over the frames both
    box, and how many frames that is; ``(0.0, 0)`` when they share no frame, ``(None, 0)`` when
    either has no box. Unlike :func:`tracklet_iou`, a frame only one of them boxes costs nothing
    (a detector run every k-th frame against a tracklet boxing every frame)."""
    if not a or not b:
        return None, 0
    frames = sorted(set(a) & set(b))
    if not frames:
        return 0.0, 0
    return float(sum(box_iou(a[f], b[f]) for f in frames) / len(frames)), len(frames)


def box_areas(x: np.ndarray) -> np.ndarray:
    """Areas of ``[..., 4]`` boxes (0 for an empty or inverted box)."""
    import numpy as np

    return np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)


def box_intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of boxes ``a`` and ``b`` (``[..., 4]`` arrays, broadcast as in
    :func:`box_ious`)."""
    import numpy as np

    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    return w * h


def box_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` and ``b`` (``[..., 4]`` arrays, broadcast against each other), in their
    dtype: ``box_ious(x[:-1], x[1:])`` pairs neighbours, ``box_ious(a[:, None], b[None])`` is the
    ``[N, M]`` matrix. Empty boxes give 0."""
    import numpy as np

    inter = box_intersections(a, b)
    union = box_areas(a) + box_areas(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
