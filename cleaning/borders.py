"""Letterbox and pillarbox bars: where the picture sits inside a padded frame.

Re-posts are often padded to another aspect ratio (bars above and below, or left and right),
sometimes with a caption written on a bar. A bar is a band along an edge that is dark or bright,
static over the whole clip and mostly one colour (text may cover part of it). Its inner edge is
found from the frame borders inwards, on every sampled frame at once: a uniform wall at the top
of a shot is not a bar unless it is nearly black or white *and* never changes.
"""

from __future__ import annotations

import numpy as np

#: bar colours are grey levels at most DARK or at least BRIGHT (black, white and near-black bars)
DARK, BRIGHT = 40, 215


def _bar_width(lines: np.ndarray, tolerance: float, min_fraction: float, max_std: float) -> int:
    """Number of leading lines of ``lines`` [L, T, P] (line, frame, pixel) that belong to a bar."""
    colour = float(np.median(lines[0]))
    if DARK < colour < BRIGHT:
        return 0
    near = (np.abs(lines - colour) <= tolerance).mean(axis=(1, 2))
    still = lines.std(axis=1).mean(axis=1) <= max_std
    ok = (near >= min_fraction) & still
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else len(lines)


def content_box(
    grey: np.ndarray,
    *,
    tolerance: float = 10.0,
    min_fraction: float = 0.6,
    max_std: float = 3.0,
    max_trim: float = 0.4,
) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the picture inside bars, from grey frames ``[T, H, W]`` of one video.

    A line (row or column) from an edge inwards belongs to a bar while ``min_fraction`` of its
    pixels over all frames lie within ``tolerance`` grey levels of the outermost line's colour, its
    mean temporal standard deviation is at most ``max_std``, and that colour is dark or bright. At
    most ``max_trim`` of each dimension is cut per side. No bars: the whole frame.
    """
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    _, h, w = g.shape
    ny, nx = int(h * max_trim), int(w * max_trim)
    rows = g.transpose(1, 0, 2)  # [H, T, W]
    cols = g.transpose(2, 0, 1)  # [W, T, H]
    args = (tolerance, min_fraction, max_std)
    top = _bar_width(rows[:ny], *args) if ny else 0
    bottom = _bar_width(rows[::-1][:ny], *args) if ny else 0
    left = _bar_width(cols[:nx], *args) if nx else 0
    right = _bar_width(cols[::-1][:nx], *args) if nx else 0
    return left, top, w - right, h - bottom
