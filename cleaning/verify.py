"""Second-stage check of a candidate duplicate pair on pixels: register, then compare detail.

The hash stage proposes a hypothesis: a window of video A (maybe mirrored) shows what a view of
video B (maybe turned by quarter turns) shows, with B's time ``speed * t + offset``. Here up to ``verify_frames`` frame pairs
along that time map are decoded; A's window is registered onto B's view with an affine ECC
alignment (from the window's own mapping, on two of the frames), and both are compared as
high-passed grey images (brightness, contrast and colour grading drop out; edges and texture
stay) cell by cell, less a margin of ``verify_margin`` at the views' edges (where a bar's edge
bleeds in): the mean normalised correlation of the best ``verify_keep`` share of a
``verify_cells`` x ``verify_cells`` grid, so that a caption band or a watermark over a few cells
does not sink a true copy; cells flat in both views (a plain wall) are no evidence and left out. The score is the median over the frame pairs, the best over B's time
shifted by up to :data:`SHIFTS` frames.

A copy scores near 1; another clip of the same garment, wearer and room does not, because its
poses and camera differ from frame to frame although every single frame looks alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from cleaning.config import DedupConfig
from cleaning.views import Window, sample_view, window_matrix

#: side of the registered views (pixels)
VIEW_SIDE = 64
#: high-pass: a view minus its Gaussian blur of this sigma (pixels of the view)
HIGH_PASS_SIGMA = 2.0
#: B's frames are tried shifted by these many frames (a cut, a speed change or a zoom biasing the
#: hash alignment lands between sampled frames)
SHIFTS = (0, -1, 1, -2, 2)
#: a high-passed cell whose standard deviation is below this (grey levels) is flat: compression
#: noise on a plain wall stays under 1, any texture or edge is above 4
FLAT_LEVEL = 2.0

#: ``frames(key, frame_indices) -> grey frames [N, H, W]`` decoded at the fingerprint size
FrameLoader = Callable[[str, list[int]], np.ndarray]


@dataclass(frozen=True)
class Side:
    """What verification needs of one video: its key, frame rate, frame count, sample frames, box."""

    key: str
    fps: float
    frames: int
    times: np.ndarray  # frame index of each fingerprint sample
    box: tuple[float, float, float, float]  # content box, fractions of the frame


@dataclass(frozen=True)
class Hypothesis:
    """A's ``window`` (mirrored or not) shows B's ``target`` view turned ``turns`` quarter turns
    counter-clockwise; B sample = speed * A sample + offset."""

    window: Window
    target: Window
    mirror: bool
    speed: float
    offset: float  # B samples
    turns: int = 0  # quarter turns counter-clockwise of B's view (np.rot90)


def _high_pass(views: np.ndarray) -> np.ndarray:
    return np.stack([v - cv2.GaussianBlur(v, (0, 0), HIGH_PASS_SIGMA) for v in views])


def _cells(x: np.ndarray, cells: int) -> np.ndarray:
    """``[N, side, side]`` views as ``[N, cells*cells, pixels]`` cells (row by row)."""
    n, side = x.shape[0], x.shape[1] - x.shape[1] % cells
    c = side // cells
    return (
        x[:, :side, :side]
        .reshape(n, cells, c, cells, c)
        .transpose(0, 1, 3, 2, 4)
        .reshape(n, cells * cells, -1)
    )


def cell_scores(a: np.ndarray, b: np.ndarray, cells: int) -> np.ndarray:
    """Normalised correlation of every cell of a ``cells`` x ``cells`` grid: ``[N, cells*cells]``."""

    def norm(x: np.ndarray) -> np.ndarray:
        x = _cells(x, cells)
        x = x - x.mean(axis=2, keepdims=True)
        return x / (np.linalg.norm(x, axis=2, keepdims=True) + 1e-6)

    return (norm(a) * norm(b)).sum(axis=2)


def robust_score(a: np.ndarray, b: np.ndarray, cells: int, keep: float, flat: float = FLAT_LEVEL) -> float:
    """Median over frames of the mean of the best ``keep`` share of informative cell correlations.

    A cell flat in both views (standard deviation below ``flat``: a plain wall, a bar) carries
    no evidence either way and is left out; a frame without informative cells too. 0 when none is left.
    """
    scores = cell_scores(a, b, cells)
    informative = np.maximum(_cells(a, cells).std(axis=2), _cells(b, cells).std(axis=2)) >= flat
    per_frame = []
    for s, ok in zip(scores, informative, strict=True):
        if ok.any():
            s = np.sort(s[ok])[::-1]
            per_frame.append(float(s[: max(1, int(round(len(s) * keep)))].mean()))
    return float(np.median(per_frame)) if per_frame else 0.0


def _inner(views: np.ndarray, margin: float) -> np.ndarray:
    """``[N, side, side]`` views less ``margin`` of the side at each edge (``verify_margin``): a
    box's edge next to a bar carries the bar's colour and the seam's ringing, which the copy it is
    compared with does not have."""
    m = int(round(margin * views.shape[-1]))
    return views[:, m : views.shape[-2] - m, m : views.shape[-1] - m] if m else views


def _pixel_box(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> tuple[float, ...]:
    h, w = shape[-2], shape[-1]
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def _ecc(template: np.ndarray, frame: np.ndarray, init: np.ndarray) -> np.ndarray | None:
    try:
        _, warp = cv2.findTransformECC(
            cv2.GaussianBlur(template, (0, 0), 1.0),
            cv2.GaussianBlur(frame, (0, 0), 1.0),
            init.copy(),
            cv2.MOTION_AFFINE,
            (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4),
            None,
            1,
        )
    except cv2.error:  # did not converge: keep the window's own mapping
        return None
    return warp


def frame_pairs(a: Side, b: Side, hyp: Hypothesis, step_s: float, n: int) -> list[tuple[int, int]]:
    """Up to ``n`` (A frame, B frame) pairs evenly along the time map, B's frame shiftable by :data:`SHIFTS`."""
    fa = a.fps if a.fps > 0 else 30.0
    fb = b.fps if b.fps > 0 else 30.0
    margin = max(abs(x) for x in SHIFTS)
    out = []
    for t in a.times:
        tb = hyp.speed * (t / fa) + hyp.offset * step_s
        k = int(round(tb * fb))
        if margin <= k <= b.frames - 1 - margin:
            out.append((int(t), k))
    if len(out) <= n:
        return out
    return [out[int(q)] for q in np.round(np.linspace(0, len(out) - 1, n)).astype(int)]


def verify_pair(
    a: Side,
    b: Side,
    hyp: Hypothesis,
    frames: FrameLoader,
    cfg: DedupConfig,
    *,
    exhaustive: bool = False,
) -> float:
    """Score in [-1, 1] of the hypothesis on decoded frames (see the module docstring); 0 if too short.

    Stops at the first time shift scoring ``cfg.verify_threshold`` unless ``exhaustive``.
    """
    pairs = frame_pairs(a, b, hyp, cfg.step_s, cfg.verify_frames)
    if len(pairs) < 3:
        return 0.0
    fa = frames(a.key, [p[0] for p in pairs]).astype(np.float32)
    m_a0 = window_matrix(_pixel_box(a.box, fa.shape), hyp.window, VIEW_SIDE, mirror=hyp.mirror)
    best = -1.0
    for shift in SHIFTS:
        fb = frames(b.key, [p[1] + shift for p in pairs]).astype(np.float32)
        m_b = window_matrix(_pixel_box(b.box, fb.shape), hyp.target, VIEW_SIDE)
        tb = np.stack([sample_view(f, m_b, VIEW_SIDE) for f in fb])
        if hyp.turns % 4:
            tb = np.ascontiguousarray(np.rot90(tb, hyp.turns, axes=(1, 2)))
        warps = [m_a0]  # registered per shift: frames at the wrong time pull the registration off
        for q in (len(pairs) // 3, (2 * len(pairs)) // 3):
            w = _ecc(tb[q], fa[q], m_a0)
            if w is not None:
                warps.append(w)
        hb = _inner(_high_pass(tb), cfg.verify_margin)
        for w in warps:
            va = _inner(_high_pass(np.stack([sample_view(f, w, VIEW_SIDE) for f in fa])), cfg.verify_margin)
            best = max(best, robust_score(va, hb, cfg.verify_cells, cfg.verify_keep))
        if best >= cfg.verify_threshold and not exhaustive:
            break
    return best
