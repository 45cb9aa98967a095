"""Split-screen recovery: videos made of a still half (the shop picture) and a moving half.

Frames sampled across the whole video give a per-pixel temporal standard deviation (grey
levels). For both layouts (left/right, top/bottom) a half is *still* when almost all its pixels
(``min_still_fraction``) stay below ``pixel_still_std`` and its mean deviation is below
``still_threshold``, and the other half is *moving* when its mean deviation exceeds
``moving_threshold``. The recovered shop image is the per-pixel median of the still half over
the sampled frames (removes compression noise); it must show something (one colour channel
varies over it by at least ``min_still_detail``): a blank still half (a black bar, a white
card) over a moving one is a padded video, not a split-screen.

What happens downstream (documented choice): cleaning saves the still half as the item's
``shop`` asset (``ROOT/<source>/<id>/shop-recovered.png`` for the item's video ``video.mp4``,
``shop-recovered-<video stem>.png`` for another; only for items without a shop image, from their
first split-screen video) and records the moving half as :class:`schemas.items.Crop` on the
video asset; ``mf publish`` then re-encodes the video cropped to the moving half (H.264,
:func:`movingfashion.media.ffmpeg.transcode`), so readers of the official format only see the
street half.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cleaning.config import SplitScreenConfig
from movingfashion.media.readers import decode, default_cache


@dataclass(frozen=True)
class SplitScreenResult:
    layout: str  # 'left-right' | 'top-bottom'
    still_half: str  # 'left' | 'right' | 'top' | 'bottom'
    still_box: list[float]  # x1, y1, x2, y2 full-frame pixels
    moving_box: list[float]
    still_image: np.ndarray  # uint8 RGB
    still_std: float
    moving_std: float


def _halves(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    mx, my = width // 2, height // 2
    return {
        "left": (0, 0, mx, height),
        "right": (mx, 0, width, height),
        "top": (0, 0, width, my),
        "bottom": (0, my, width, height),
    }


def still_detail(image: np.ndarray) -> float:
    """How much an RGB picture shows: the spatial std of its most varied channel (grey levels; 0
    for a blank one, and a pale garment on a pale background still varies in colour)."""
    return float(image.reshape(-1, image.shape[-1]).astype(np.float32).std(axis=0).max())


def _grey(frame: np.ndarray) -> np.ndarray:
    """float32 grey ``[H, W]`` of one uint8 RGB frame (the mean of its channels)."""
    return frame.mean(axis=2, dtype=np.float32)


def temporal_std(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel std over time of the frames' grey levels, float32 ``[H, W]``.

    Accumulated frame by frame (two passes: mean, then squared deviations), the same float32
    sums in the same order as ``np.std(axis=0)`` of the stacked grey frames, without a float
    copy of the whole stack.
    """
    n = np.float32(len(frames))
    total = np.zeros(frames[0].shape[:2], np.float32)
    for f in frames:
        total += _grey(f)
    mean = total / n
    sq = np.zeros_like(total)
    for f in frames:
        d = _grey(f) - mean
        sq += d * d
    return np.sqrt(sq / n)


def detect_split_screen(
    frames: np.ndarray | Sequence[np.ndarray], cfg: SplitScreenConfig | None = None
) -> SplitScreenResult | None:
    """Detect a still half in uint8 RGB frames (``[N, H, W, 3]`` or a list of ``[H, W, 3]``);
    None when the video is not split."""
    cfg = cfg or SplitScreenConfig()
    if len(frames) < 2:
        return None
    std = temporal_std(frames)
    height, width = std.shape
    boxes = _halves(width, height)
    best: SplitScreenResult | None = None
    for layout, pair in (("left-right", ("left", "right")), ("top-bottom", ("top", "bottom"))):
        for still, moving in (pair, pair[::-1]):
            sx1, sy1, sx2, sy2 = boxes[still]
            mx1, my1, mx2, my2 = boxes[moving]
            s = std[sy1:sy2, sx1:sx2]
            m = std[my1:my2, mx1:mx2]
            if s.size == 0 or m.size == 0:
                continue
            still_frac = float((s < cfg.pixel_still_std).mean())
            s_mean, m_mean = float(s.mean()), float(m.mean())
            if (
                still_frac < cfg.min_still_fraction
                or s_mean > cfg.still_threshold
                or m_mean < cfg.moving_threshold
            ):
                continue
            if best is None or m_mean - s_mean > best.moving_std - best.still_std:
                half = np.stack([f[sy1:sy2, sx1:sx2] for f in frames])
                img = np.median(half, axis=0).astype(np.uint8)
                del half
                if still_detail(img) < cfg.min_still_detail:  # a blank bar or card
                    continue
                best = SplitScreenResult(
                    layout,
                    still,
                    [float(v) for v in boxes[still]],
                    [float(v) for v in boxes[moving]],
                    img,
                    s_mean,
                    m_mean,
                )
    return best


def detect_split_screen_file(
    path: str | os.PathLike[str], frames: int, cfg: SplitScreenConfig | None = None
) -> SplitScreenResult | None:
    """Sample ``cfg.sample_frames`` frames evenly over the video and run :func:`detect_split_screen`."""
    cfg = cfg or SplitScreenConfig()
    n = min(cfg.sample_frames, frames)
    if n < 2:
        return None
    idx = np.linspace(0, frames - 1, n).round().astype(int).tolist()
    cache = default_cache()
    # one array per frame: no stacked copy; the std is accumulated frame by frame
    pictures = decode(cache.get(path), idx, backend=cache.backend, access=cache.access, as_list=True)
    return detect_split_screen(pictures, cfg)
