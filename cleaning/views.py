"""Views of a frame: windows of its content box, hashed or resampled for comparison.

A :class:`Window` is a rectangle in content-box units (centre and size as fractions of the box's
width and height). The whole box is :data:`FULL`; :func:`window_grid` adds centred and slightly
shifted windows at smaller scales, so that a copy that was cropped or zoomed matches one window
of its source's frames; :func:`fill_windows` are the windows a crop to fill a frame of another
aspect keeps (per video: they depend on its box's aspect); :func:`part_windows` are the top and
bottom parts (a caption band over one end leaves the other part intact).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from cleaning.phash import HASH_SIDE, dct_hash, normalise


class Window(NamedTuple):
    """A rectangle of the content box: centre (cx, cy) and size (w, h), all fractions of the box."""

    cx: float
    cy: float
    w: float
    h: float


FULL = Window(0.5, 0.5, 1.0, 1.0)


def window_grid(scales: list[float] | tuple[float, ...], shift: float) -> list[Window]:
    """:data:`FULL` plus, per scale, a 3x3 grid of windows shifted by ``shift`` (within the box)."""
    out = [FULL]
    for s in scales:
        d = min(shift, (1 - s) / 2)
        for dy in (-d, 0.0, d):
            for dx in (-d, 0.0, d):
                out.append(Window(0.5 + dx, 0.5 + dy, s, s))
    return out


#: a crop-to-fill window keeps between these shares of the box's cut side (a crop keeping more is
#: one of the window grid's; one keeping less shows too little of the clip to tell)
FILL_KEPT = (0.3, 0.9)


def fill_windows(
    aspect: float, aspects: list[float] | tuple[float, ...], step: float, span: float
) -> list[Window]:
    """Windows of a content box of pixel aspect ``aspect`` (width / height) that a crop to fill a
    frame of each of ``aspects`` keeps: the largest window of that aspect (the whole height of a
    narrower frame, the whole width of a wider one), at the centre and every ``step`` of the
    window's cut side (evenly spaced) to either side, up to ``span`` of the slack (the part of the side it cuts)
    off centre; aspects whose window keeps other than :data:`FILL_KEPT` of the side are left out."""
    out: list[Window] = []
    if aspect <= 0:
        return out
    for r in aspects:
        kept = min(r / aspect, aspect / r)
        if not FILL_KEPT[0] <= kept <= FILL_KEPT[1]:
            continue
        reach = span * (1 - kept)
        n = int(np.ceil(reach / (step * kept) - 1e-9)) if step > 0 and reach > 0 else 0
        for dp in np.linspace(-reach, reach, 2 * n + 1) if n else (0.0,):  # evenly, at most step apart
            dp = float(dp)
            out.append(Window(0.5 + dp, 0.5, kept, 1.0) if r < aspect else Window(0.5, 0.5 + dp, 1.0, kept))
    return out


def part_windows(fraction: float) -> list[Window]:
    """The top and the bottom ``fraction`` of the box (full width)."""
    return [Window(0.5, fraction / 2, 1.0, fraction), Window(0.5, 1 - fraction / 2, 1.0, fraction)]


def window_pixels(box: tuple[int, int, int, int], win: Window) -> tuple[int, int, int, int]:
    """Integer pixel bounds ``(x0, y0, x1, y1)`` of a window of a pixel box (at least 1 px)."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    xa = int(round(x0 + bw * (win.cx - win.w / 2)))
    ya = int(round(y0 + bh * (win.cy - win.h / 2)))
    xb = int(round(x0 + bw * (win.cx + win.w / 2)))
    yb = int(round(y0 + bh * (win.cy + win.h / 2)))
    xa, ya = min(max(xa, x0), x1 - 1), min(max(ya, y0), y1 - 1)
    return xa, ya, max(xb, xa + 1), max(yb, ya + 1)


def integral(grey: np.ndarray) -> np.ndarray:
    """Summed-area tables ``[T, H+1, W+1]`` (int64) of grey frames ``[T, H, W]``."""
    g = np.asarray(grey)
    s = np.zeros((g.shape[0], g.shape[1] + 1, g.shape[2] + 1), np.int64)
    s[:, 1:, 1:] = g.astype(np.int64).cumsum(axis=1).cumsum(axis=2)
    return s


def _cell_means(sat: np.ndarray, bounds: tuple[int, int, int, int], side: int) -> np.ndarray:
    xa, ya, xb, yb = bounds
    xs = np.round(np.linspace(xa, xb, side + 1)).astype(np.int64)
    ys = np.round(np.linspace(ya, yb, side + 1)).astype(np.int64)
    y0, y1 = ys[:-1, None], ys[1:, None]
    x0, x1 = xs[None, :-1], xs[None, 1:]
    sums = sat[:, y1, x1] - sat[:, y0, x1] - sat[:, y1, x0] + sat[:, y0, x0]
    return (sums / ((y1 - y0) * (x1 - x0))).astype(np.float32)


def window_cells(
    grey: np.ndarray, box: tuple[int, int, int, int], win: Window, *, sat: np.ndarray | None = None
) -> np.ndarray:
    """float32 ``[T, 32, 32]``: a window of grey frames ``[T, H, W]`` averaged down to 32x32 cells
    (``sat``: the frames' :func:`integral`); a window narrower than 32 pixels is resized up instead."""
    xa, ya, xb, yb = bounds = window_pixels(box, win)
    if xb - xa >= HASH_SIDE and yb - ya >= HASH_SIDE:
        return _cell_means(integral(grey) if sat is None else sat, bounds, HASH_SIDE)
    return np.stack(
        [cv2.resize(f[ya:yb, xa:xb], (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_LINEAR) for f in grey]
    ).astype(np.float32)


def hash_windows(
    grey: np.ndarray,
    box: tuple[int, int, int, int],
    windows: list[Window],
    *,
    mirror: bool = False,
    sat: np.ndarray | None = None,
) -> np.ndarray:
    """uint64 hashes ``[T, K]`` of ``windows`` of grey frames ``[T, H, W]`` (mirrored left-right if asked).

    Each window is averaged down to 32x32 cells (``sat``: the frames' :func:`integral`, computed
    if not given); a window narrower than 32 pixels is resized up instead.
    """
    t = len(grey)
    out = np.zeros((t, len(windows)), np.uint64)
    if t == 0:
        return out
    sat = integral(grey) if sat is None else sat
    for k, win in enumerate(windows):
        small = window_cells(grey, box, win, sat=sat)
        if mirror:
            small = small[:, :, ::-1]
        out[:, k] = dct_hash(normalise(np.ascontiguousarray(small)))
    return out


def window_matrix(
    box: tuple[float, float, float, float], win: Window, side: int, *, mirror: bool = False
) -> np.ndarray:
    """2x3 affine map from ``side`` x ``side`` view pixels to frame pixels (mirrored: x reversed).

    Pixel centres map onto pixel centres: view pixel ``u`` covers ``[u, u + 1)`` of the view, the
    window covers ``[left, left + width)`` of the frame (and a mirrored view reads it right to left).
    """
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    sx, sy = bw * win.w / side, bh * win.h / side
    left, top = x0 + bw * (win.cx - win.w / 2), y0 + bh * (win.cy - win.h / 2)
    ty = top + 0.5 * sy - 0.5
    if mirror:
        right = left + bw * win.w
        return np.array([[-sx, 0, right - 0.5 * sx - 0.5], [0, sy, ty]], np.float32)
    return np.array([[sx, 0, left + 0.5 * sx - 0.5], [0, sy, ty]], np.float32)


def sample_view(frame: np.ndarray, matrix: np.ndarray, side: int) -> np.ndarray:
    """The ``side`` x ``side`` float32 view of a grey frame through ``matrix`` (view -> frame pixels)."""
    return cv2.warpAffine(
        frame,
        matrix,
        (side, side),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    ).astype(np.float32)
