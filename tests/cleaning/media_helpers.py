"""Synthetic frames and H.264 files for cleaning tests (no world needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np


def write_mp4(
    path: Path, frames: np.ndarray, fps: float = 30.0, *, crf: int = 20, extra: list[str] | None = None
) -> Path:
    """Encode uint8 RGB frames [N,H,W,3] as H.264 with the ffmpeg of imageio-ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n, h, w, _ = frames.shape
    params = ["-crf", str(crf), "-g", "30", *(extra or [])]
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_out="yuv420p",
        output_params=params,
        macro_block_size=1,
        ffmpeg_log_level="error",
    )
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path


def scene(seed: int, n: int = 60, w: int = 160, h: int = 120) -> np.ndarray:
    """A textured background with a few moving coloured shapes; different seeds give different videos."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(
        rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC
    )
    shapes = [
        (
            rng.uniform(0, w),
            rng.uniform(0, h),
            rng.uniform(-3, 3),
            rng.uniform(-3, 3),
            int(rng.integers(8, 30)),
            tuple(int(c) for c in rng.integers(0, 255, 3)),
        )
        for _ in range(4)
    ]
    out = np.empty((n, h, w, 3), np.uint8)
    for t in range(n):
        img = np.roll(base, t, axis=1).copy()
        for x, y, dx, dy, r, col in shapes:
            cv2.circle(img, (int(x + dx * t) % w, int(y + dy * t) % h), r, col, -1)
        # a slow global change so the content differs along the whole clip
        img = cv2.add(img, np.full_like(img, int(40 * np.sin(t / 9.0 + seed)) + 40))
        out[t] = img
    return out


def still_image(seed: int, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(1000 + seed)
    img = np.full((h, w, 3), 235, np.uint8)
    col = tuple(int(c) for c in rng.integers(0, 200, 3))
    x1, y1 = int(rng.integers(0, w // 3)), int(rng.integers(0, h // 3))
    x2, y2 = int(rng.integers(2 * w // 3, w)), int(rng.integers(2 * h // 3, h))
    cv2.rectangle(img, (x1, y1), (x2, y2), col, -1)
    cx, cy = int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4))
    cv2.circle(img, (cx, cy), max(3, w // 8), (20, 20, 20), -1)
    return img


def split_screen(
    seed: int, layout: str = "left-right", still_first: bool = True, n: int = 60, w: int = 160, h: int = 120
) -> tuple[np.ndarray, np.ndarray]:
    """Frames with a still half (a shop picture) and a moving half; returns (frames, still half)."""
    if layout == "left-right":
        hw, hh = w // 2, h
    else:
        hw, hh = w, h // 2
    moving = scene(seed, n, hw, hh)
    still = still_image(seed, hw, hh)
    parts = (
        (np.broadcast_to(still, moving.shape), moving)
        if still_first
        else (moving, np.broadcast_to(still, moving.shape))
    )
    axis = 2 if layout == "left-right" else 1
    return np.concatenate(parts, axis=axis), still


def reencode(src: Path, dst: Path, vf: str) -> Path:
    """``src`` re-encoded to ``dst`` (H.264, CRF 30) through the ffmpeg video filter ``vf``."""
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(src), "-vf", vf]
        + ["-c:v", "libx264", "-crf", "30", "-threads", "1", str(dst)],
        check=True,
    )
    return dst
