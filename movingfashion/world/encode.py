"""H.264 encoding through imageio-ffmpeg's static ffmpeg (deterministic: one thread)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from schemas.errors import MediaError


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def encode_frames(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int],
    fps: float = 30.0,
    crf: int = 23,
    gop: int = 30,
) -> None:
    """Write RGB uint8 frames of ``size`` (w, h) as an H.264 mp4, atomically (temp name, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.part.mp4")
    w, h = size
    cmd = [
        ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        f"{fps:g}",
        "-i",
        "-",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(crf),
        "-g",
        str(gop),
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-x264-params",
        "threads=1",
        "-fflags",
        "+bitexact",
        "-flags",
        "+bitexact",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        str(tmp),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for f in frames:
            if f.shape[:2] != (h, w):
                raise MediaError(f"frame of shape {f.shape} does not match {w}x{h}", where=str(target))
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        tmp.unlink(missing_ok=True)
        raise
    if rc != 0:
        tmp.unlink(missing_ok=True)
        raise MediaError(
            f"ffmpeg failed ({rc}): {err.strip()[-300:]}",
            where=str(target),
            hint="check that imageio-ffmpeg is installed",
        )
    os.replace(tmp, target)


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 92) -> None:
    """Write a JPEG or PNG (by suffix) atomically."""
    from schemas.atomic import atomic_write_bytes

    suffix = Path(path).suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise MediaError("cannot encode image", where=str(path))
    atomic_write_bytes(path, buf.tobytes())


def read_frames(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode every frame of a video as RGB uint8 [T, H, W, 3] (OpenCV)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError("cannot open video", where=str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    if not out:
        raise MediaError("video has no frames", where=str(path))
    return np.stack(out)
