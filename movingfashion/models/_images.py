"""Read an image file as RGB ``uint8`` (private: replaced by ``movingfashion.media.images.read_image``
once the media package has its image reader)."""

from __future__ import annotations

import os

import numpy as np

from schemas.errors import MediaError


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """``uint8 [H,W,3]`` RGB of an image file, or :class:`MediaError` naming the file."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError("cannot read image", where=str(path), hint="the file is missing or not an image")
    return np.ascontiguousarray(img[..., ::-1])
