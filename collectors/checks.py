"""Content checks of downloaded media: images and videos must decode; file extensions."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import FetchError
from schemas.items import ImageProbe, VideoProbe

VIDEO_EXTS = {"mp4", "mov", "webm", "mkv", "m4v", "avi"}
IMAGE_EXTS = {"jpg", "jpeg", "png", "webp", "gif", "bmp"}
_TYPE_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
}


def probe_image(path: str | os.PathLike[str]) -> ImageProbe:
    """Decode an image with OpenCV; raise ``FetchError(reason="not_an_image")`` if it does not."""
    import cv2
    import numpy as np

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raise FetchError("file does not decode as an image", where=str(path), reason="not_an_image")
    return ImageProbe(width=int(img.shape[1]), height=int(img.shape[0]))


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Open a video with OpenCV, decode its first frame and read its size, frame count and fps."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    finally:
        cap.release()
    if not ok or frame is None or frames <= 0:
        raise FetchError("file does not decode as a video (no frame)", where=str(path), reason="not_a_video")
    codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or None
    return VideoProbe(
        frames=frames,
        fps=fps,
        width=int(frame.shape[1]),
        height=int(frame.shape[0]),
        duration_s=frames / fps if fps > 0 else 0.0,
        codec=codec,
    )


def probe_file(path: str | os.PathLike[str], expect: str) -> VideoProbe | ImageProbe:
    """Probe ``path`` as ``expect`` (``video`` or ``image``)."""
    if expect == "video":
        return probe_video(path)
    if expect == "image":
        return probe_image(path)
    raise ValueError(f"unknown media kind {expect!r}")


def ext_for(url: str, content_type: str | None, expect: str) -> str:
    """File extension from the URL's suffix, else the content type, else the kind's default."""
    known = VIDEO_EXTS if expect == "video" else IMAGE_EXTS
    suffix = Path(urlsplit(url).path).suffix.lower().lstrip(".")
    if suffix in known:
        return "jpg" if suffix == "jpeg" else suffix
    if content_type:
        ctype = content_type.split(";")[0].strip().lower()
        ext = _TYPE_EXT.get(ctype) or (mimetypes.guess_extension(ctype) or "").lstrip(".")
        if ext in known:
            return ext
    return "mp4" if expect == "video" else "jpg"
