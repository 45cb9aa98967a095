"""Boxes: absolute pixel ``[x1, y1, x2, y2]`` everywhere in the toolkit."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator

Number = int | float


def _check_box(v: list[Number]) -> list[Number]:
    if len(v) != 4:
        raise ValueError(f"a box has 4 numbers [x1, y1, x2, y2], got {len(v)}")
    x1, y1, x2, y2 = v
    if not all(math.isfinite(x) for x in v):
        raise ValueError(f"box numbers must be finite, got {v}")
    if x2 < x1:
        raise ValueError(f"x2 ({x2}) < x1 ({x1}); boxes are [x1, y1, x2, y2] in pixels")
    if y2 < y1:
        raise ValueError(f"y2 ({y2}) < y1 ({y1}); boxes are [x1, y1, x2, y2] in pixels")
    return v


#: A validated box. Ints stay ints and floats stay floats so official files round-trip.
Box = Annotated[list[Number], AfterValidator(_check_box)]


def box_iou(a: list[Number], b: list[Number]) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes."""
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
