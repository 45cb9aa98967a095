"""Letterbox and pillarbox bars: where the picture sits inside a padded frame.

Re-posts are often padded to another aspect ratio (bars above and below, or left and right),
sometimes with a caption written on a bar. A bar is a band along an edge that is dark or bright,
static over the whole clip and mostly one colour (text may cover part of it). Its inner edge is
found from the frame borders inwards, on every sampled frame at once: a uniform wall at the top
of a shot is not a bar unless it is nearly black or white *and* never changes.

A bar is cut up to ``max_trim`` of a side; one side's bar may reach ``max_paired_trim`` when the
opposite side has a bar of the same colour too (a picture placed off centre between two bars, as a
portrait clip in a landscape frame often is: a 9:16 clip in a 16:9 frame leaves 68% of the width
to the bars).
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


def _bar_pair(
    lines: np.ndarray, args: tuple[float, float, float], max_trim: float, max_paired_trim: float
) -> tuple[int, int]:
    """Widths of the bars at both ends of ``lines`` [L, T, P]: each up to ``max_trim`` of ``L``, or
    up to ``max_paired_trim`` when the other end has a bar of about the same colour and the two
    leave at least 5% of ``L``."""
    n = len(lines)
    cap = max(int(n * max_trim), int(n * max_paired_trim))
    if cap <= 0:
        return 0, 0
    first = _bar_width(lines[:cap], *args)
    last = _bar_width(lines[::-1][:cap], *args)
    single = int(n * max_trim)
    paired = (
        first > 0
        and last > 0
        and abs(float(np.median(lines[0])) - float(np.median(lines[-1]))) <= args[0]
        and n - first - last >= max(1, int(n * 0.05))
    )
    if not paired:
        return min(first, single), min(last, single)
    return first, last


def content_box(
    grey: np.ndarray,
    *,
    tolerance: float = 10.0,
    min_fraction: float = 0.6,
    max_std: float = 3.0,
    max_trim: float = 0.4,
    max_paired_trim: float = 0.7,
) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the picture inside bars, from grey frames ``[T, H, W]`` of one video.

    A line (row or column) from an edge inwards belongs to a bar while ``min_fraction`` of its
    pixels over all frames lie within ``tolerance`` grey levels of the outermost line's colour, its
    mean temporal standard deviation is at most ``max_std``, and that colour is dark or bright. At
    most ``max_trim`` of each dimension is cut per side, ``max_paired_trim`` when the opposite
    side has a bar of the same colour too. No bars: the whole frame.
    """
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    _, h, w = g.shape
    args = (tolerance, min_fraction, max_std)
    paired = max(max_trim, max_paired_trim)
    top, bottom = _bar_pair(g.transpose(1, 0, 2), args, max_trim, paired)  # rows [H, T, W]
    left, right = _bar_pair(g.transpose(2, 0, 1), args, max_trim, paired)  # columns [W, T, H]
    return left, top, w - right, h - bottom
