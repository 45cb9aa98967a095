"""Read and write still images as uint8 RGB arrays (OpenCV codecs, errors naming the file)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from schemas.errors import MediaError


def read_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]``; ``size`` = ``(height, width)`` resizes (INTER_AREA).

    Raises :class:`MediaError` naming the file when it is missing or does not decode.
    """
    import cv2

    p = Path(path)
    if not p.is_file():
        raise MediaError("image file not found", where=str(p), hint="check the image path")
    data = np.fromfile(str(p), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise MediaError("image does not decode", where=str(p), hint="the file is corrupt or not an image")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size is not None:
        img = cv2.resize(img, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)
    return img


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header (nothing decoded: fast on large
    sets); :class:`MediaError` naming the file when it is missing or not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except FileNotFoundError:
        raise MediaError("image file not found", where=str(path), hint="check the image path") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError(f"not a readable image ({type(exc).__name__})", where=str(path)) from None


def encode_image(rgb: np.ndarray, suffix: str = ".png", quality: int = 92) -> bytes:
    """uint8 RGB ``[H, W, 3]`` encoded as ``suffix`` (``.jpg``: JPEG at ``quality``; ``.png``)."""
    import cv2

    suffix = suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in (".jpg", ".jpeg") else []
    try:
        ok, buf = cv2.imencode(suffix, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    except cv2.error:  # unknown suffix, wrong shape
        ok = False
    if not ok:
        raise MediaError(f"cannot encode a {rgb.shape} image as {suffix}")
    return buf.tobytes()


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 92) -> bytes:
    """Write uint8 RGB as JPEG or PNG (by suffix) atomically; returns the bytes written."""
    from schemas.atomic import atomic_write_bytes

    try:
        data = encode_image(rgb, Path(path).suffix or ".png", quality)
    except MediaError as exc:
        raise MediaError(exc.message, where=str(path)) from None
    atomic_write_bytes(path, data)
    return data
