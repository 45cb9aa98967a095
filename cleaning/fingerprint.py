"""Video fingerprints: perceptual hashes of frames sampled at a fixed time step."""

from __future__ import annotations

import os

import numpy as np

from cleaning.config import DedupConfig
from cleaning.phash import phash_batch
from movingfashion.media.readers import read_frames

#: frames are decoded at this width (aspect kept) before hashing; hashing needs only 32x32
DECODE_WIDTH = 128


def sample_times(frames: int, fps: float, step_s: float, max_frames: int) -> list[int]:
    """Frame indices at t = 0, step, 2*step, ... (at most ``max_frames``, all < ``frames``)."""
    if frames <= 0:
        return []
    fps = fps if fps > 0 else 30.0
    n = int((frames - 1) / fps / step_s) + 1
    idx = [min(frames - 1, round(k * step_s * fps)) for k in range(min(n, max_frames))]
    return sorted(set(idx))


def fingerprint_video(
    path: str | os.PathLike[str],
    frames: int,
    fps: float,
    width: int,
    height: int,
    cfg: DedupConfig | None = None,
) -> np.ndarray:
    """uint64 pHash sequence of a video, one per ``cfg.step_s`` seconds."""
    cfg = cfg or DedupConfig()
    idx = sample_times(frames, fps, cfg.step_s, cfg.max_frames)
    if not idx:
        return np.zeros(0, np.uint64)
    w = min(DECODE_WIDTH, width) if width else DECODE_WIDTH
    h = max(8, round(height * w / width)) if width else DECODE_WIDTH
    imgs = read_frames(path, idx, size=(h - h % 2, w - w % 2))
    return phash_batch(list(imgs), cfg.crop_fraction)
