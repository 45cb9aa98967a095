"""Small video/image reading helpers: decord first, OpenCV as the fallback."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from schemas.errors import MediaError


def video_meta(path: str | os.PathLike[str]) -> tuple[int, float, int, int]:
    """(declared frame count, fps, width, height) of a video; raises :class:`MediaError`."""
    try:
        import decord

        vr = decord.VideoReader(str(path), num_threads=1)
        h, w = vr[0].shape[:2] if len(vr) else (0, 0)
        return len(vr), float(vr.get_avg_fps() or 0.0), int(w), int(h)
    except Exception:  # noqa: BLE001 - decord raises its own error types; fall back to OpenCV
        pass
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError("cannot open video", where=str(path), hint="the file is corrupt or not a video")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return (
            max(n, 0),
            float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def video_codec(path: str | os.PathLike[str]) -> str | None:
    """FourCC of the video stream as OpenCV reports it (e.g. 'h264'), or None."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
        text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ").lower()
        return text or None
    finally:
        cap.release()


def read_frames(
    path: str | os.PathLike[str], indices: Sequence[int], size: tuple[int, int] | None = None
) -> np.ndarray:
    """Frames at ``indices`` as uint8 RGB ``[N, H, W, 3]``; ``size`` = (width, height) resizes.

    Uses decord ``get_batch``; if decord cannot read the file, OpenCV reads sequentially.
    """
    idx = [int(i) for i in indices]
    if not idx:
        return np.zeros((0, 1, 1, 3), np.uint8)
    try:
        import decord

        kw = {"width": size[0], "height": size[1]} if size else {}
        vr = decord.VideoReader(str(path), num_threads=1, **kw)
        out = []
        for start in range(0, len(idx), 64):
            out.append(vr.get_batch(idx[start : start + 64]).asnumpy())
        return np.concatenate(out)
    except Exception:  # noqa: BLE001 - fall back to OpenCV
        pass
    return _read_frames_cv2(path, idx, size)


def _read_frames_cv2(
    path: str | os.PathLike[str], idx: list[int], size: tuple[int, int] | None
) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError("cannot open video", where=str(path), hint="the file is corrupt or not a video")
    wanted = sorted(set(idx))
    got: dict[int, np.ndarray] = {}
    t = 0
    try:
        while wanted and t <= wanted[-1]:
            ok, frame = cap.read()
            if not ok:
                break
            if t in idx:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                got[t] = frame
            t += 1
    finally:
        cap.release()
    missing = [i for i in idx if i not in got]
    if missing:
        raise MediaError(
            f"frames {missing[:5]} cannot be decoded", where=str(path), hint="the file is truncated"
        )
    return np.stack([got[i] for i in idx])


def count_decodable_frames(path: str | os.PathLike[str]) -> int:
    """Decode every frame with OpenCV and count them (slow but reliable for broken files)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.isOpened() and cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """An image as uint8 RGB ``[H, W, 3]``; raises :class:`MediaError` when it does not decode."""
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).exists() else None
    if data is None:
        raise MediaError("image file not found", where=str(path))
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise MediaError("image does not decode", where=str(path), hint="the file is corrupt or not an image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
