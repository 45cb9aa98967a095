"""Content checks of downloaded media: images and videos must decode; file extensions."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import FetchError, MediaError
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
    """Decode an image; raise ``FetchError(reason="not_an_image")`` if it does not."""
    from movingfashion.media.probe import probe_image as media_probe_image

    try:
        info = media_probe_image(path)
    except MediaError:
        raise FetchError("file does not decode as an image", where=str(path), reason="not_an_image") from None
    return ImageProbe(width=info.width, height=info.height)


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Open a video, decode its first frame and read its size, frame count, fps and codec."""
    from movingfashion.media.probe import probe_video as media_probe_video

    try:
        info = media_probe_video(path)
    except MediaError:
        info = None
    if info is None or info.frames <= 0:
        raise FetchError("file does not decode as a video (no frame)", where=str(path), reason="not_a_video")
    return VideoProbe(
        frames=info.frames,
        fps=info.fps,
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        codec=info.codec,
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
