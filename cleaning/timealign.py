"""Time alignment of two sample sequences that may play at different speeds.

A re-post can be cut (an offset), sped up or slowed down (a scale) and played backwards (a
negative scale, the "reverse" edit): sample ``j`` of one video shows sample ``i`` of the other
when ``j = speed * i + offset``. Matching frame pairs ``(i, j)`` vote for every speed of a
log-spaced grid (and its negation, with ``reverse``) and the offset it implies (a Hough
transform); the best-supported line wins, ties going to the speed nearest 1 (forward before
backward), and a line whose supporting pairs span enough of the clip is refined by least squares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimeMap:
    """``j = speed * i + offset`` in sample units; ``support`` matching pairs lie on it.

    A negative ``speed`` is a time-reversed copy (``offset`` is then where ``i = 0`` lands: the
    end of the mapped span of ``j``).
    """

    speed: float
    offset: float
    support: int

    def __call__(self, i: np.ndarray | float) -> np.ndarray:
        return self.speed * np.asarray(i, dtype=np.float64) + self.offset


def speed_grid(max_change: float, step: float = 0.02, *, reverse: bool = False) -> np.ndarray:
    """Speeds ``exp(k * step)`` within ``[1 / max_change, max_change]``, 1.0 included, nearest 1 first;
    with ``reverse``, followed by the same speeds negated (time-reversed, -1.0 first)."""
    n = int(np.floor(np.log(max(max_change, 1.0)) / step + 1e-9))
    k = np.arange(-n, n + 1)
    speeds = np.exp(k * step)[np.argsort(np.abs(k), kind="stable")]
    return np.r_[speeds, -speeds] if reverse else speeds


def fit_time_map(
    i: np.ndarray,
    j: np.ndarray,
    speeds: np.ndarray,
    *,
    tolerance: float = 1.0,
    min_span: int = 8,
    prefer_unit: float = 0.1,
) -> TimeMap | None:
    """The line ``j = speed * i + offset`` supported by most pairs (see the module docstring).

    ``speeds`` must start with 1.0 (:func:`speed_grid`). A pair supports a line within
    ``tolerance`` samples. Speed 1 is kept unless another speed (a negative one too) gains more
    than ``prefer_unit`` of the support; another speed is refined by least squares when its
    supporting pairs span ``min_span`` samples of ``i``, staying within the grid's speeds of its sign.
    """
    i = np.asarray(i, dtype=np.float64)
    j = np.asarray(j, dtype=np.float64)
    if len(i) == 0:
        return None
    resid = j[None, :] - speeds[:, None] * i[None, :]  # [S, n]
    bins = np.round(resid).astype(np.int64)
    lo = int(bins.min())
    width = int(bins.max()) - lo + 1
    counts = np.bincount(
        (np.arange(len(speeds))[:, None] * width + (bins - lo)).ravel(), minlength=len(speeds) * width
    )
    offsets = counts.reshape(len(speeds), width).argmax(axis=1) + lo
    support = (np.abs(resid - offsets[:, None]) <= tolerance).sum(axis=1)
    best = int(support.argmax())  # the first maximum: nearest 1
    if support[0] >= support[best] - max(1.0, prefer_unit * support[best]):
        best = 0
    s, o, n = float(speeds[best]), float(offsets[best]), int(support[best])
    inl = np.abs(resid[best] - o) <= tolerance
    if best != 0 and np.ptp(i[inl]) >= min_span:
        s_fit, o_fit = np.polyfit(i[inl], j[inl], 1)
        side = speeds[np.sign(speeds) == np.sign(s)]  # a fit never crosses from forward to backward
        if side.min() <= s_fit <= side.max():
            n_fit = int((np.abs(j - s_fit * i - o_fit) <= tolerance).sum())
            if n_fit >= n:
                s, o, n = float(s_fit), float(o_fit), n_fit
    return TimeMap(s, o, n)
