"""Letterbox and pillarbox bars: where the picture sits inside a padded frame.

Re-posts are often padded to another aspect ratio (bars above and below, or left and right),
sometimes with a caption written on a bar. A bar is a band along an edge that is dark or bright,
static over the whole clip and mostly one colour (text may cover part of it). Its inner edge is
found from the frame borders inwards, on every sampled frame at once: a uniform wall at the top
of a shot is not a bar unless it is nearly black or white *and* never changes.

A bar is cut up to ``max_trim`` of a side; one side's bar may reach ``max_paired_trim`` when the
opposite side has a bar of the same colour too (a picture placed off centre between two bars, as a
portrait clip in a landscape frame often is: a 9:16 clip in a 16:9 frame leaves 68% of the width
to the bars). A bar with none opposite may reach ``max_lone_trim`` (a clip at the top of a tall
frame over one large, often captioned bar, a common TikTok re-post layout) only when it is flat and
meets the picture at a straight edge across the frame (:func:`_lone_bar_is_real`): a still wall
has texture or shading, and no such edge. A lone band over a quarter of the side is held to the
same tests below 0.4 too (a crop's still bright wall of 31% was cut as a bar).

A blurred fill (:func:`blurred_fill_box`) is the other way platforms pad a clip to another aspect:
the clip fitted into the frame over a copy of itself enlarged to cover the frame and blurred. Its
bands are neither one colour nor static, so they are found by what they are: low in detail on
both sides of the picture, and a blurred copy of the picture enlarged.
"""

from __future__ import annotations

import cv2
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


def _bar_through_text(lines: np.ndarray, args: tuple[float, float, float], width: int, max_gap: int) -> int:
    """``width`` (a bar's width by :func:`_bar_width`) carried on over runs of at most ``max_gap``
    still lines (a caption written across the bar) followed by more bar of the same colour."""
    colour = float(np.median(lines[0]))
    while 0 < width < len(lines):
        still = lines[width : width + max_gap + 1].std(axis=1).mean(axis=1) <= args[2]
        moving = np.flatnonzero(~still)
        gap = int(moving[0]) if moving.size else len(still)
        for k in range(1, gap + 1):
            rest = lines[width + k :]
            if len(rest) and abs(float(np.median(rest[0])) - colour) <= args[0]:
                more = _bar_width(rest, *args)
                if more > 0:
                    width += k + more
                    break
        else:
            return width
    return width


def _lone_bar_is_real(
    lines: np.ndarray, width: int, max_detail: float, min_seam: float, min_edge: float
) -> bool:
    """Whether the ``width`` leading lines of ``lines`` [L, T, P] are a real bar, not a still dark
    or bright wall: flat (the median over its lines and frames of the standard deviation along a
    line at most ``max_detail`` grey levels; a caption's lines are a minority) and
    meeting the picture at a straight edge across the frame (the largest mean step across a line
    within 3 lines of its end at least ``min_seam`` times the picture's median line step, and
    over 8 grey levels on at least ``min_edge`` of the pixels along it). A wall has texture and
    noise, and no edge straight across the whole frame."""
    n = len(lines)
    if width < 2 or n - width < 12:
        return False
    bar = lines[:width]
    detail = float(np.median(bar.std(axis=2)))
    if detail > max_detail:
        return False
    step = np.abs(lines[2:] - lines[:-2])  # step[p - 1]: across line p, [L - 2, T, P]
    inside = step[width + 4 : n - 3].mean(axis=(1, 2))
    if len(inside) < 3:
        return False
    level = max(float(np.median(inside)), 1e-3)
    near = step[max(0, width - 4) : width + 3]
    edge = near[int(np.argmax(near.mean(axis=(1, 2))))]  # [T, P]
    return float(edge.mean()) >= min_seam * level and float((np.median(edge, axis=0) > 8).mean()) >= min_edge


def _bar_pair(
    lines: np.ndarray,
    args: tuple[float, float, float],
    max_trim: float,
    max_paired_trim: float,
    lone: tuple[float, float, float, float, float] | None = None,
) -> tuple[int, int]:
    """Widths of the bars at both ends of ``lines`` [L, T, P]: each up to ``max_trim`` of ``L``, or
    up to ``max_paired_trim`` when the other end has a bar of about the same colour and the two
    leave at least 5% of ``L``. ``lone`` (max share, max detail, min seam, min edge, check from): a
    bar with none opposite may reach that share when :func:`_lone_bar_is_real` says it is one, and
    one over ``check from`` of ``L`` (up to ``max_trim``) is cut only then (otherwise not at all);
    a max share of at most ``max_trim``: neither (the old rule)."""
    n = len(lines)
    cap = max(int(n * max_trim), int(n * max_paired_trim), int(n * lone[0]) if lone else 0)
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
    if paired:
        return min(first, int(n * max(max_trim, max_paired_trim))), min(
            last, int(n * max(max_trim, max_paired_trim))
        )

    def one(width: int, ends: np.ndarray) -> int:
        if not lone or lone[0] <= max_trim:
            return min(width, single)
        wide = min(_bar_through_text(ends[:cap], args, width, max(2, n // 16)), int(n * lone[0]))
        if wide <= single:  # a still wall's band of a quarter to 0.4 of the side is no bar either
            if width > n * lone[4] and not _lone_bar_is_real(ends, width, *lone[1:4]):
                return 0
            return min(width, single)
        if not _lone_bar_is_real(ends, wide, *lone[1:4]):
            return min(width, single)
        return wide

    return one(first, lines), one(last, lines[::-1])


def content_box(
    grey: np.ndarray,
    *,
    tolerance: float = 10.0,
    min_fraction: float = 0.6,
    max_std: float = 3.0,
    max_trim: float = 0.4,
    max_paired_trim: float = 0.7,
    max_lone_trim: float = 0.7,
    lone_max_detail: float = 1.0,
    lone_min_seam: float = 4.0,
    lone_min_edge: float = 0.7,
    lone_check_from: float = 0.25,
) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the picture inside bars, from grey frames ``[T, H, W]`` of one video.

    A line (row or column) from an edge inwards belongs to a bar while ``min_fraction`` of its
    pixels over all frames lie within ``tolerance`` grey levels of the outermost line's colour, its
    mean temporal standard deviation is at most ``max_std``, and that colour is dark or bright. At
    most ``max_trim`` of each dimension is cut per side, ``max_paired_trim`` when the opposite
    side has a bar of the same colour too. A bar with none opposite may reach ``max_lone_trim``
    (a clip at the top of a tall frame over a large caption bar) when it is flat to at most
    ``lone_max_detail`` grey levels and meets the picture at a straight edge across the frame
    (``lone_min_seam``, ``lone_min_edge``: :func:`_lone_bar_is_real`), which a still wall does
    not; a lone band over ``lone_check_from`` of the side (up to ``max_trim``) is cut only when it
    passes the same tests. ``max_lone_trim`` at most ``max_trim``: the old rule. No bars: the whole
    frame.
    """
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    _, h, w = g.shape
    args = (tolerance, min_fraction, max_std)
    paired = max(max_trim, max_paired_trim)
    lone = (max_lone_trim, lone_max_detail, lone_min_seam, lone_min_edge, lone_check_from)
    top, bottom = _bar_pair(g.transpose(1, 0, 2), args, max_trim, paired, lone)  # rows [H, T, W]
    left, right = _bar_pair(g.transpose(2, 0, 1), args, max_trim, paired, lone)  # columns [W, T, H]
    return left, top, w - right, h - bottom


#: a blurred fill is looked for on at most this many frames of a clip (evenly spread)
FILL_FRAMES = 16
#: sigma (pixels at the fingerprint's decode size) of the blur both the fill and the picture's
#: enlarged copy get before they are compared (the fill's own blur is not known)
FILL_COMPARE_SIGMA = 3.0


def _detail(g: np.ndarray) -> np.ndarray:
    """Mean over frames of each pixel's detail: |frame - its Gaussian blur of sigma 1|, [H, W]."""
    return np.mean([np.abs(f - cv2.GaussianBlur(f, (0, 0), 1.0)) for f in g], axis=0)


def _fill_bands(profile: np.ndarray, max_detail: float, min_band: float, min_kept: float) -> tuple[int, int]:
    """Widths of the low-detail bands at both ends of a detail profile (0, 0: not a fill)."""
    n = len(profile)
    level = float(np.percentile(profile, 90))
    if level <= 0:
        return 0, 0
    low = profile < max_detail * level
    first = int(np.argmin(low)) if not low.all() else n
    last = int(np.argmin(low[::-1])) if not low.all() else n
    if min(first, last) < max(2, int(n * min_band)) or n - first - last < n * min_kept:
        return 0, 0
    return first, last


def _seams(lines: np.ndarray, first: int, last: int) -> tuple[float, int, int]:
    """The inner edges of bands ``first`` and ``last`` lines wide at the ends of ``lines`` [L, T, P]
    (line, frame, pixel): (how sharp the weaker one is, the bands' widths up to their edges).

    Across each line the mean difference of the lines on either side is taken; near each band's
    end (4 lines out, 6 in) the largest is its edge, its sharpness that over the median inside
    the picture. A fill pasted against its picture leaves one straight edge on every frame (2.6-14
    on worlds); a scene's smooth wall or defocused background does not (at most 1.4 on the demo
    world; 2.4 and more only where the bands do not look like the picture enlarged)."""
    n = len(lines)
    step = np.abs(lines[2:] - lines[:-2]).mean(axis=(1, 2))  # step[p - 1]: across line p
    inside = step[first + 6 : n - last - 7]
    if len(inside) < 3:
        return 0.0, first, last
    level = max(float(np.median(inside)), 1e-3)
    lo = max(1, first - 4)
    near = step[lo - 1 : first + 6]
    hi = min(n - 2, n - last + 4)
    far = step[n - last - 7 : hi]
    if not len(near) or not len(far):
        return 0.0, first, last
    a = lo + int(np.argmax(near))  # the line across which the first band meets the picture
    b = n - last - 6 + int(np.argmax(far))
    return min(float(near.max()), float(far.max())) / level, a + 1, n - b


def _blur_outside(f: np.ndarray, outside: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``f`` blurred (sigma :data:`FILL_COMPARE_SIGMA`) from its ``outside`` pixels alone
    (``weight``: the blurred mask). A plain blur of the frame spreads the picture across its seam
    into the fill: a fill darkened to 0.6 over a flat wall was then mostly that spill (its
    correlation with the copy 0.34; 0.95 without it)."""
    return cv2.GaussianBlur(
        np.where(outside, f, 0).astype(np.float32), (0, 0), FILL_COMPARE_SIGMA
    ) / np.maximum(weight, 1e-6)


def _copy_score(g: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
    """Correlation of the frames outside ``(x0, y0, x1, y1)`` with the picture inside it enlarged
    to cover the frame (centred) and blurred, as a blurred fill is made; both blurred alike, over
    the outside pixels only (:func:`_blur_outside`). The lower of two: over all pixels and frames,
    and of their changes over time (each pixel's mean over the frames taken off): a fill moves
    with its picture, a smooth wall's shading does not."""
    _, h, w = g.shape
    cw, ch = x1 - x0, y1 - y0
    cover = max(w / cw, h / ch)
    bw, bh = int(np.ceil(cw * cover)), int(np.ceil(ch * cover))
    bx, by = (bw - w) // 2, (bh - h) // 2
    outside = np.ones((h, w), bool)
    outside[y0:y1, x0:x1] = False
    weight = cv2.GaussianBlur(outside.astype(np.float32), (0, 0), FILL_COMPARE_SIGMA)
    got, want = [], []
    for f in g:
        big = cv2.resize(f[y0:y1, x0:x1], (bw, bh), interpolation=cv2.INTER_LINEAR)[by : by + h, bx : bx + w]
        want.append(_blur_outside(big, outside, weight)[outside])
        got.append(_blur_outside(f, outside, weight)[outside])
    a, b = np.stack(got), np.stack(want)
    scores = []
    for x, y in ((a - a.mean(), b - b.mean()), (a - a.mean(axis=0), b - b.mean(axis=0))):
        den = float(np.sqrt((x * x).sum() * (y * y).sum()))
        scores.append(float((x * y).sum() / den) if den > 0 else 0.0)
    return min(scores)


def blurred_fill_box(
    grey: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    max_detail: float = 0.3,
    min_seam: float = 2.0,
    min_copy: float = 0.6,
    min_band: float = 0.04,
    min_kept: float = 0.25,
) -> tuple[int, int, int, int]:
    """``box`` narrowed to the picture inside a blurred fill, from grey frames ``[T, H, W]``.

    Along each axis of ``box``, the lines from both ends inwards whose detail (averaged over
    :data:`FILL_FRAMES` frames) stays below ``max_detail`` of the box's 90th percentile are a band;
    both ends need a band of at least ``min_band`` of the side, and ``min_kept`` of it must stay.
    The bands are a fill only when both meet the picture at a straight edge at least ``min_seam``
    times as sharp as the picture's typical line-to-line change (:func:`_seams`) and
    correlate by at least ``min_copy`` with the picture between them enlarged to cover the box
    and blurred (a defocused background beside a sharp subject does neither). No fill: ``box``
    unchanged.
    """
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim == 2:
        g = g[None]
    if len(g) > FILL_FRAMES:
        g = g[np.round(np.linspace(0, len(g) - 1, FILL_FRAMES)).astype(int)]
    x0, y0, x1, y1 = box
    g = np.ascontiguousarray(g[:, y0:y1, x0:x1])
    if min(g.shape[1:]) < 16:
        return box
    detail = _detail(g)
    h, w = detail.shape
    best: tuple[float, tuple[int, int, int, int]] | None = None
    left, right = _fill_bands(detail.mean(axis=0), max_detail, min_band, min_kept)
    if left:
        sharp, left, right = _seams(g.transpose(2, 0, 1), left, right)
        if sharp >= min_seam and w - left - right >= w * min_kept:
            inner = (left, 0, w - right, h)
            best = (_copy_score(g, *inner), inner)
    top, bottom = _fill_bands(detail.mean(axis=1), max_detail, min_band, min_kept)
    if top:
        sharp, top, bottom = _seams(g.transpose(1, 0, 2), top, bottom)
        if sharp >= min_seam and h - top - bottom >= h * min_kept:
            inner = (0, top, w, h - bottom)
            score = _copy_score(g, *inner)
            if best is None or score > best[0]:
                best = (score, inner)
    if best is None or best[0] < min_copy:
        return box
    a, b, c, d = best[1]
    return x0 + a, y0 + b, x0 + c, y0 + d
